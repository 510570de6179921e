#!/usr/bin/env bash
# Publishes dist/npm/*.tgz to a local verdaccio (127.0.0.1 only, storage in a temporary folder,
# stopped on exit), then, in a fresh project: `npm install portcullis` (which must bring the
# platform package), an ESM script, a CJS script, and a TypeScript file type-checked under the
# node10, node16 and bundler resolutions, each evaluating a policy.
#   test_npm.sh DIST_NPM VERDACCIO_DIR TSC
set -euo pipefail
dist=$1 verdaccio=$2 tsc=$3
tmp=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry=http://127.0.0.1:$port/
mkdir -p "$tmp/storage" "$tmp/app"
cat > "$tmp/config.yaml" <<YAML
storage: $tmp/storage
auth:
  htpasswd:
    file: $tmp/htpasswd
    max_users: 1
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
listen: 127.0.0.1:$port
log: { type: stdout, format: pretty, level: warn }
YAML
node "$verdaccio/node_modules/verdaccio/bin/verdaccio" --config "$tmp/config.yaml" > "$tmp/verdaccio.log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do curl -sf "${registry}-/ping" >/dev/null && break; sleep 0.5; done
curl -sf "${registry}-/ping" >/dev/null || { echo "FAIL: verdaccio did not start"; cat "$tmp/verdaccio.log"; exit 1; }

# One user, through the registry's CouchDB-style user API; its token goes into a private npmrc.
token=$(curl -sf -X PUT -H 'content-type: application/json' \
  -d '{"name":"ci","password":"ci-password-not-secret"}' "${registry}-/user/org.couchdb.user:ci" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
export npm_config_userconfig=$tmp/npmrc
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\n' "$registry" "$port" "$token" > "$tmp/npmrc"
export npm_config_cache=$tmp/npm-cache npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

for tgz in "$dist"/portcullis-linux-x64-gnu-*.tgz "$dist"/portcullis-[0-9]*.tgz; do
  npm publish --silent "$tgz" --registry "$registry" && echo "ok   published $(basename "$tgz") to verdaccio"
done

cd "$tmp/app"
cat > policy.json <<'JSON'
{"portcullis": 1, "name": "package-test", "default": "deny", "agents": [{"id": "a", "roles": ["reader"]}],
 "rules": [{"id": "allow-read", "effect": "allow", "match": {"tool": ["fs.read"], "role": ["reader"]}}]}
JSON
echo '{"name": "app", "version": "1.0.0", "private": true}' > package.json
npm install --silent portcullis --registry "$registry"
[ -f node_modules/portcullis-linux-x64-gnu/portcullis.linux-x64-gnu.node ] ||
  { echo "FAIL: npm install portcullis did not install portcullis-linux-x64-gnu"; exit 1; }
if [ -n "$(find node_modules/portcullis -name '*.node')" ]; then echo "FAIL: the main package holds a binary"; exit 1; fi
echo "ok   npm install portcullis: $(ls node_modules | tr '\n' ' ')"

cat > esm.mjs <<'JS'
import { readFileSync } from 'node:fs';
import { Engine } from 'portcullis';
const engine = Engine.fromPolicy(readFileSync('policy.json', 'utf8'));
const a = engine.evaluate({ tool: 'fs.read', agent: { id: 'a' } });
const b = engine.evaluate({ tool: 'shell.exec', agent: { id: 'a' } });
// The adapters need their framework (an optional peer dependency): resolve them only.
import.meta.resolve('portcullis/mcp');
if (!a.allowed || b.allowed) throw new Error(`unexpected: ${JSON.stringify([a, b])}`);
console.log(`ok   ESM: fs.read ${a.effect}, shell.exec ${b.effect}`);
JS
cat > cjs.cjs <<'JS'
const { readFileSync } = require('node:fs');
const { Engine } = require('portcullis');
require.resolve('portcullis/openai');
const engine = Engine.fromPolicy(readFileSync('policy.json', 'utf8'));
const b = engine.evaluate({ tool: 'shell.exec', agent: { id: 'a' } });
if (b.allowed) throw new Error('shell.exec allowed');
console.log(`ok   CJS: shell.exec ${b.effect} (${b.rule ?? 'default'})`);
JS
node esm.mjs
node cjs.cjs

# Where no prebuilt module fits, the error names the platform, the prebuilt list and the way out.
msg=$(node -e "Object.defineProperty(process, 'platform', { value: 'freebsd' }); require('portcullis')" 2>&1 || true)
for want in 'freebsd-x64' 'prebuilt: linux-x64-gnu' 'build from source'; do
  grep -qF "$want" <<<"$msg" || { echo "FAIL: the unsupported-platform error lacks '$want':"; echo "$msg"; exit 1; }
done
mv node_modules/portcullis-linux-x64-gnu "$tmp/platform-package"
msg=$(node cjs.cjs 2>&1 || true)
grep -qF 'cannot load portcullis-linux-x64-gnu' <<<"$msg" || { echo "FAIL: no clear error without the platform package:"; echo "$msg"; exit 1; }
mv "$tmp/platform-package" node_modules/portcullis-linux-x64-gnu
echo "ok   clear errors on an unsupported platform and without the platform package"

cat > check.ts <<'TS'
import { Engine, type Decision } from 'portcullis';
import type * as openai from 'portcullis/openai';
import type * as langchain from 'portcullis/langchain';
import type * as mcp from 'portcullis/mcp';
export type Adapters = [typeof openai, typeof langchain, typeof mcp];
const engine: Engine = Engine.fromPolicy('{"portcullis": 1, "name": "t", "default": "deny", "rules": []}');
const decision: Decision = engine.evaluate({ tool: 'fs.read', agent: { id: 'a' } });
const allowed: boolean = decision.allowed;
export { allowed };
TS
# node10 (classic "node"), node16 and bundler; skipLibCheck because the adapters' declarations
# name optional peer dependencies this project does not install.
for mode in "node10 commonjs" "node16 node16" "bundler esnext"; do
  set -- $mode
  cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "skipLibCheck": true, "types": [],
    "moduleResolution": "$1", "module": "$2", "target": "es2022" }, "files": ["check.ts"] }
JSON
  node "$tsc" -p tsconfig.json || { echo "FAIL: TypeScript under moduleResolution $1"; exit 1; }
  echo "ok   TypeScript type-checks under moduleResolution $1"
done
