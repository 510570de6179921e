/** The Node-API module built from `native/` (see scripts/build.mjs) and its interface. */

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NativePolicyError {
  path: string;
  message: string;
}

export interface NativeCreateError {
  kind: 'policy' | 'audit' | 'invalid_argument';
  path: string;
  message: string;
}

/** Audit options as `readOptions` validated them; absent keys keep the core's defaults. */
export interface NativeAuditOptions {
  sink: 'file' | 'memory';
  path?: string;
  maxBytes?: number;
  flushIntervalMs?: number;
  fsync?: boolean;
  overflow?: 'block' | 'drop';
  queueCapacity?: number;
}

export interface NativeEngineError {
  kind: 'system_clock' | 'invalid_argument' | 'invalid_action' | 'audit' | 'unavailable';
  message: string;
}

export interface NativeEngine {
  updatePolicy(policy: string): NativePolicyError | null;
  /** The decision in the compact form (src/compact.ts). */
  evaluate(action: string): string;
  /** The verdict in the compact form (src/compact.ts). */
  evaluateVerdict(action: string): string;
  /** The decision as JSON text. */
  evaluateJson(action: string): string;
  explain(action: string): string;
  /** The `invalid_action` deny in the compact form. */
  invalidAction(reason: string): string;
  approveJson(action: string, ttlMs: number, uses: number): string | NativeEngineError;
  approveHash(hash: string, ttlMs: number, uses: number): NativeEngineError | null;
  setTime(unixMs: number): NativeEngineError | null;
  nowMs(): number;
  policyInfo(): { name: string; version?: string | null };
  /** The JSON text of an array of audit records. */
  drainAudit(max: number): string;
  flushAudit(): NativeEngineError | null;
  auditStats(): { recorded: number; dropped: number };
}

export interface NativeModule {
  /** The core's largest audit queue, in records. */
  MAX_QUEUE_CAPACITY: number;
  NativeEngine: {
    new (): never;
    create(
      policy: string,
      manual: boolean,
      startMs: number,
      maxKeysPerLimit: number,
      audit?: NativeAuditOptions,
      state?: string,
    ): NativeEngine | NativeCreateError;
  };
}

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
