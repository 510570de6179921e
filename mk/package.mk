# Installable packages (dist/) and the tests that install them the way users do, in fresh
# projects outside the repository (docs/packaging.md).
#
#   make package             LICENSE check, THIRD-PARTY-LICENSES, and dist/{c,npm,go,nuget,cli}
#                            from one glibc-2.17 release build (tools/package/native.sh)
#   make test-packages       package, then: glibc <= 2.17 for every artifact; C through
#                            pkg-config; npm through a local verdaccio; Go through a file://
#                            proxy; NuGet from a local feed on Mono; the CLI tarball's
#                            checksum; actionlint on the release workflow
#   make test-package-crates cargo publish --dry-run of the publishable crates (a cold build of
#                            each: run it before a release; it is not part of
#                            make test, to keep CI short)
#   make third-party-licenses  regenerate THIRD-PARTY-LICENSES
.PHONY: package package-native package-licenses package-c package-npm package-go package-nuget \
	package-cli third-party-licenses nuget-cli test-packages test-package-glibc test-package-c test-package-npm \
	test-package-go test-package-nuget test-package-cli test-package-crates test-release-workflow
TEST_TARGETS += test-packages

PKG_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(ROOT)/Cargo.toml | head -1)
DIST := $(ROOT)/dist
PKG_NATIVE := $(ROOT)/target/package/native
# Tools the tests install on first use (verdaccio, actionlint), kept out of the way of the build.
PKG_TOOLS := $(ROOT)/target/package/tools
PKG := $(ROOT)/tools/package
GLIBC_MAX := 2.17
PKG_TARGET ?= x86_64-unknown-linux-gnu.$(GLIBC_MAX)

package: package-licenses package-c package-npm package-go package-nuget package-cli
	@echo "== dist/ (version $(PKG_VERSION))"
	@cd $(DIST) && find . -type f \( -name '*.tgz' -o -name '*.zip' -o -name '*.nupkg' -o -name '*.tar.gz' \
	  -o -name '*.so' -o -name '*.a' -o -name '*.node' \) -printf '%s\t%p\n' | sort -k2 | \
	  awk -F'\t' '{printf "  %8.1f KiB  %s\n", $$1/1024, $$2}'

package-native:
	@CARGO=$(CARGO) PKG_TARGET=$(PKG_TARGET) $(PKG)/native.sh

third-party-licenses:
	python3 $(PKG)/third_party.py $(ROOT)/THIRD-PARTY-LICENSES

package-licenses:
	@grep -q 'Apache License' $(ROOT)/LICENSE && grep -q 'Version 2.0, January 2004' $(ROOT)/LICENSE
	@python3 $(PKG)/third_party.py $(ROOT)/THIRD-PARTY-LICENSES --check

# dist/c: include/portcullis.h, lib/libportcullis.{so,a}, lib/pkgconfig/portcullis{,-static}.pc
# (relocatable: the prefix is the .pc file's own folder, two levels up).
package-c: package-native
	@rm -rf $(DIST)/c && mkdir -p $(DIST)/c/include $(DIST)/c/lib/pkgconfig
	@cp $(ROOT)/include/portcullis.h $(DIST)/c/include/
	@cp $(PKG_NATIVE)/libportcullis.so $(PKG_NATIVE)/libportcullis.a $(DIST)/c/lib/
	@cp $(ROOT)/LICENSE $(ROOT)/THIRD-PARTY-LICENSES $(DIST)/c/
	@sed 's/@VERSION@/$(PKG_VERSION)/' $(PKG)/portcullis.pc.in > $(DIST)/c/lib/pkgconfig/portcullis.pc
	@sed 's/@VERSION@/$(PKG_VERSION)/' $(PKG)/portcullis-static.pc.in > $(DIST)/c/lib/pkgconfig/portcullis-static.pc
	@echo "dist/c: header, libportcullis.so, libportcullis.a, portcullis.pc, portcullis-static.pc"

test-package-glibc: package-native
	@echo "== every native artifact needs glibc <= $(GLIBC_MAX)"
	@$(PKG)/check_glibc.sh --max $(GLIBC_MAX) $(PKG_NATIVE)/libportcullis.so $(PKG_NATIVE)/portcullis \
	  $(PKG_NATIVE)/portcullis.linux-x64-gnu.node
	@# The archive carries no symbol versions: link it into a program against glibc 2.17 (zig
	@# fails on any symbol 2.17 lacks) and check that program.
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  printf '#include "portcullis.h"\nint main(void){return portcullis_abi_version()==0;}\n' > $$tmp/main.c && \
	  python3 -m ziglang cc -target x86_64-linux-gnu.$(GLIBC_MAX) -I$(ROOT)/include $$tmp/main.c \
	    $(PKG_NATIVE)/libportcullis.a -lunwind -lpthread -ldl -lm -o $$tmp/static-user && \
	  $(PKG)/check_glibc.sh --max $(GLIBC_MAX) $$tmp/static-user | sed "s|$$tmp/static-user|libportcullis.a (linked into a program)|" && \
	  $$tmp/static-user

test-package-c: package-c c-deps
	@echo "== C: pkg-config, the demo built outside the repository, shared and static"
	@$(PKG)/test_c.sh $(DIST)/c $(ROOT)/examples

test-packages: package test-package-glibc test-package-c test-package-npm test-package-go \
	test-package-nuget test-package-cli test-release-workflow
	@echo "test-packages: every package installed and ran"

# dist/npm: the main package and the linux-x64-gnu platform package (tools/package/npm.mjs). The
# JavaScript is rebuilt against the packaged native module (build.mjs --ts-only).
package-npm: package-native package-licenses node-deps
	@mkdir -p $(NODE_DIR)/dist && cp $(PKG_NATIVE)/portcullis.linux-x64-gnu.node $(NODE_DIR)/dist/portcullis.node
	@cd $(NODE_DIR) && $(NODE) scripts/build.mjs --ts-only
	@$(NODE) $(PKG)/npm.mjs $(NODE_DIR) $(PKG_NATIVE)/portcullis.linux-x64-gnu.node $(DIST)/npm $(ROOT)

$(PKG_TOOLS)/verdaccio/node_modules/verdaccio/bin/verdaccio:
	@echo "installing verdaccio (npm) into $(PKG_TOOLS)/verdaccio"
	@mkdir -p $(PKG_TOOLS)/verdaccio && cd $(PKG_TOOLS)/verdaccio && echo '{"private": true}' > package.json && \
	  $(NPM) install --no-audit --no-fund --loglevel=error verdaccio@6

test-package-npm: package-npm $(PKG_TOOLS)/verdaccio/node_modules/verdaccio/bin/verdaccio
	@echo "== npm: verdaccio on 127.0.0.1, npm install portcullis in a fresh project"
	@$(PKG)/test_npm.sh $(DIST)/npm $(PKG_TOOLS)/verdaccio $(NODE_DIR)/node_modules/typescript/bin/tsc

# dist/go: a module proxy tree for the core module (with the prebuilt linux/amd64 library) and
# each adapter module (tools/package/goproxy.py).
package-go: package-native package-licenses
	@rm -rf $(DIST)/go
	@python3 $(PKG)/goproxy.py $(PKG_VERSION) $(GO_DIR) $(ROOT)/include/portcullis.h $(PKG_NATIVE)/libportcullis.a $(DIST)/go

test-package-go: package-go go-toolchain
	@echo "== Go: go get from GOPROXY=file://dist/go in a fresh module, CGO_ENABLED=1 only"
	@$(PKG)/test_go.sh $(DIST)/go $(PKG_VERSION)

# dist/nuget/Portcullis.VERSION.nupkg (tools/package/nuget.py; Portcullis.dll compiled by mcs
# as in mk/dotnet.mk).
NUGET_BUILD := $(ROOT)/target/package/nuget
package-nuget: package-native package-licenses dotnet-deps
	@mkdir -p $(NUGET_BUILD)
	@$(MCS) -target:library -unsafe -doc:$(NUGET_BUILD)/Portcullis.xml -out:$(NUGET_BUILD)/Portcullis.dll \
	  $(DOTNET_DIR)/src/*.cs
	@rm -rf $(DIST)/nuget
	@python3 $(PKG)/nuget.py $(PKG_VERSION) $(NUGET_BUILD)/Portcullis.dll $(NUGET_BUILD)/Portcullis.xml \
	  $(PKG_NATIVE)/libportcullis.so $(DOTNET_DIR)/README.md $(ROOT)/LICENSE $(DIST)/nuget

test-package-nuget: package-nuget nuget-cli
	@echo "== .NET: Portcullis from a local feed folder, compiled with mcs, run on Mono"
	@$(PKG)/test_nuget.sh $(DIST)/nuget $(PKG_VERSION)

# dist/cli: the portcullis binary in a tarball with its SHA-256 checksum file.
CLI_NAME := portcullis-$(PKG_VERSION)-linux-x64-gnu
package-cli: package-native package-licenses
	@rm -rf $(DIST)/cli && mkdir -p $(DIST)/cli/stage/$(CLI_NAME)
	@cp $(PKG_NATIVE)/portcullis $(ROOT)/LICENSE $(ROOT)/THIRD-PARTY-LICENSES $(DIST)/cli/stage/$(CLI_NAME)/
	@tar -C $(DIST)/cli/stage --sort=name --owner=0 --group=0 --numeric-owner --mtime=2026-01-01 \
	  -czf $(DIST)/cli/$(CLI_NAME).tar.gz $(CLI_NAME)
	@rm -rf $(DIST)/cli/stage
	@cd $(DIST)/cli && sha256sum $(CLI_NAME).tar.gz > $(CLI_NAME).tar.gz.sha256
	@echo "dist/cli: $(CLI_NAME).tar.gz and its .sha256"

test-package-cli: package-cli
	@echo "== CLI: checksum, unpack outside the repository, run"
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cp $(DIST)/cli/* $$tmp/ && cd $$tmp && \
	  sha256sum -c --quiet $(CLI_NAME).tar.gz.sha256 && tar -xzf $(CLI_NAME).tar.gz && \
	  cp $(ROOT)/examples/demo-policy.json $(ROOT)/examples/demo-actions.json . && \
	  ./$(CLI_NAME)/portcullis check demo-policy.json >/dev/null && \
	  rows=$$(./$(CLI_NAME)/portcullis demo demo-policy.json demo-actions.json | grep -c '^  ') && \
	  test $$rows -gt 0 && echo "ok   CLI: checksum verified, check passed, demo printed $$rows decisions"

# The publishable crates (every other crate has publish = false), packaged and verified together
# so that portcullis-ffi and portcullis-cli resolve the portcullis crate being published
# (portcullis-conformance: the case reader of `portcullis test` and the remote runner).
PUBLISH_CRATES := portcullis portcullis-conformance portcullis-ffi portcullis-server portcullis-cli
test-package-crates:
	@echo "== crates: cargo publish --dry-run"
	$(CARGO) publish --dry-run --allow-dirty -q $(addprefix -p ,$(PUBLISH_CRATES))

ACTIONLINT := $(PKG_TOOLS)/bin/actionlint
$(ACTIONLINT):
	@echo "installing actionlint (Go module) into $(PKG_TOOLS)/bin"
	@mkdir -p $(PKG_TOOLS)/bin && GOBIN=$(PKG_TOOLS)/bin $(GO) install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

test-release-workflow: $(ACTIONLINT)
	@echo "== actionlint .github/workflows/release.yml"
	@cd $(ROOT) && $(ACTIONLINT) -shellcheck= .github/workflows/release.yml && echo "ok   release workflow"
