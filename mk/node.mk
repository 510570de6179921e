# Node binding (bindings/node: the npm package `portcullis`, a napi-rs module over the core plus
# the TypeScript API and the OpenAI Agents SDK, LangChain and MCP adapters) and the Node demo
# (examples/node).
#
#   make test-node         npm dependencies when missing, build, every test file (unit, audit,
#                          adapters, declarations, require/import, conformance); the audit tests
#                          verify file trails with target/release/portcullis, built when missing
#   make conformance-node  replay tests/conformance (or $PORTCULLIS_CONFORMANCE_DIR)
#   make bench-node        p50/p99 of evaluate for object and text actions
#   make demo-node         the demo table through the Node binding
.PHONY: node-toolchain node-deps node-build node-audit-verifier test-node conformance-node bench-node demo-node
TEST_TARGETS += test-node
CONFORMANCE_TARGETS += conformance-node
BENCH_TARGETS += bench-node
DEMO_TARGETS += demo-node

NODE ?= node
NPM ?= npm
NODE_DIR := $(ROOT)/bindings/node
# The spec reporter prints the runners' own lines as they are (one per failing case, then
# "N passed, M failed").
NODE_TEST := $(NODE) --test --test-reporter=spec

node-toolchain:
	@command -v $(NODE) >/dev/null && command -v $(NPM) >/dev/null || \
	  { echo "node-toolchain: Node.js 20.19 or later with npm is required (not found on PATH)" >&2; exit 1; }
	@$(NODE) -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' || \
	  { echo "node-toolchain: Node.js 20.19 or later is required, found $$($(NODE) --version)" >&2; exit 1; }

# npm ci only when node_modules is missing or older than the lock file.
node-deps: node-toolchain
	@cd $(NODE_DIR) && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  $(NPM) ci --no-audit --no-fund; fi

node-build: node-deps
	@cd $(NODE_DIR) && CARGO=$(CARGO) $(NODE) scripts/build.mjs --quiet

NODE_AUDIT_VERIFIER := $(ROOT)/target/release/portcullis

node-audit-verifier:
	@test -x $(NODE_AUDIT_VERIFIER) || $(CARGO) build -q --release -p portcullis-cli

test-node: node-build node-audit-verifier redis-server
	cd $(NODE_DIR) && PORTCULLIS_BIN=$(NODE_AUDIT_VERIFIER) $(NODE_TEST) test/

conformance-node: node-build
	cd $(NODE_DIR) && $(NODE_TEST) test/conformance.test.mjs

bench-node: node-build
	cd $(NODE_DIR) && $(NODE) bench/bench.mjs

demo-node: node-build
	@$(NODE) $(ROOT)/examples/node/demo.mjs $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
