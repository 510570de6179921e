#!/usr/bin/env bash
# In a fresh module outside the repository: go get the core module and the mcpsdk adapter module
# from the file:// proxy in DIST_GO, build with CGO_ENABLED=1 and nothing else (no Rust, no
# CGO_* variables, no build tags), run. The proxy settings are this test's, not the user's: a
# temporary module cache (so no earlier copy of v$VERSION is reused), the local proxy first,
# then the existing module cache and the public proxy for the adapter's own dependencies.
#   test_go.sh DIST_GO VERSION
set -euo pipefail
dist=$1 version=v${2#v}
tmp=$(mktemp -d)
export GOMODCACHE=$tmp/modcache
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
cache=$(env -u GOMODCACHE go env GOMODCACHE)/cache/download
export GOPROXY="file://$dist,file://$cache,$(go env GOPROXY)"
export GONOSUMDB=github.com/portcullis/portcullis GOFLAGS=-mod=mod
unset CGO_CFLAGS CGO_LDFLAGS CGO_CPPFLAGS
export CGO_ENABLED=1

mkdir "$tmp/app" && cd "$tmp/app"
go mod init example.com/app >/dev/null 2>&1
go get "github.com/portcullis/portcullis/bindings/go@$version" "github.com/portcullis/portcullis/bindings/go/mcpsdk@$version" 2>&1 |
  grep -v '^go: downloading' || true
cat > main.go <<'GO'
package main

import (
	"fmt"
	"os"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/mcpsdk"
)

const policy = `{"portcullis": 1, "name": "package-test", "default": "deny",
 "agents": [{"id": "a", "roles": ["reader"]}],
 "rules": [{"id": "allow-read", "effect": "allow", "match": {"tool": ["fs.read"], "role": ["reader"]}}]}`

func main() {
	engine, err := portcullis.New([]byte(policy))
	if err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	defer engine.Close()
	_ = mcpsdk.Middleware(engine, mcpsdk.Options{})
	read := engine.Evaluate(portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a"}})
	exec := engine.Evaluate(portcullis.Action{Tool: "shell.exec", Agent: portcullis.Agent{ID: "a"}})
	if !read.Allowed || exec.Allowed {
		fmt.Println("FAIL: unexpected decisions", read.Effect, exec.Effect)
		os.Exit(1)
	}
	fmt.Printf("ok   Go: fs.read %v, shell.exec %v\n", read.Effect, exec.Effect)
}
GO
go build -o app .
./app
grep -q "portcullis/bindings/go/mcpsdk $version" go.mod
# The core module alone imposes no third-party module.
mkdir "$tmp/core-only" && cd "$tmp/core-only" && go mod init example.com/core >/dev/null 2>&1
go get "github.com/portcullis/portcullis/bindings/go@$version" 2>&1 | grep -v '^go: downloading' || true
extra=$(go list -m all | grep -v -e '^example.com/core' -e '^github.com/portcullis/portcullis/bindings/go ' || true)
[ -z "$extra" ] || { echo "FAIL: the core module pulls in: $extra"; exit 1; }
echo "ok   Go: the core module requires no other module"
