# .NET binding (bindings/dotnet) over the C ABI, compiled with Mono's mcs and run on Mono, and
# the .NET demo (examples/dotnet).
#
#   make dotnet-bindings     regenerate bindings/dotnet/src/NativeMethods.g.cs from ffi/src (csbindgen)
#   make test-dotnet         install Mono if missing, stale check, unit tests, conformance
#   make conformance-dotnet  replay tests/conformance (or $PORTCULLIS_CONFORMANCE_DIR)
#   make bench-dotnet        p50/p99 of Evaluate
#   make demo-dotnet         the demo table through the .NET API
.PHONY: dotnet-deps dotnet-bindings dotnet-bindings-check dotnet-build test-dotnet conformance-dotnet \
	bench-dotnet demo-dotnet
TEST_TARGETS += test-dotnet
CONFORMANCE_TARGETS += conformance-dotnet
BENCH_TARGETS += bench-dotnet
DEMO_TARGETS += demo-dotnet

DOTNET_DIR := $(ROOT)/bindings/dotnet
DOTNET_OUT := $(DOTNET_DIR)/build
DOTNET_PACKAGES := mono-mcs mono-runtime libmono-system-core4.0-cil
MCS := mcs -nologo -langversion:7.2 -debug -warnaserror+
MONO := mono --debug
# The JSON reader/writer is internal to Portcullis.dll; the runner and demo compile their own copy
# so that they use nothing but the public API of the library.
DOTNET_JSON := $(DOTNET_DIR)/src/JsonReader.cs $(DOTNET_DIR)/src/JsonWriter.cs $(DOTNET_DIR)/src/JsonObject.cs

# Mono (compiler, runtime, System.Core: DOTNET_PACKAGES) and gcc come from `make deps`.
dotnet-deps: deps

dotnet-bindings:
	$(CARGO) run -q -p gen-csharp

# Fails when the committed P/Invoke layer differs from what ffi/src generates now.
dotnet-bindings-check:
	@mkdir -p $(DOTNET_OUT)
	@$(CARGO) run -q -p gen-csharp -- $(DOTNET_OUT)/NativeMethods.g.cs
	@if diff -u $(DOTNET_DIR)/src/NativeMethods.g.cs $(DOTNET_OUT)/NativeMethods.g.cs; then \
	  echo "bindings/dotnet/src/NativeMethods.g.cs is up to date"; \
	else echo "bindings/dotnet/src/NativeMethods.g.cs is stale: run make dotnet-bindings"; exit 1; fi

# Portcullis.dll, the test, conformance, bench and demo programs, the native library beside
# them, and a stand-in library with ABI 2.0 for the loader tests.
dotnet-build: dotnet-deps ffi
	@mkdir -p $(DOTNET_OUT)/fake-abi
	@cp $(ROOT)/target/release/libportcullis.so $(DOTNET_OUT)/
	@gcc -shared -fPIC -o $(DOTNET_OUT)/fake-abi/libportcullis.so $(DOTNET_DIR)/tests/fake_abi.c
	@$(MCS) -target:library -unsafe -doc:$(DOTNET_OUT)/Portcullis.xml -out:$(DOTNET_OUT)/Portcullis.dll $(DOTNET_DIR)/src/*.cs
	@$(MCS) -target:exe -r:$(DOTNET_OUT)/Portcullis.dll -r:System.Core.dll -out:$(DOTNET_OUT)/Portcullis.Tests.exe \
	  $(DOTNET_DIR)/tests/*.cs
	@$(MCS) -target:exe -r:$(DOTNET_OUT)/Portcullis.dll -r:System.Core.dll -out:$(DOTNET_OUT)/Portcullis.Conformance.exe \
	  $(DOTNET_DIR)/conformance/*.cs $(DOTNET_JSON)
	@$(MCS) -target:exe -r:$(DOTNET_OUT)/Portcullis.dll -r:System.Core.dll -out:$(DOTNET_OUT)/Portcullis.Bench.exe \
	  $(DOTNET_DIR)/bench/*.cs $(DOTNET_JSON)
	@$(MCS) -target:exe -r:$(DOTNET_OUT)/Portcullis.dll -r:System.Core.dll -out:$(DOTNET_OUT)/Portcullis.Demo.exe \
	  $(ROOT)/examples/dotnet/*.cs $(DOTNET_JSON)

# The audit tests check trails with the verifier that `make tools` builds.
test-dotnet: dotnet-bindings-check dotnet-build tools redis-server
	@echo "== .NET unit tests"
	cd $(DOTNET_OUT) && PORTCULLIS_BIN=$(ROOT)/target/release/portcullis $(MONO) Portcullis.Tests.exe
	@echo "== .NET conformance"
	cd $(ROOT) && $(MONO) $(DOTNET_OUT)/Portcullis.Conformance.exe tests/conformance

conformance-dotnet: dotnet-build
	@cd $(ROOT) && $(MONO) $(DOTNET_OUT)/Portcullis.Conformance.exe tests/conformance

bench-dotnet: dotnet-build
	@cd $(ROOT) && $(MONO) --optimize=all $(DOTNET_OUT)/Portcullis.Bench.exe examples/demo-policy.json examples/demo-actions.json

demo-dotnet: dotnet-build
	@cd $(ROOT) && $(MONO) $(DOTNET_OUT)/Portcullis.Demo.exe examples/demo-policy.json examples/demo-actions.json
