//go:build unix

package portcullis

import (
	"net"
	"syscall"
)

// silent reports whether conn has nothing to read and is not at its end:
// one non-blocking MSG_PEEK. (A read deadline in the past would not do: Go
// fails such a read before asking the kernel.)
func silent(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	quiet := false
	err = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && quiet
}
