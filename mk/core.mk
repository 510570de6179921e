# Rust core, CLI and the Rust conformance runner.
.PHONY: test-rust lint-rust conformance-rust demo-rust tools
TEST_TARGETS += lint-rust test-rust
CONFORMANCE_TARGETS += conformance-rust
DEMO_TARGETS += demo-rust

# rustfmt, and clippy on every crate of the workspace (benches, the napi crate and the tools).
lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -q --workspace --all-targets -- -D warnings

# Unit, conformance, concurrency, property and audit tests (a small audit load in debug);
# then the audit and concurrency tests in release with the full 1,000,000-decision load.
test-rust:
	PORTCULLIS_AUDIT_DECISIONS=20000 $(CARGO) test -q -p portcullis -p portcullis-cli -- --nocapture
	$(CARGO) test -q --release -p portcullis --test audit --test concurrency
	$(CARGO) test -q -p portcullis-agent-hooks -p portcullis-conformance

conformance-rust:
	$(CARGO) test -q -p portcullis --test conformance -- --nocapture

# The command line tool target/release/portcullis (check, eval, demo, audit verify).
tools:
	$(CARGO) build -q --release -p portcullis-cli

demo-rust: tools
	@$(ROOT)/target/release/portcullis demo $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
