package tunnel_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/agentvdc/agentvdc/agents/minio/miniotest"
	"github.com/agentvdc/agentvdc/reconciler/daemon/tunnel"
)

// TestMinIOThroughTunnel: the real MinIO client talks to a real MinIO
// server standing behind the data VM's B.3:9000, through the control
// plane's tunnel and the hub, as the agents' stores will.
func TestMinIOThroughTunnel(t *testing.T) {
	srv := miniotest.Start(t)
	m := startMesh(t, "10.64.7.0/24", srv.Endpoint)
	p := tunnel.NewPool(resolver(map[string]tunnel.Config{"acme": m.cfg}), tunnel.Options{Listen: loopback, LoopbackOnly: true})
	defer p.Close()
	tr := &http.Transport{DialContext: p.Dialer("acme")}
	defer tr.CloseIdleConnections()
	mc, err := minio.New(m.dataServed.String(), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := mc.MakeBucket(ctx, "acme-docs", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := payload(1 << 20)
	if _, err := mc.PutObject(ctx, "acme-docs", "report.bin", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, "acme-docs", "report.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("object read back through the tunnel differs: %d bytes, want %d", len(got), len(body))
	}
	if s := p.Stats(); s.Opens != 1 || s.DialFailures != 0 {
		t.Fatalf("stats = %+v", s)
	}
}
