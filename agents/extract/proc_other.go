//go:build !linux

package extract

import (
	"syscall"
	"time"
)

// Outside Linux the sandbox keeps its wall-clock limit only: there is no
// /proc to watch CPU time and memory with.
func childSysProcAttr() *syscall.SysProcAttr    { return nil }
func limitChild(int, SandboxConfig)             {}
func (c *child) cpuTime() (time.Duration, bool) { return 0, false }
func (c *child) rss() (int64, bool)             { return 0, false }
