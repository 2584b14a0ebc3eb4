// Package miniotest starts a real MinIO server for tests: the binary built
// by `make prereqs` (bin/minio, or $VDC_MINIO_BIN), on 127.0.0.1 at a free
// port, with a temporary data directory and random root credentials. The
// server is stopped and its data removed when the test ends.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the environment variable holding the MinIO binary path.
// The Makefile exports it as bin/minio.
const EnvBinary = "VDC_MINIO_BIN"

// Server is a running MinIO server.
type Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	DataDir   string
}

// Binary returns the MinIO binary path: $VDC_MINIO_BIN, else bin/minio in
// the module root above the working directory. ok is false when the file
// does not exist.
func Binary() (path string, ok bool) {
	if p := os.Getenv(EnvBinary); p != "" {
		_, err := os.Stat(p)
		return p, err == nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "bin/minio", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "minio")
			_, err := os.Stat(p)
			return p, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "bin/minio", false
		}
		dir = parent
	}
}

// Require returns the binary path. Without the binary the test fails with
// a message to run `make prereqs`; under -short it is skipped instead.
func Require(tb testing.TB) string {
	tb.Helper()
	p, ok := Binary()
	if !ok {
		msg := fmt.Sprintf("MinIO server binary not found at %s: run `make prereqs` (it builds bin/minio with go install; see the Makefile) or set %s", p, EnvBinary)
		if testing.Short() {
			tb.Skip(msg)
		}
		tb.Fatal(msg)
	}
	return p
}

// Start starts a MinIO server and registers its shutdown with tb.Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Require(tb)
	var lastErr error
	// A free port found by listening and closing can be taken by someone
	// else before MinIO binds it; retry a few times.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(tb, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("miniotest: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func start(tb testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := tb.TempDir()
	s := &Server{
		Endpoint:  fmt.Sprintf("127.0.0.1:%d", port),
		AccessKey: "vdc" + randomHex(6),
		SecretKey: randomHex(16),
		DataDir:   filepath.Join(dir, "data"),
	}
	logPath := filepath.Join(dir, "minio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "--quiet",
		"--address", s.Endpoint,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console),
		s.DataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
		"HOME="+dir, // MinIO writes ~/.minio; keep it inside the temp dir
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	}
	if err := waitReady(s.Endpoint, exited, 60*time.Second); err != nil {
		stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("MinIO on %s not ready: %w\n%s", s.Endpoint, err, tail(string(log), 2000))
	}
	tb.Cleanup(stop)
	return s, nil
}

func waitReady(endpoint string, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url := "http://" + endpoint + "/minio/health/ready"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("server exited: %v", err)
		case <-ctx.Done():
			return errors.New("timed out waiting for /minio/health/ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
