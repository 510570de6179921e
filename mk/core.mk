# Rust core, CLI and the Rust conformance runner.
.PHONY: test-rust lint-rust conformance-rust demo-rust fuzz-rust
TEST_TARGETS += lint-rust test-rust
CONFORMANCE_TARGETS += conformance-rust
DEMO_TARGETS += demo-rust

lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -q -p agentgate -p agentgate-cli --all-targets -- -D warnings

test-rust:
	$(CARGO) test -q -p agentgate -p agentgate-cli -- --nocapture

conformance-rust:
	$(CARGO) test -q -p agentgate --test conformance -- --nocapture

demo-rust:
	@$(CARGO) build -q --release -p agentgate-cli
	@$(ROOT)/target/release/agentgate demo $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
