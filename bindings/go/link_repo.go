//go:build !agentgate_external

package agentgate

// Inside the agentgate repository the package links the static library that
// `make ffi` builds. Elsewhere, build with -tags agentgate_external and give
// the header and library through CGO_CFLAGS and CGO_LDFLAGS (see README.md).

/*
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libagentgate_ffi.a -lpthread -ldl -lm
*/
import "C"
