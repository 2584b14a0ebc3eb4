package extract

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// child is one sandbox process and our ends of its pipes.
type child struct {
	cmd    *exec.Cmd
	pid    int
	stdin  *os.File // we write requests
	stdout *os.File // we read responses
	enc    *gob.Encoder
	dec    *gob.Decoder
	stderr *crashLog
	exited chan struct{} // closed once the process is reaped
	once   sync.Once
	files  int
}

func startChild(ctx context.Context, cfg SandboxConfig) (*child, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("extract sandbox: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("extract sandbox: %w", err)
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = childEnviron(cfg)
	cmd.Dir = os.TempDir()
	cmd.Stdin, cmd.Stdout = inR, outW
	c := &child{cmd: cmd, stdin: inW, stdout: outR, stderr: &crashLog{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	cmd.SysProcAttr = childSysProcAttr()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("extract sandbox: start %s: %w", cfg.Command[0], err)
	}
	c.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	limitChild(c.pid, cfg)
	c.enc, c.dec = gob.NewEncoder(inW), gob.NewDecoder(outR)
	hello := make(chan error, 1)
	go func() {
		var h string
		err := c.dec.Decode(&h)
		if err == nil && h != childHello {
			err = fmt.Errorf("unexpected greeting %q", h)
		}
		hello <- err
	}()
	t := time.NewTimer(cfg.StartTimeout)
	defer t.Stop()
	got := false
	select {
	case err = <-hello:
		got = true
	case <-t.C:
		err = errors.New("no greeting within " + cfg.StartTimeout.String())
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.terminate()
		if !got {
			<-hello // killing the child ended the read
		}
		return nil, fmt.Errorf("extract sandbox: child %s did not start (does the program call extract.ServeChildIfAsked first?): %s", cfg.Command[0], c.crash(err))
	}
	return c, nil
}

// terminate kills the child and waits until it is reaped; our pipe ends
// are closed, so a goroutine blocked on them returns.
func (c *child) terminate() {
	c.once.Do(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
		c.stdin.Close()
		c.stdout.Close()
	})
}

// stop ends an idle child politely (end of input), then for sure.
func (c *child) stop() {
	c.once.Do(func() {
		c.stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(2 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		c.stdout.Close()
	})
}

// crash describes how the child died: the first line of its crash
// report if it wrote one, else err. It waits briefly for the child to be
// reaped so that the report is complete.
func (c *child) crash(err error) string {
	select {
	case <-c.exited:
	case <-time.After(500 * time.Millisecond):
	}
	if r := c.stderr.reason(); r != "" {
		return r
	}
	return err.Error()
}
