#!/usr/bin/env bash
# Round trip p50/p99 from the Go client (RemoteEngine) over the Unix socket: starts a release
# `portcullis serve` on a private socket with POLICY (the same flags portcullis-serve-bench
# gives its server), runs the Go harness on ACTIONS against it under the case name WORKLOAD,
# and stops the server.
#   serve_go.sh ROOT WORKLOAD POLICY ACTIONS   (GO and the Go environment from the caller)
set -euo pipefail
root=$1 workload=$2 policy=$3 actions=$4
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$root/target/release/portcullis" serve --policy "$policy" --listen "unix:$dir/pc.sock" \
  --watch-interval-ms 0 --log-level warn --worker-threads 2 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/pc.sock" ] && break; sleep 0.05; done
[ -S "$dir/pc.sock" ] || { cat "$dir/serve.log"; echo "portcullis serve did not start"; exit 1; }
cd "$root/bindings/go"
"${GO:-go}" run ./cmd/portcullis-bench -workload "$workload" -n 20000 -warmup 2000 \
  -remote "unix:$dir/pc.sock" "$policy" "$actions"
