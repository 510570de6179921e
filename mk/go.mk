# Go binding (bindings/go: the portcullis package and its langchaingo, mcpsdk
# and mcpgo middleware) and the Go demo (examples/go). Links the static
# library that the `ffi` target (mk/ffi.mk) builds.
.PHONY: go-toolchain test-go conformance-go bench-go demo-go
TEST_TARGETS += test-go
CONFORMANCE_TARGETS += conformance-go
BENCH_TARGETS += bench-go
DEMO_TARGETS += demo-go

GO ?= go
GO_DIR := $(ROOT)/bindings/go
GO_EXAMPLE_DIR := $(ROOT)/examples/go
# Adapter modules: every folder of bindings/go with its own go.mod (bindings/go/README.md).
GO_MODULE_DIRS := $(patsubst %/go.mod,%,$(wildcard $(GO_DIR)/*/go.mod))
# cgo needs a C compiler; go modules come from the Go module proxy on first use. The audit
# tests check trails with the verifier that `make tools` builds.
GO_ENV := CGO_ENABLED=1 PORTCULLIS_BIN=$(ROOT)/target/release/portcullis
# An execution count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" failure when a duration -fuzztime expires while a worker is
# busy (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
GO_FUZZ_TIME ?= 40000x
# -v shows the runner's own lines (one per failing case, then "N passed, M failed").
GO_CONFORMANCE = set -o pipefail; cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -v -run '^TestConformance$$' . | grep -v '^=== RUN'

# gcc for cgo comes from `make deps` (mk/deps.mk).
go-toolchain: deps
	@command -v $(GO) >/dev/null || { echo "go-toolchain: Go 1.26 or later is required (not found on PATH)" >&2; exit 1; }

# vet, every test under the race detector, the memory-growth tests (which
# build only without it), the conformance suite and a short fuzz of both
# entry points.
test-go: go-toolchain ffi tools redis-server
	cd $(GO_DIR) && $(GO_ENV) $(GO) vet ./...
	cd $(GO_EXAMPLE_DIR) && $(GO_ENV) $(GO) vet ./...
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -race -count=1 ./...
	for m in $(GO_MODULE_DIRS); do (cd $$m && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) test -race -count=1 ./...) || exit 1; done
	@# the documented way to link outside the repository: -tags portcullis_external plus CGO_LDFLAGS
	cd $(GO_DIR) && $(GO_ENV) CGO_CFLAGS="-I$(ROOT)/include" \
	  CGO_LDFLAGS="$(ROOT)/target/release/libportcullis.a -lpthread -ldl -lm" \
	  $(GO) test -count=1 -tags portcullis_external -run '^(TestNativeVersion|TestHeaderMatchesPackageABI)$$' .
	set -o pipefail; cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -v -run '^TestMemory' . | grep -v '^=== RUN'
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -run '^$$' -fuzz '^FuzzEvaluateJSON$$' -fuzztime $(GO_FUZZ_TIME) .
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -run '^$$' -fuzz '^FuzzActionEncoding$$' -fuzztime $(GO_FUZZ_TIME) .
	$(GO_CONFORMANCE)

# Replays tests/conformance (or $$PORTCULLIS_CONFORMANCE_DIR) through the Go API.
conformance-go: go-toolchain ffi
	$(GO_CONFORMANCE)

bench-go: go-toolchain ffi
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -count=1 -run '^$$' -bench . -benchmem .

demo-go: go-toolchain ffi
	@cd $(GO_EXAMPLE_DIR) && $(GO_ENV) $(GO) run . $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
