/** The Node-API module built from `native/` (see scripts/build.mjs) and its interface. */

import * as fs from 'node:fs';
import * as path from 'node:path';

// The module's declarations, generated from native/src by `napi build` (scripts/build.mjs).
import type * as Addon from './addon';

export type { NativeAuditOptions, NativeCreateError, NativeEngine, NativeEngineError, NativePolicyError } from './addon';

/** The module's exports. */
export type NativeModule = typeof Addon;

/** The file a build from source writes next to the compiled JavaScript (`dist/portcullis.node`). */
export const NATIVE_PATH = path.join(__dirname, '..', 'portcullis.node');

/** Prebuilt native modules, one npm package each (an optional dependency of `portcullis`). */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64-gnu': 'portcullis-linux-x64-gnu',
};

/** `<os>-<cpu>[-<libc>]`, the key of PLATFORM_PACKAGES (libc only on Linux: gnu or musl). */
export function platformKey(): string {
  const key = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return key;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return `${key}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

const FROM_SOURCE =
  'to build from source: clone the repository, install Rust and run `npm install && npm run build` ' +
  'in bindings/node, then install that folder (npm install /path/to/bindings/node)';

function load(): NativeModule {
  // A build from source (npm run build, npm pack) carries its own module.
  if (fs.existsSync(NATIVE_PATH)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(NATIVE_PATH) as NativeModule;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(`portcullis: cannot load the native module ${NATIVE_PATH} (run \`npm run build\`): ${detail}`);
    }
  }
  const key = platformKey();
  const name = PLATFORM_PACKAGES[key];
  const supported = Object.keys(PLATFORM_PACKAGES).join(', ');
  if (name === undefined) {
    throw new Error(`portcullis: no prebuilt native module for this platform (${key}); prebuilt: ${supported}; ${FROM_SOURCE}`);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as NativeModule;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      `portcullis: cannot load ${name}, the native module for ${key} (is it installed? npm installs it ` +
        `as an optional dependency of portcullis unless optional dependencies are omitted): ${detail}; ${FROM_SOURCE}`,
    );
  }
}

export const native: NativeModule = load();
