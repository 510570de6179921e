# C ABI (ffi/), its generated header (include/portcullis.h), the C test suites (tests/c/) and
# the C demo (examples/c/).
#
#   make ffi            release static + shared library in target/release/
#   make header         regenerate include/portcullis.h and the .NET P/Invoke layer from ffi/src
#   make check-header   fail when the committed header differs from a fresh one
#   make test-c         header, Rust unit tests, C tests natively, under valgrind and ASan+UBSan
#   make conformance-c  replay tests/conformance (or $PORTCULLIS_CONFORMANCE_DIR) through the C ABI
#   make demo-c         the demo table through the C ABI
.PHONY: ffi header check-header header-compile c-deps lint-ffi test-ffi-rust test-c conformance-c \
	demo-c c-tests c-tests-native c-tests-valgrind c-tests-asan
TEST_TARGETS += test-c
CONFORMANCE_TARGETS += conformance-c
DEMO_TARGETS += demo-c

FFI_LIB := $(ROOT)/target/release/libportcullis.a
C_OUT := $(ROOT)/target/c
C_TEST_DIR := $(ROOT)/tests/c
C_CC := gcc
C_CXX := g++
C_STRICT := -Wall -Wextra -Werror -pedantic
C_FLAGS := -std=c11 $(C_STRICT) -D_DEFAULT_SOURCE -O1 -g -I$(ROOT)/include -I$(C_TEST_DIR)
C_LIBS := -lcjson -lpthread -ldl -lm
C_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
C_VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=1 \
	--suppressions=$(C_TEST_DIR)/valgrind.supp
C_TESTS := rfc3339_test misuse_test audit_misuse_test struct_test threads_test audit_test deep_policy_test explain_test details_test
# Each suite runs natively and under ASan+UBSan; these also run under valgrind (the threads
# test is left to ASan: under valgrind's serialized threads it proves little and runs long).
C_VALGRIND_TESTS := misuse_test audit_misuse_test struct_test audit_test details_test
# The audit test checks trails with the verifier that `make tools` builds.
C_TEST_ENV := PORTCULLIS_BIN=$(ROOT)/target/release/portcullis
C_CONFORMANCE_DIR := tests/conformance

# What the C suites need (gcc, g++, cJSON, valgrind) comes from `make deps` (mk/deps.mk).
c-deps: deps

ffi:
	$(CARGO) build -q --release -p portcullis-ffi

# The .NET binding's NativeMethods.g.cs comes from the same source (mk/dotnet.mk): the two are
# always regenerated together.
header: dotnet-bindings
	$(CARGO) run -q -p portcullis-gen-header -- $(ROOT)/include/portcullis.h

check-header:
	@tmp=$$(mktemp --suffix=.h) && \
	$(CARGO) run -q -p portcullis-gen-header -- $$tmp && \
	if diff -u $(ROOT)/include/portcullis.h $$tmp; then rm -f $$tmp; echo "include/portcullis.h is up to date"; \
	else rm -f $$tmp; echo "include/portcullis.h is stale: run make header"; exit 1; fi

# The header compiles cleanly as C11 and C++17, and its constants and layouts are the contract's.
header-compile: ffi c-deps
	@mkdir -p $(C_OUT)
	$(C_CC) -std=c11 $(C_STRICT) -I$(ROOT)/include $(C_TEST_DIR)/header_check.c -o $(C_OUT)/header_check_c \
	  $(FFI_LIB) -lpthread -ldl -lm
	$(C_CXX) -std=c++17 $(C_STRICT) -x c++ -I$(ROOT)/include $(C_TEST_DIR)/header_check.c -x none \
	  -o $(C_OUT)/header_check_cxx $(FFI_LIB) -lpthread -ldl -lm
	$(C_OUT)/header_check_c
	$(C_OUT)/header_check_cxx

lint-ffi:
	$(CARGO) clippy -q -p portcullis-ffi -p portcullis-gen-header --all-targets -- -D warnings

# The panic boundary cannot be reached from C (the core does not panic on any input), so it is
# tested here, in Rust.
test-ffi-rust:
	$(CARGO) test -q -p portcullis-ffi

# Every C binary, built twice: plain (for native and valgrind runs) and with ASan+UBSan.
c-tests: ffi tools c-deps
	@mkdir -p $(C_OUT)/asan
	@for t in $(C_TESTS) conformance; do \
	  echo "cc $$t"; \
	  $(C_CC) $(C_FLAGS) $(C_TEST_DIR)/$$t.c $(C_TEST_DIR)/rfc3339.c $(C_TEST_DIR)/json_text.c -o $(C_OUT)/$$t $(FFI_LIB) $(C_LIBS) || exit 1; \
	  $(C_CC) $(C_FLAGS) $(C_ASAN) $(C_TEST_DIR)/$$t.c $(C_TEST_DIR)/rfc3339.c $(C_TEST_DIR)/json_text.c -o $(C_OUT)/asan/$$t \
	    $(FFI_LIB) $(C_LIBS) || exit 1; \
	done

c-tests-native: c-tests
	@for t in $(C_TESTS); do echo "== $$t"; $(C_TEST_ENV) $(C_OUT)/$$t || exit 1; done

c-tests-valgrind: c-tests
	@for t in $(C_VALGRIND_TESTS); do echo "== valgrind $$t"; $(C_TEST_ENV) $(C_VALGRIND) $(C_OUT)/$$t || exit 1; done
	@echo "== valgrind conformance"
	@$(C_VALGRIND) $(C_OUT)/conformance $(C_CONFORMANCE_DIR)

c-tests-asan: c-tests
	@for t in $(C_TESTS); do echo "== asan $$t"; \
	  $(C_TEST_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(C_OUT)/asan/$$t || exit 1; done
	@echo "== asan conformance"
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(C_OUT)/asan/conformance $(C_CONFORMANCE_DIR)

test-c: check-header header-compile lint-ffi test-ffi-rust c-tests-native conformance-c c-tests-valgrind \
	c-tests-asan

conformance-c: c-tests
	@echo "== conformance (C ABI)"
	@$(C_OUT)/conformance $(C_CONFORMANCE_DIR)

demo-c: ffi c-deps
	@mkdir -p $(C_OUT)
	@$(C_CC) $(C_FLAGS) $(ROOT)/examples/c/demo.c -o $(C_OUT)/demo $(FFI_LIB) $(C_LIBS)
	@$(C_OUT)/demo $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json
