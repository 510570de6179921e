# Benchmarks (benches/, BENCHMARKS.md): the reference workload replayed by every language's
# percentile harness, the Rust criterion benches, Cedar on the shared subset, and one table.
#
#   make bench          every other BENCH_TARGETS entry first, then criterion, the percentile
#                       harnesses (Rust, C, Node, Go, .NET) and the table (bench-table)
#   make bench-report   the same without the other fragments' bench targets
#   make test-bench     the workload files match the generator; the bench crate builds
#                       (criterion benches included, debug profile), its unit tests pass, and the
#                       Rust harness prints well-formed BENCH and MIX lines for every case with a
#                       small n (and its checks pass: Cedar agrees, no evaluation fails, ...)
#
# BENCH_N timed evaluations per case after BENCH_WARMUP untimed ones, the same in every language
# (so the MIX lines of one workload must agree). Results go to target/bench/results/.
.PHONY: bench-workload bench-rust-build bench-criterion bench-rust bench-c bench-node-ref bench-go-ref \
	bench-dotnet-ref bench-allocs bench-harnesses bench-report bench-table test-bench
TEST_TARGETS += test-bench
BENCH_TARGETS += bench-table

BENCH_N ?= 200000
BENCH_WARMUP ?= 10000
BENCH_START_MS := 1772463600000
BENCH_STEP_MS := 10
BENCH_OUT := $(ROOT)/target/bench
BENCH_RESULTS := $(BENCH_OUT)/results
BENCH_POLICY := $(ROOT)/benches/workload/reference-policy.json
BENCH_ACTIONS := $(ROOT)/benches/workload/reference-actions.json
BENCH_ARGS = --n $(BENCH_N) --warmup $(BENCH_WARMUP) --start-ms $(BENCH_START_MS) --step-ms $(BENCH_STEP_MS)
BENCH_TEE = set -o pipefail; mkdir -p $(BENCH_RESULTS);
# Every case of the Rust harness, run with a small n by the smoke test.
BENCH_SMOKE_CASES := ref-value ref-json ref-json-verdict 1k-value 1k-json 10k-value 10k-json ref-value-audit-memory \
	ref-value-audit-file ref-threads1 ref-threads2 ref-threads2-swap subset-value subset-verdict cedar-subset
bench_empty :=
bench_space := $(bench_empty) $(bench_empty)
bench_comma := ,
bench_join = $(subst $(bench_space),$(bench_comma),$(strip $(1)))

# The 1,000- and 10,000-rule scale policies (multi-MB: generated, never committed).
bench-workload:
	@mkdir -p $(BENCH_OUT)
	@for n in 1000 10000; do python3 $(ROOT)/benches/generate.py scale $$n $(BENCH_OUT)/policy-$$n.json || exit 1; done

bench-rust-build:
	$(CARGO) build -q --release -p portcullis-bench --bins --benches

# Short measurement times (set in benches/rust/benches/*.rs): about a minute and a half.
bench-criterion: bench-workload bench-rust-build
	$(BENCH_TEE) $(CARGO) bench -q -p portcullis-bench 2>&1 | tee $(BENCH_RESULTS)/criterion.txt

bench-rust: bench-workload bench-rust-build
	$(BENCH_TEE) $(ROOT)/target/release/portcullis-bench --n $(BENCH_N) --warmup $(BENCH_WARMUP) \
	  | tee $(BENCH_RESULTS)/rust.txt

bench-c: ffi c-deps
	@mkdir -p $(BENCH_OUT)
	gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I$(ROOT)/include $(ROOT)/benches/c/percentile.c \
	  -o $(BENCH_OUT)/percentile-c $(FFI_LIB) -lcjson -lpthread -ldl -lm
	$(BENCH_TEE) $(BENCH_OUT)/percentile-c $(BENCH_POLICY) $(BENCH_ACTIONS) $(BENCH_ARGS) | tee $(BENCH_RESULTS)/c.txt

bench-node-ref: node-build
	$(BENCH_TEE) cd $(NODE_DIR) && $(NODE) bench/percentile.mjs $(BENCH_POLICY) $(BENCH_ACTIONS) $(BENCH_ARGS) \
	  | tee $(BENCH_RESULTS)/node.txt

bench-go-ref: go-toolchain ffi
	@mkdir -p $(BENCH_OUT)
	cd $(GO_DIR) && $(GO_ENV) $(GO) build -o $(BENCH_OUT)/portcullis-bench-go ./cmd/portcullis-bench
	$(BENCH_TEE) $(BENCH_OUT)/portcullis-bench-go -n $(BENCH_N) -warmup $(BENCH_WARMUP) -start-ms $(BENCH_START_MS) \
	  -step-ms $(BENCH_STEP_MS) $(BENCH_POLICY) $(BENCH_ACTIONS) | tee $(BENCH_RESULTS)/go.txt

bench-dotnet-ref: dotnet-build
	$(BENCH_TEE) cd $(ROOT) && $(MONO) --optimize=all $(DOTNET_OUT)/Portcullis.Bench.exe --percentile $(BENCH_POLICY) \
	  $(BENCH_ACTIONS) $(BENCH_ARGS) | tee $(BENCH_RESULTS)/dotnet.txt

# Heap allocations per decision (a counting allocator in the instructions harness, no valgrind).
bench-allocs: instructions-build
	$(BENCH_TEE) for m in json verdict; do $(INSTRUCTIONS_BIN) --mode $$m --n 20000 || exit 1; done \
	  | tee $(BENCH_RESULTS)/allocs.txt

# Serially, in this order, so that no two harnesses share the two cores.
bench-harnesses:
	@rm -rf $(BENCH_RESULTS)
	@uptime | sed 's/^/# load before the run: /'
	@for t in bench-criterion bench-rust bench-allocs bench-c bench-node-ref bench-go-ref bench-dotnet-ref; do \
	  $(MAKE) --no-print-directory $$t || exit 1; done
	@uptime | sed 's/^/# load after the run: /'

# The harnesses and the table, without the other fragments' bench targets.
bench-report:
	@$(MAKE) --no-print-directory bench-harnesses
	@echo
	@python3 $(ROOT)/benches/table.py --criterion $(ROOT)/target/criterion $(BENCH_RESULTS)/*.txt

# `make bench`: the other fragments' bench targets run first (second expansion sees the whole
# list), so the table is the last thing it prints.
.SECONDEXPANSION:
bench-table: $$(filter-out bench-table,$$(BENCH_TARGETS))
	@$(MAKE) --no-print-directory bench-report

# Debug build: this checks that everything builds and the harness prints what the table reads,
# not how fast it runs (a release build of Cedar and criterion takes minutes).
test-bench:
	python3 $(ROOT)/benches/generate.py reference --check
	$(CARGO) build -q -p portcullis-bench --all-targets
	$(CARGO) test -q -p portcullis-bench
	$(BENCH_TEE) $(ROOT)/target/debug/portcullis-bench --n 2000 --warmup 1000 --cases $(call bench_join,$(BENCH_SMOKE_CASES)) \
	  | tee $(BENCH_RESULTS)/smoke.txt | python3 $(ROOT)/benches/table.py --require $(call bench_join,$(addprefix rust:,$(BENCH_SMOKE_CASES))) >/dev/null

# Instructions per decision under callgrind (deterministic, unlike timings), compared with
# benches/instructions-baseline.json: fails when a mode costs more than 10% over it. Also prints
# heap allocations per decision. `make instructions-record` re-records the baseline (commit it
# with the change that explains it).
.PHONY: test-instructions instructions-record instructions-build
TEST_TARGETS += test-instructions
INSTRUCTIONS_BIN := $(ROOT)/target/release/portcullis-instructions

instructions-build: c-deps
	$(CARGO) build -q --release -p portcullis-instructions

test-instructions: instructions-build
	python3 $(ROOT)/benches/instructions.py $(INSTRUCTIONS_BIN)

instructions-record: instructions-build
	python3 $(ROOT)/benches/instructions.py $(INSTRUCTIONS_BIN) --record
