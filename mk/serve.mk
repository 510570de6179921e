# portcullis serve: the server crate, its fault tests, the remote conformance replay and the
# round-trip benchmark.
.PHONY: test-serve lint-serve conformance-remote bench-serve
TEST_TARGETS += lint-serve test-serve conformance-remote
CONFORMANCE_TARGETS += conformance-remote
BENCH_TARGETS += bench-serve

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
