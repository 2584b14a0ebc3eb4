package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentvdc/agentvdc/reconciler/api"
	"github.com/agentvdc/agentvdc/reconciler/api/apitest"
	"github.com/agentvdc/agentvdc/reconciler/daemon"
)

// BenchmarkPages1000 measures the status page and the JSON list with 1,000
// customers (the scale one daemon serves), over loopback HTTP.
func BenchmarkPages1000(b *testing.B) {
	sample := apitest.Sample(time.Now())
	cs := make([]daemon.CustomerView, 0, 1000)
	for i := range 1000 {
		c := sample[i%len(sample)]
		c.Name = fmt.Sprintf("customer-%04d", i)
		c.Status.Name = c.Name
		cs = append(cs, c)
	}
	s, err := api.New(api.Config{Service: apitest.New(cs...), Token: testToken})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, path := range []string{"/", "/api/v1/customers", "/customers/customer-0000"} {
		b.Run(path, func(b *testing.B) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			var n int64
			for b.Loop() {
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(n)/1024, "KiB/op")
		})
	}
}
