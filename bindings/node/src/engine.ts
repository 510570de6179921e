import { EncodeError, MAX_ACTION_BYTES, encodeJson, wellFormed } from './encode';
import { AgentGateError, ClockError, InvalidActionError, InvalidArgumentError, PolicyError } from './errors';
import { native, type NativeEngine, type NativeEngineError, type NativePolicyError } from './native';
import type { Action, Decision, Policy } from './types';

/** How an engine reads time and bounds its rate-limit state. */
export interface EngineOptions {
  /**
   * `system` (default) reads the wall clock; `manual` starts at `startMs` and moves only with
   * `setTime`, for tests and simulations.
   */
  clock?: 'system' | 'manual';
  /** The manual clock's start, unix milliseconds (default 0). Only with `clock: 'manual'`. */
  startMs?: number;
  /** The keys each rate limit keeps (default 100,000); a new key past that is denied. */
  maxKeysPerLimit?: number;
}

/** How long an approval lasts and how many actions it covers. */
export interface ApproveOptions {
  /** Validity from now on the engine's clock, in milliseconds (at least 1). */
  ttlMs: number;
  /** How many allowed actions it covers (default 1). */
  uses?: number;
}

const OPTION_KEYS = new Set(['clock', 'startMs', 'maxKeysPerLimit']);
const APPROVE_KEYS = new Set(['ttlMs', 'uses']);
const CONSTRUCTION = Symbol('Engine construction');
const MAX_U32 = 0xffff_ffff;

/**
 * A policy engine. Create one with `Engine.fromPolicy`; every method is synchronous. `evaluate`
 * never throws: a value it cannot read as an action gets a deny with code `invalid_action`.
 */
export class Engine {
  readonly #native: NativeEngine;

  /** Use `Engine.fromPolicy`. */
  private constructor(token: symbol, handle: NativeEngine) {
    if (token !== CONSTRUCTION) throw new TypeError('use Engine.fromPolicy(policy, options) to create an Engine');
    this.#native = handle;
  }

  /**
   * Loads a policy (an object or its JSON text). Throws `PolicyError` with the offending path
   * when it does not load, `InvalidArgumentError` for bad options.
   */
  static fromPolicy(policy: Policy | string, options: EngineOptions = {}): Engine {
    const { manual, startMs, maxKeys } = readOptions(options);
    const created = native.NativeEngine.create(policyText(policy), manual, startMs, maxKeys);
    if (isPolicyError(created)) throw new PolicyError(created.path, created.message);
    return new Engine(CONSTRUCTION, created);
  }

  /**
   * Replaces the policy atomically. On `PolicyError` the current policy stays in place; rate
   * limit counters and approvals carry over as POLICY.md §5.4 and §5.5 say.
   */
  updatePolicy(policy: Policy | string): void {
    const error = this.#native.updatePolicy(policyText(policy));
    if (error !== null) throw new PolicyError(error.path, error.message);
  }

  /**
   * Decides an action: an object, or its JSON text. Never throws; an action that is not valid
   * (bad JSON, missing `tool`, a function or `undefined` inside, too deep, ...) is denied with
   * code `invalid_action` and a reason that says what is wrong.
   */
  evaluate(action: Action | string): Decision {
    return this.evaluateWithJson(action).decision;
  }

  /**
   * Grants an approval for one action: the action (an object, or its JSON text starting with
   * `{`) or its `action_hash` (`sha256:<hex>`). Returns the hash. A later action with that hash that would
   * need approval is allowed instead, `uses` times, until `ttlMs` passes on the engine's clock.
   */
  approve(actionOrHash: Action | string, options: ApproveOptions): string {
    const { ttlMs, uses } = readApproveOptions(options);
    if (typeof actionOrHash === 'string' && !actionOrHash.trimStart().startsWith('{')) {
      const error = this.#native.approveHash(actionOrHash, ttlMs, uses);
      if (error !== null) throw engineError(error);
      return actionOrHash;
    }
    const text = actionText(actionOrHash);
    if (text instanceof EncodeError) throw new InvalidActionError(text.describe('action'));
    const result = this.#native.approveJson(text, ttlMs, uses);
    if (typeof result !== 'string') throw engineError(result);
    return result;
  }

  /** Sets the manual clock (unix milliseconds). Throws `ClockError` on a system-clock engine. */
  setTime(unixMs: number): void {
    if (typeof unixMs !== 'number' || !Number.isSafeInteger(unixMs)) {
      throw new InvalidArgumentError(`setTime takes unix milliseconds as an integer, got ${describe(unixMs)}`);
    }
    const error = this.#native.setTime(unixMs);
    if (error !== null) throw engineError(error);
  }

  /** The engine's clock, unix milliseconds. */
  now(): number {
    return this.#native.nowMs();
  }

  /**
   * `evaluate`, also returning the JSON text of the action the engine decided on (null when the
   * value is not valid JSON), so a caller can run the tool on exactly that. Never throws.
   */
  evaluateWithJson(action: unknown): { decision: Decision; json: string | null } {
    try {
      const text = actionText(action);
      if (text instanceof EncodeError) {
        return { decision: JSON.parse(this.#native.invalidAction(text.describe('action'))) as Decision, json: null };
      }
      return { decision: JSON.parse(this.#native.evaluateJson(text)) as Decision, json: text };
    } catch {
      return { decision: this.#failed(), json: null };
    }
  }

  /**
   * The deny for a failure of the binding itself (never expected: the engine does not throw).
   * Not an audit record of its own: the failure may come after the engine recorded its decision.
   */
  #failed(): Decision {
    let policy = { name: '', version: null as string | null };
    try {
      const { name, version } = this.#native.policyInfo();
      policy = { name, version: version ?? null };
    } catch {
      // Keep the empty name: the deny matters, not its label.
    }
    return {
      effect: 'deny',
      allowed: false,
      code: 'engine_error',
      rule: null,
      reason: 'the policy engine failed',
      matched: [],
      shadow: [],
      params: null,
      retry_after_ms: null,
      action_hash: null,
      policy,
      eval_ns: 0,
    };
  }
}

/** The JSON text of an action (an object or text), or why it cannot be one. */
function actionText(action: unknown): string | EncodeError {
  if (typeof action === 'string') {
    if (!wellFormed(action)) return new EncodeError('the JSON text has a lone surrogate');
    if (action.length > MAX_ACTION_BYTES) return new EncodeError(`its JSON text is larger than ${MAX_ACTION_BYTES} bytes`);
    return action;
  }
  return encodeJson(action, MAX_ACTION_BYTES);
}

function policyText(policy: unknown): string {
  if (typeof policy === 'string') {
    if (!wellFormed(policy)) throw new PolicyError('', 'the policy text has a lone surrogate');
    return policy;
  }
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new PolicyError('', `a policy is an object or its JSON text, got ${describe(policy)}`);
  }
  const text = encodeJson(policy);
  if (text instanceof EncodeError) throw new PolicyError(text.path, text.reason);
  return text;
}

function isPolicyError(value: NativeEngine | NativePolicyError): value is NativePolicyError {
  return !(value instanceof native.NativeEngine);
}

function engineError(error: NativeEngineError): AgentGateError {
  switch (error.kind) {
    case 'system_clock':
      return new ClockError(error.message);
    case 'invalid_action':
      return new InvalidActionError(error.message);
    case 'invalid_argument':
      return new InvalidArgumentError(error.message);
    default:
      return new AgentGateError(error.message);
  }
}

function readOptions(options: unknown): { manual: boolean; startMs: number; maxKeys: number } {
  const record = plainOptions(options, OPTION_KEYS, 'Engine.fromPolicy options');
  const clock = record.clock ?? 'system';
  if (clock !== 'system' && clock !== 'manual') {
    throw new InvalidArgumentError(`clock must be 'system' or 'manual', got ${describe(clock)}`);
  }
  const startMs = record.startMs;
  if (startMs !== undefined) {
    if (clock !== 'manual') throw new InvalidArgumentError("startMs needs clock: 'manual'");
    if (typeof startMs !== 'number' || !Number.isSafeInteger(startMs)) {
      throw new InvalidArgumentError(`startMs must be an integer number of unix milliseconds, got ${describe(startMs)}`);
    }
  }
  const maxKeys = record.maxKeysPerLimit;
  if (maxKeys !== undefined && !isIntegerIn(maxKeys, 1, MAX_U32)) {
    throw new InvalidArgumentError(`maxKeysPerLimit must be an integer from 1 to ${MAX_U32}, got ${describe(maxKeys)}`);
  }
  return { manual: clock === 'manual', startMs: (startMs as number | undefined) ?? 0, maxKeys: (maxKeys as number | undefined) ?? 0 };
}

function readApproveOptions(options: unknown): { ttlMs: number; uses: number } {
  const record = plainOptions(options, APPROVE_KEYS, 'approve options');
  const { ttlMs, uses = 1 } = record;
  if (!isIntegerIn(ttlMs, 1, Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`ttlMs must be a positive integer number of milliseconds, got ${describe(ttlMs)}`);
  }
  if (!isIntegerIn(uses, 1, MAX_U32)) {
    throw new InvalidArgumentError(`uses must be an integer from 1 to ${MAX_U32}, got ${describe(uses)}`);
  }
  return { ttlMs: ttlMs as number, uses: uses as number };
}

/** Reads an options bag: own keys only, unknown keys rejected (a typo must not pass silently). */
function plainOptions(options: unknown, allowed: Set<string>, what: string): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${describe(options)}`);
  }
  const record: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) throw new InvalidArgumentError(`${what}: unknown option ${JSON.stringify(key)}`);
    record[key] = (options as Record<string, unknown>)[key];
  }
  return record;
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
