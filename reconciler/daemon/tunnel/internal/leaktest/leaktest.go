// Package leaktest is the tunnel packages' TestMain: it fails a passing
// run that leaves goroutines behind (go.uber.org/goleak).
package leaktest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// settle is how long a closed device's goroutines get to be scheduled
// and exit: goleak alone waits about a second, which a loaded 2-core
// machine running -race can exceed without anything leaking.
const settle = 10 * time.Second

// Main runs the tests, then checks for leaked goroutines.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(settle)
		err := goleak.Find()
		for err != nil && time.Now().Before(deadline) {
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked (still running %s after the tests): %v\n", settle, err)
			code = 1
		}
	}
	os.Exit(code)
}
