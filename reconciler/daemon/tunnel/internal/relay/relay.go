// Package relay copies a TCP stream between two connections, for the
// pool's loopback forwards and wgtest's exposed services.
package relay

import (
	"io"
	"net"
	"sync"
)

// Pipe copies a↔b until both directions end, then closes both. A clean
// end of stream on one side is passed on as a half-close (CloseWrite) so
// request/response protocols finish; an error closes both at once.
func Pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	copyHalf := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
			if cw.CloseWrite() == nil {
				return
			}
		}
		dst.Close()
		src.Close()
	}
	go copyHalf(a, b)
	go copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}
