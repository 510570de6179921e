//go:build !portcullis_external

package portcullis

// Inside the portcullis repository the package links the static library that
// `make ffi` builds. Elsewhere, build with -tags portcullis_external and give
// the header and library through CGO_CFLAGS and CGO_LDFLAGS (see README.md).

/*
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libportcullis.a -lpthread -ldl -lm
*/
import "C"
