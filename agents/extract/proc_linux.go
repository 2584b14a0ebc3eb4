package extract

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childSysProcAttr: the child dies with the daemon and has its own
// process group (a signal to the daemon's group does not reach it first).
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// limitChild caps the child's address space as a backstop for an
// allocation spike faster than the watchdog's polling. Race-detector
// binaries map terabytes of shadow memory, so they go without.
func limitChild(pid int, cfg SandboxConfig) {
	if raceEnabled {
		return
	}
	as := uint64(cfg.MaxMemory)*4 + 1<<30
	_ = unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: as, Max: as}, nil)
}

// clockTick is USER_HZ, 100 on every Linux ABI Go supports.
const clockTick = 100

// cpuTime is the child's user+system CPU time from /proc/PID/stat.
func (c *child) cpuTime() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 { // fields 3.. : utime is field 14, stime 15
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / clockTick, true
}

// rss is the child's resident memory from /proc/PID/statm.
func (c *child) rss() (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.pid) + "/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}
