package miniotest

import (
	"net"
	"net/http"
	"testing"
)

func TestStartServesAndStops(t *testing.T) {
	var endpoint string
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		endpoint = s.Endpoint
		host, _, err := net.SplitHostPort(s.Endpoint)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("endpoint %q must be on 127.0.0.1", s.Endpoint)
		}
		resp, err := http.Get("http://" + s.Endpoint + "/minio/health/live")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("live = %d", resp.StatusCode)
		}
		if len(s.SecretKey) < 16 || s.AccessKey == "" {
			t.Fatal("credentials not random")
		}
	})
	if endpoint == "" {
		return
	}
	// After the subtest's cleanup the server is gone.
	if c, err := net.Dial("tcp", endpoint); err == nil {
		c.Close()
		t.Fatalf("MinIO still listening on %s after cleanup", endpoint)
	}
}
