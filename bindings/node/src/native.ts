/** The Node-API module built from `native/` (see scripts/build.mjs) and its interface. */

import * as path from 'node:path';

import type { Decision } from './types';

export interface NativePolicyError {
  path: string;
  message: string;
}

export interface NativeEngineError {
  kind: 'system_clock' | 'invalid_argument' | 'invalid_action' | 'audit';
  message: string;
}

export interface NativeEngine {
  updatePolicy(policy: string): NativePolicyError | null;
  evaluateJson(action: string): string;
  evaluateJsonObject(action: string): Decision;
  evaluateValue(action: unknown): string;
  invalidAction(reason: string): string;
  approveJson(action: string, ttlMs: number, uses: number): string | NativeEngineError;
  approveHash(hash: string, ttlMs: number, uses: number): NativeEngineError | null;
  setTime(unixMs: number): NativeEngineError | null;
  nowMs(): number;
  policyInfo(): { name: string; version?: string | null };
}

export interface NativeModule {
  NativeEngine: {
    new (): never;
    create(policy: string, manual: boolean, startMs: number, maxKeysPerLimit: number): NativeEngine | NativePolicyError;
  };
}

/** The file the build writes next to the compiled JavaScript (`dist/agentgate.node`). */
export const NATIVE_PATH = path.join(__dirname, '..', 'agentgate.node');

function load(): NativeModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(NATIVE_PATH) as NativeModule;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`agentgate: cannot load the native module ${NATIVE_PATH} (run \`npm run build\`): ${detail}`);
  }
}

export const native: NativeModule = load();
