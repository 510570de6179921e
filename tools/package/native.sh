#!/usr/bin/env bash
# Release builds of every native artifact for glibc 2.17 (cargo zigbuild), stripped, into
# target/package/native/: libportcullis.so, libportcullis.a, portcullis (CLI), portcullis.node.
# Installs ziglang (PyPI) and cargo-zigbuild (crates.io) when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo=${CARGO:-cargo}
# PKG_TARGET: a Rust target triple, with a glibc version suffix for cargo zigbuild (the release
# workflow builds other platforms with it; only the default is built and tested here).
target=${PKG_TARGET:-x86_64-unknown-linux-gnu.2.17}
triple=${target%%.[0-9]*}
out=$root/target/package/native

python3 -c 'import ziglang' 2>/dev/null || { echo "installing ziglang (PyPI)"; python3 -m pip install -q ziglang; }
command -v cargo-zigbuild >/dev/null || { echo "installing cargo-zigbuild"; $cargo install -q --locked cargo-zigbuild; }

# debug info off and symbols stripped for this build only (the workspace release profile keeps
# line tables for benchmarks and backtraces).
CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols \
  $cargo zigbuild -q --locked --release --target "$target" \
  -p portcullis-ffi -p portcullis-cli -p portcullis-node

built=$root/target/$triple/release
mkdir -p "$out"
if [ "$triple" != x86_64-unknown-linux-gnu ]; then
  # Other platforms: the artifacts as built, named by triple (dist/ is assembled for linux-x64-gnu).
  mkdir -p "$out/$triple"
  find "$built" -maxdepth 1 -type f \( -name 'libportcullis*' -o -name 'portcullis' -o -name 'portcullis.exe' \
    -o -name '*.dll' -o -name '*.dylib' -o -name '*.lib' \) -exec cp {} "$out/$triple/" \;
  ls -l "$out/$triple"
  exit 0
fi
cp "$built/libportcullis.so" "$out/libportcullis.so"
cp "$built/portcullis" "$out/portcullis"
cp "$built/libportcullis_node.so" "$out/portcullis.linux-x64-gnu.node"
# Rust does not strip static libraries: drop their debug sections here (symbols stay: the
# linker of the program that uses the archive needs them).
cp "$built/libportcullis.a" "$out/libportcullis.a"
strip --strip-debug "$out/libportcullis.a"
strip --strip-unneeded "$out/libportcullis.so" "$out/portcullis.linux-x64-gnu.node"
strip "$out/portcullis"
ls -l "$out"
