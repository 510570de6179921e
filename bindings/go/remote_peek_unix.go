//go:build unix

package portcullis

import (
	"net"
	"syscall"
)

// idleCheck looks at an idle connection without reading from it. It is made
// once per connection (the raw connection and the callback are kept, so a
// check allocates nothing) and used by one call at a time.
type idleCheck struct {
	raw   syscall.RawConn
	peek  func(fd uintptr) bool
	buf   [1]byte
	quiet bool
}

// newIdleCheck returns nil when conn exposes no file descriptor: such a
// connection is never reused.
func newIdleCheck(conn net.Conn) *idleCheck {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	c := &idleCheck{raw: raw}
	c.peek = c.peekFD
	return c
}

func (c *idleCheck) peekFD(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), c.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	c.quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true
}

// silent reports whether the connection has nothing to read and is not at
// its end: one non-blocking MSG_PEEK. (A read deadline in the past would not
// do: Go fails such a read before asking the kernel.)
func (c *idleCheck) silent() bool {
	if c == nil {
		return false
	}
	c.quiet = false
	return c.raw.Read(c.peek) == nil && c.quiet
}
