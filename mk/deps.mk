# What the test suites need from the system, installed in one place: `make deps` installs the
# Debian packages that are missing (one apt-get call) and says nothing when all are present.
# `make test` runs it first; each fragment's own *-deps target only points here.
#
# Entries are PACKAGE, or PACKAGE=COMMAND when a command on PATH (from Debian or elsewhere)
# is enough to count the package as present.
.PHONY: deps nuget-cli
DEPS_APT = gcc=gcc g++=g++ libc6-dev libcjson-dev valgrind=valgrind redis-server=redis-server \
	redis-tools=redis-cli openssl=openssl $(DOTNET_PACKAGES)

deps:
	@missing=""; \
	for entry in $(DEPS_APT); do \
	  pkg=$${entry%%=*}; cmd=$${entry#*=}; \
	  if [ "$$cmd" != "$$entry" ] && command -v $$cmd >/dev/null 2>&1; then continue; fi; \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Debian's nuget CLI (Mono), only for the package install test (mk/package.mk), which falls
# back to unzipping without it.
nuget-cli:
	@command -v nuget >/dev/null || { echo "deps: installing nuget"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nuget >/dev/null || \
	  echo "nuget is not installable here: the test installs by unzipping"; }
