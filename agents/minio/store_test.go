package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/minio/miniotest"
	"github.com/agentvdc/agentvdc/agents/storetest"
)

// TestConformance runs the shared object store suite against a real MinIO
// server, once with a bucket per customer and once with a shared bucket.
func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	var n atomic.Int64
	for _, mode := range []string{"bucket-per-customer", "shared-bucket"} {
		t.Run(mode, func(t *testing.T) {
			storetest.TestObjectStore(t, func(t *testing.T) agents.ObjectStore {
				// A fresh, empty store: new bucket names on the same server.
				cfg := Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
					BucketPrefix: fmt.Sprintf("t%d-", n.Add(1))}
				if mode == "shared-bucket" {
					cfg.SharedBucket = fmt.Sprintf("shared-%d", n.Add(1))
				}
				s, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestLargeUnknownSizeSpoolsToDisk(t *testing.T) {
	srv := miniotest.Start(t)
	s, err := New(Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MemSpool: 1 << 10, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := make([]byte, 300<<10)
	rand.Read(body)
	info, err := s.Put(ctx, "acme-corp", "big.bin", io.MultiReader(bytes.NewReader(body)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(body)) {
		t.Fatalf("size %d, want %d", info.Size, len(body))
	}
	small, err := s.Put(ctx, "acme-corp", "same.bin", bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if small.ETag != info.ETag {
		t.Fatalf("spooled and sized uploads of the same bytes differ: %s vs %s", info.ETag, small.ETag)
	}
	rc, _, err := s.Get(ctx, "acme-corp", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, body) {
		t.Fatal("spooled upload corrupted")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Endpoint: "127.0.0.1:9000"}, true},
		{"no endpoint", Config{}, false},
		{"upper prefix", Config{Endpoint: "x:1", BucketPrefix: "VDC-"}, false},
		{"dot prefix", Config{Endpoint: "x:1", BucketPrefix: "a.b-"}, false},
		{"long prefix", Config{Endpoint: "x:1", BucketPrefix: strings.Repeat("a", 31)}, false},
		{"bad shared", Config{Endpoint: "x:1", SharedBucket: "ab"}, false},
		{"good shared", Config{Endpoint: "x:1", SharedBucket: "agentvdc-dumps"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestErrorsDoNotLeakSecret(t *testing.T) {
	srv := miniotest.Start(t)
	s, err := New(Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: "wrong-" + srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = s.Put(ctx, "acme-corp", "k", strings.NewReader("x"), 1)
	if err == nil {
		t.Fatal("wrong secret accepted")
	}
	if strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

func BenchmarkPutList(b *testing.B) {
	srv := miniotest.Start(b)
	s, err := New(Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<10/16) // 4 KiB
	b.Run("Put4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for i := 0; i < b.N; i++ {
			if _, err := s.Put(ctx, "bench-put", fmt.Sprintf("obj/%08d", i), bytes.NewReader(body), int64(len(body))); err != nil {
				b.Fatal(err)
			}
		}
	})
	const objects = 2000
	for i := 0; i < objects; i++ {
		if _, err := s.Put(ctx, "bench-list", fmt.Sprintf("obj/%08d", i), bytes.NewReader(body[:64]), 64); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("List2000Objects", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			after, total := "", 0
			for {
				p, err := s.List(ctx, "bench-list", agents.ListOptions{StartAfter: after, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				total += len(p.Objects)
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			if total != objects {
				b.Fatalf("listed %d", total)
			}
		}
		b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
	})
}
