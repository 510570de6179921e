# Rust core, CLI and the Rust conformance runner.
.PHONY: test-rust lint-rust conformance-rust demo-rust tools
TEST_TARGETS += lint-rust test-rust
CONFORMANCE_TARGETS += conformance-rust
DEMO_TARGETS += demo-rust

lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -q -p agentgate -p agentgate-cli --all-targets -- -D warnings

# Unit, conformance, concurrency, property and audit tests (a small audit load in debug);
# then the audit and concurrency tests in release with the full 1,000,000-decision load.
test-rust:
	AGENTGATE_AUDIT_DECISIONS=20000 $(CARGO) test -q -p agentgate -p agentgate-cli -- --nocapture
	$(CARGO) test -q --release -p agentgate --test audit --test concurrency

conformance-rust:
	$(CARGO) test -q -p agentgate --test conformance -- --nocapture

# The command line tools: target/release/agentgate and target/release/agentgate-audit.
tools:
	$(CARGO) build -q --release -p agentgate-cli

demo-rust: tools
	@$(ROOT)/target/release/agentgate demo $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
