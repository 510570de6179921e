# portcullis serve: the server crate, its fault tests, the remote conformance replay and the
# round-trip benchmark.
.PHONY: test-serve lint-serve conformance-remote bench-serve bench-serve-go
TEST_TARGETS += lint-serve test-serve conformance-remote
CONFORMANCE_TARGETS += conformance-remote
BENCH_TARGETS += bench-serve bench-serve-go

lint-serve:
	$(CARGO) clippy -q -p portcullis-server --all-targets -- -D warnings

# Integration and fault tests against real portcullis-serve processes.
test-serve:
	$(CARGO) test -q -p portcullis-server -- --nocapture

# Replays tests/conformance (or $PORTCULLIS_CONFORMANCE_DIR) through the Rust client against
# a real server started with --test-control on a private Unix socket.
conformance-remote:
	$(CARGO) build -q -p portcullis-server --bin portcullis-serve --bin portcullis-conformance-remote
	$(ROOT)/target/debug/portcullis-conformance-remote

# Round trip p50/p99 over the Unix socket and loopback TCP, 1 and 2 client threads.
bench-serve:
	$(CARGO) build -q --release -p portcullis-server --bin portcullis-serve --bin portcullis-serve-bench
	$(ROOT)/target/release/portcullis-serve-bench

# Round trip p50/p99 from the Go client (RemoteEngine) over the Unix socket, against a release
# `portcullis serve` with the reference policy, started on a private socket and stopped after.
bench-serve-go: go-toolchain ffi tools
	@dir=$$(mktemp -d); trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf "$$dir"' EXIT; \
	$(ROOT)/target/release/portcullis serve --policy $(ROOT)/benches/workload/reference-policy.json \
	  --listen unix:$$dir/pc.sock --watch-interval-ms 0 --log-format json 2>$$dir/serve.log & pid=$$!; \
	for i in $$(seq 100); do [ -S $$dir/pc.sock ] && break; sleep 0.05; done; \
	[ -S $$dir/pc.sock ] || { cat $$dir/serve.log; echo "portcullis serve did not start"; exit 1; }; \
	cd $(GO_DIR) && $(GO_ENV) $(GO) run ./cmd/portcullis-bench -n 20000 -warmup 2000 -remote unix:$$dir/pc.sock \
	  $(ROOT)/benches/workload/reference-policy.json $(ROOT)/benches/workload/reference-actions.json
