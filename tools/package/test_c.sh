#!/usr/bin/env bash
# Installs dist/c into a temporary prefix, then builds the C demo there with nothing but
# pkg-config, linked shared (portcullis) and static (portcullis-static), and runs both.
#   test_c.sh DIST_C EXAMPLES_DIR
set -euo pipefail
dist=$1 examples=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r "$dist" "$tmp/prefix"
mkdir "$tmp/app"
cp "$examples/c/demo.c" "$examples/demo-policy.json" "$examples/demo-actions.json" "$tmp/app/"
cd "$tmp/app"
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
echo "pkg-config portcullis $(pkg-config --modversion portcullis): $(pkg-config --cflags --libs portcullis)"
cc -std=c11 -Wall -Werror -o demo-shared demo.c $(pkg-config --cflags --libs portcullis) -lcjson
cc -std=c11 -Wall -Werror -o demo-static demo.c $(pkg-config --cflags --libs portcullis-static) -lcjson
# ldd's output is read whole before grep sees it: `ldd | grep -q` under pipefail fails at random
# when grep exits at its first match and ldd is killed writing the rest.
static_libs=$(ldd demo-static) shared_libs=$(ldd demo-shared)
if grep -q libportcullis <<<"$static_libs"; then echo "FAIL: demo-static links libportcullis.so"; exit 1; fi
grep -q 'libportcullis.so' <<<"$shared_libs" || { echo "FAIL: demo-shared does not link libportcullis.so"; exit 1; }
for v in shared static; do
  if [ $v = shared ]; then out=$(LD_LIBRARY_PATH=$tmp/prefix/lib ./demo-$v demo-policy.json demo-actions.json)
  else out=$(./demo-$v demo-policy.json demo-actions.json); fi
  rows=$(grep -c '^  ' <<<"$out" || true)
  [ "$rows" -gt 0 ] || { echo "FAIL: demo-$v printed no decisions"; echo "$out"; exit 1; }
  grep -q 'deny' <<<"$out" || { echo "FAIL: demo-$v printed no deny"; exit 1; }
  echo "ok   C demo ($v) printed $rows decisions"
done
