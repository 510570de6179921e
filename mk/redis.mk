# Shared state on Redis (state-redis/, crate portcullis-redis): tests against real
# redis-server processes the tests start on loopback ports and stop after.
.PHONY: test-redis lint-redis redis-server bench-redis
TEST_TARGETS += lint-redis test-redis

# Debian's redis-server package (redis-server and redis-cli), installed when missing.
redis-server:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }

lint-redis:
	$(CARGO) clippy -q -p portcullis-redis --all-targets -- -D warnings

test-redis: redis-server
	$(CARGO) test -q -p portcullis-redis -- --nocapture

# p50/p99 and throughput of a limited decision on Redis (1 and 2 processes) vs in process.
bench-redis: redis-server
	$(CARGO) build -q --release -p portcullis-redis --bin portcullis-redis-bench
	$(ROOT)/target/release/portcullis-redis-bench
