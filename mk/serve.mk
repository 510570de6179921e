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
# `portcullis serve` started on a private socket and stopped after (benches/serve_go.sh): on the
# reference workload, then on bench-serve's own one-action policy (case `triv-remote-*`), which
# times the Go client on exactly what bench-serve times the Rust client on.
bench-serve-go: go-toolchain ffi tools
	$(CARGO) build -q --release -p portcullis-server --bin portcullis-serve-bench
	@$(GO_ENV) GO=$(GO) $(ROOT)/benches/serve_go.sh $(ROOT) ref \
	  $(ROOT)/benches/workload/reference-policy.json $(ROOT)/benches/workload/reference-actions.json
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(ROOT)/target/release/portcullis-serve-bench --write-workload $$dir && \
	$(GO_ENV) GO=$(GO) $(ROOT)/benches/serve_go.sh $(ROOT) triv $$dir/policy.json $$dir/actions.json
