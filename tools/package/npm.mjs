// Assembles dist/npm in the napi-rs layout from bindings/node (built JavaScript and types) and
// the glibc-2.17 native module:
//   dist/npm/portcullis/                    the main package: JS (ESM + CJS) and types, no binary,
//                                           optionalDependencies on every platform package
//   dist/npm/portcullis-linux-x64-gnu/      one stripped .node, restricted by os/cpu/libc
//   dist/npm/*.tgz                          both, packed by `npm pack`
//
// Usage: node tools/package/npm.mjs NODE_PACKAGE_DIR NATIVE_NODE_FILE OUT_DIR LICENSE_DIR
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const [source, nativeFile, out, licenseDir] = process.argv.slice(2);
if (!licenseDir) {
  console.error('usage: npm.mjs NODE_PACKAGE_DIR NATIVE_NODE_FILE OUT_DIR LICENSE_DIR');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
const repository = { type: 'git', url: 'git+https://github.com/portcullis/portcullis.git', directory: 'bindings/node' };
// One entry per prebuilt platform: [package suffix, os, cpu, libc].
const platforms = [['linux-x64-gnu', 'linux', 'x64', 'glibc']];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

function write(dir, json) {
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(json, null, 2)}\n`);
}
function licenses(dir) {
  for (const file of ['LICENSE', 'THIRD-PARTY-LICENSES']) copyFileSync(join(licenseDir, file), join(dir, file));
}
function pack(dir) {
  const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }).trim();
  console.log(`npm pack ${basename(dir)} -> dist/npm/${file.split('\n').pop()}`);
}

// Platform packages.
for (const [suffix, os, cpu, libc] of platforms) {
  const name = `${pkg.name}-${suffix}`;
  const dir = join(out, name);
  mkdirSync(dir);
  const binary = `portcullis.${suffix}.node`;
  copyFileSync(nativeFile, join(dir, binary));
  licenses(dir);
  writeFileSync(join(dir, 'README.md'), `# ${name}\n\nThe ${suffix} native module of [portcullis](https://www.npmjs.com/package/portcullis). ` +
    'Install `portcullis`, which depends on this package for this platform.\n');
  write(dir, {
    name, version: pkg.version, description: `${pkg.description}: native module for ${suffix}`,
    license: pkg.license, repository, main: binary, files: [binary, 'LICENSE', 'THIRD-PARTY-LICENSES'],
    os: [os], cpu: [cpu], libc: [libc], engines: pkg.engines,
  });
  pack(dir);
}

// The main package: every field of bindings/node/package.json that users see, plus
// optionalDependencies, and typesVersions for TypeScript's node10 resolution, which ignores
// `exports` (node16/nodenext and bundler read `exports`).
const dir = join(out, pkg.name);
mkdirSync(dir);
for (const folder of ['cjs', 'esm']) cpSync(join(source, 'dist', folder), join(dir, 'dist', folder), { recursive: true });
copyFileSync(join(source, 'README.md'), join(dir, 'README.md'));
licenses(dir);
const typesVersions = { '*': {} };
for (const [subpath, target] of Object.entries(pkg.exports)) {
  const types = target?.require?.types;
  if (subpath !== '.' && types) typesVersions['*'][subpath.slice(2)] = [types];
}
const main = {
  name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, repository,
  keywords: ['ai', 'agents', 'policy', 'guardrails', 'mcp', 'langchain', 'openai'],
  engines: pkg.engines, main: pkg.main, types: pkg.types, exports: pkg.exports, typesVersions,
  files: ['dist/', 'LICENSE', 'THIRD-PARTY-LICENSES'],
  optionalDependencies: Object.fromEntries(platforms.map(([suffix]) => [`${pkg.name}-${suffix}`, pkg.version])),
  peerDependencies: pkg.peerDependencies, peerDependenciesMeta: pkg.peerDependenciesMeta,
};
write(dir, main);
pack(dir);
