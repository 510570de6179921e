# Shared state on Redis (state-redis/, crate portcullis-redis): tests against real
# redis-server processes the tests start on loopback ports and stop after.
.PHONY: test-redis lint-redis redis-server bench-redis
TEST_TARGETS += lint-redis test-redis

# redis-server and redis-cli come from `make deps` (mk/deps.mk).
redis-server: deps

lint-redis:
	$(CARGO) clippy -q -p portcullis-redis --all-targets -- -D warnings

test-redis: redis-server
	$(CARGO) test -q -p portcullis-redis -- --nocapture

# p50/p99 and throughput of a limited decision on Redis (1 and 2 processes) vs in process.
bench-redis: redis-server
	$(CARGO) build -q --release -p portcullis-redis --bin portcullis-redis-bench
	$(ROOT)/target/release/portcullis-redis-bench
