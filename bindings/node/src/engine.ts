import { readDecision, readVerdict, verdictOf } from './compact';
import { EncodeError, MAX_ACTION_BYTES, MAX_POLICY_DEPTH, encodeJson, wellFormed } from './encode';
import { PortcullisError, AuditError, ClockError, InvalidActionError, InvalidArgumentError, PolicyError, UnavailableError } from './errors';
import { native, type NativeAuditOptions, type NativeCreateError, type NativeEngine, type NativeEngineError } from './native';
import type { Action, AuditRecord, Decision, Explanation, Policy, Verdict } from './types';

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
  /** Write every decision to an audit trail (POLICY.md §8): a file, or memory the host drains. */
  audit?: AuditOptions;
  /**
   * Keep rate-limit admissions and approval grants in a shared store, so every engine created
   * with the same URL (in any process) counts each limit and consumes each grant together:
   * `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS), with the query
   * parameters of docs/shared-state.md. A malformed URL throws `InvalidArgumentError`; a store
   * that is down does not: decisions that need it are denied with code `unavailable` until it
   * answers again. Default: in this engine.
   */
  state?: string;
}

/** Settings of both audit sinks. */
interface AuditQueueOptions {
  /** Records the queue holds before `overflow` applies: 1 to 1,048,576 (default 65,536). */
  queueCapacity?: number;
}

/**
 * An append-only JSON-lines file written by a background thread; the chain continues from the
 * file's last record when it exists. One engine per file.
 */
export interface FileAuditOptions extends AuditQueueOptions {
  sink: 'file';
  /** The trail file; created when missing. Rotated files are renamed `PATH.000001`, ... */
  path: string;
  /** Rotate once the file holds at least this many bytes (default 0: never). */
  maxBytes?: number;
  /** Records reach the file at least this often, in milliseconds (default 200). */
  flushIntervalMs?: number;
  /** `fsync` after every batch written (default false). */
  fsync?: boolean;
  /**
   * When the queue is full: `block` (default) waits for the writer, so no record is lost;
   * `drop` never waits, counts the record as dropped and writes the count to the trail.
   */
  overflow?: 'block' | 'drop';
}

/**
 * Records wait in the engine until `drainAudit` takes them. When `queueCapacity` records wait,
 * further ones are dropped and counted (a `dropped` record says how many): `evaluate` and
 * `drainAudit` run on the same thread, so waiting for room would never end.
 */
export interface MemoryAuditOptions extends AuditQueueOptions {
  sink: 'memory';
  /** Always `drop` (the default) for a memory sink. */
  overflow?: 'drop';
}

/** Where an engine writes its audit trail. */
export type AuditOptions = FileAuditOptions | MemoryAuditOptions;

/** Audit counters. */
export interface AuditStats {
  /** Decision records written to the file (file sink) or handed out by `drainAudit` (memory sink). */
  recorded: number;
  /** Decision records dropped because the queue was full (`overflow: 'drop'`). */
  dropped: number;
}

/** How long an approval lasts and how many actions it covers. */
export interface ApproveOptions {
  /** Validity from now on the engine's clock, in milliseconds (at least 1). */
  ttlMs: number;
  /** How many allowed actions it covers (default 1). */
  uses?: number;
}

const OPTION_KEYS = new Set(['clock', 'startMs', 'maxKeysPerLimit', 'audit', 'state']);
const AUDIT_KEYS = new Set(['sink', 'path', 'maxBytes', 'flushIntervalMs', 'fsync', 'overflow', 'queueCapacity']);
const FILE_ONLY_KEYS = ['path', 'maxBytes', 'flushIntervalMs', 'fsync'] as const;
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
   * when it does not load, `InvalidArgumentError` for bad options, and `AuditError` when the
   * audit trail cannot be opened (a bad policy never opens it).
   */
  static fromPolicy(policy: Policy | string, options: EngineOptions = {}): Engine {
    const { manual, startMs, maxKeys, audit, state } = readOptions(options);
    const created = native.NativeEngine.create(policyText(policy), manual, startMs, maxKeys, audit, state);
    if (isCreateError(created)) throw createError(created);
    if (audit?.sink === 'file') flushOnExit(created);
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
    try {
      const text = actionText(action);
      if (text instanceof EncodeError) return readDecision(this.#native.invalidAction(text.describe('action')));
      return readDecision(this.#native.evaluate(text));
    } catch {
      return this.#failed();
    }
  }

  /**
   * `evaluate`, returning only the verdict: effect, code, deciding rule, `retry_after_ms` and
   * whether a `modify` rewrote the params. The same decision as `evaluate` (it uses rate limits,
   * consumes approvals and writes the audit record the same way), without the work of the
   * lists, texts and action hash: the path for hosts that only act on the effect. A verdict
   * with `params_modified` must not run the action as passed; hosts whose policies use `modify`
   * call `evaluate`. Never throws.
   */
  evaluateVerdict(action: Action | string): Verdict {
    try {
      const text = actionText(action);
      if (text instanceof EncodeError) return verdictOf(readDecision(this.#native.invalidAction(text.describe('action'))));
      return readVerdict(this.#native.evaluateVerdict(text));
    } catch {
      return verdictOf(this.#failed());
    }
  }

  /**
   * Explains the decision for an action (an object or its JSON text): the rules the index
   * offered and skipped, each rule's match and conditions with the values read, the combining
   * steps, and the decision `evaluate` would return now. A dry run: it uses no rate limit,
   * consumes no approval and writes no audit record. Throws `InvalidArgumentError` for a value
   * that cannot be turned into JSON.
   */
  explain(action: Action | string): Explanation {
    const text = actionText(action);
    if (text instanceof EncodeError) throw new InvalidArgumentError(text.describe('action'));
    return JSON.parse(this.#native.explain(text)) as Explanation;
  }

  /**
   * Grants an approval for one action: the action (an object, or its JSON text starting with
   * `{`) or its `action_hash` (`sha256:<hex>`). Returns the hash. A later action with that hash that would
   * need approval is allowed instead, `uses` times, until `ttlMs` passes on the engine's clock.
   * Throws `UnavailableError` when the engine keeps grants in a `state` store that cannot be
   * reached (the grant is not made), `InvalidActionError` for an action that is not valid and
   * `InvalidArgumentError` for a bad hash or options.
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
   * Takes up to `max` records (default 1024) from a memory sink, oldest first; each is handed
   * out once. When records were dropped since the last call, a `dropped` record comes first
   * (and counts toward `max`). Empty for an engine without a memory sink.
   */
  drainAudit(max = 1024): AuditRecord[] {
    if (!isIntegerIn(max, 1, MAX_U32)) {
      throw new InvalidArgumentError(`drainAudit takes a maximum from 1 to ${MAX_U32} records, got ${describe(max)}`);
    }
    return JSON.parse(this.#native.drainAudit(max)) as AuditRecord[];
  }

  /**
   * Waits until every decision made so far is written to the trail file and flushed (to the
   * disk too with `fsync`). Throws `AuditError` when the file cannot be written. Returns at
   * once for a memory sink or an engine without a trail.
   */
  flushAudit(): void {
    const error = this.#native.flushAudit();
    if (error !== null) throw engineError(error);
  }

  /** Records written or drained, and dropped, so far (zero without a trail). */
  auditStats(): AuditStats {
    const { recorded, dropped } = this.#native.auditStats();
    return { recorded, dropped };
  }

  /**
   * `evaluate`, also returning the JSON text of the action the engine decided on (null when the
   * value is not valid JSON), so a caller can run the tool on exactly that. Never throws.
   */
  evaluateWithJson(action: unknown): { decision: Decision; json: string | null } {
    try {
      const text = actionText(action);
      if (text instanceof EncodeError) {
        return { decision: readDecision(this.#native.invalidAction(text.describe('action'))), json: null };
      }
      return { decision: readDecision(this.#native.evaluate(text)), json: text };
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
export function actionText(action: unknown): string | EncodeError {
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
  const text = encodeJson(policy, Infinity, MAX_POLICY_DEPTH);
  if (text instanceof EncodeError) {
    // Too deep is about the document as a whole, as the engine reports it for policy text.
    if (text.reason.startsWith('nested deeper')) {
      throw new PolicyError('', `the policy is nested deeper than ${MAX_POLICY_DEPTH} levels (the limit is ${MAX_POLICY_DEPTH}), or has a cycle`);
    }
    throw new PolicyError(text.path, text.reason);
  }
  return text;
}

/**
 * Engines with a trail file, flushed when the process exits (the end of the event loop,
 * `process.exit`, an uncaught exception): records of decisions already made must not be lost in
 * the writer's buffer. Held weakly, so a trail never keeps its engine alive; an engine that is
 * collected writes its remaining records as it goes.
 */
const fileTrails = new Set<WeakRef<NativeEngine>>();
const forgetTrail = new FinalizationRegistry<WeakRef<NativeEngine>>((ref) => fileTrails.delete(ref));
let exitHookInstalled = false;

function flushOnExit(handle: NativeEngine): void {
  const ref = new WeakRef(handle);
  fileTrails.add(ref);
  forgetTrail.register(handle, ref);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      // A write error cannot be reported any more; the trail verifies up to its last complete line.
      for (const trail of fileTrails) trail.deref()?.flushAudit();
    });
  }
}

function isCreateError(value: NativeEngine | NativeCreateError): value is NativeCreateError {
  return !(value instanceof native.NativeEngine);
}

function createError(error: NativeCreateError): PortcullisError {
  switch (error.kind) {
    case 'policy':
      return new PolicyError(error.path, error.message);
    case 'audit':
      return new AuditError(`audit trail: ${error.message}`);
    default:
      return new InvalidArgumentError(error.message);
  }
}

function engineError(error: NativeEngineError): PortcullisError {
  switch (error.kind) {
    case 'system_clock':
      return new ClockError(error.message);
    case 'invalid_action':
      return new InvalidActionError(error.message);
    case 'invalid_argument':
      return new InvalidArgumentError(error.message);
    case 'audit':
      return new AuditError(error.message);
    case 'unavailable':
      return new UnavailableError(error.message);
    default:
      return new PortcullisError(error.message);
  }
}

interface ReadOptions {
  manual: boolean;
  startMs: number;
  maxKeys: number;
  audit: NativeAuditOptions | undefined;
  state: string | undefined;
}

function readOptions(options: unknown): ReadOptions {
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
  const state = record.state;
  if (state !== undefined && (typeof state !== 'string' || state.includes('\0'))) {
    throw new InvalidArgumentError(`state must be a redis:// or rediss:// URL string, got ${describe(state)}`);
  }
  return {
    manual: clock === 'manual',
    startMs: (startMs as number | undefined) ?? 0,
    maxKeys: (maxKeys as number | undefined) ?? 0,
    audit: record.audit === undefined ? undefined : readAuditOptions(record.audit),
    state: state as string | undefined,
  };
}

function readAuditOptions(options: unknown): NativeAuditOptions {
  const record = plainOptions(options, AUDIT_KEYS, 'audit options');
  const { sink, path, maxBytes, flushIntervalMs, fsync, overflow, queueCapacity } = record;
  if (sink !== 'file' && sink !== 'memory') {
    throw new InvalidArgumentError(`audit.sink must be 'file' or 'memory', got ${describe(sink)}`);
  }
  if (sink === 'memory') {
    for (const key of FILE_ONLY_KEYS) {
      if (record[key] !== undefined) throw new InvalidArgumentError(`audit.${key} needs sink: 'file'`);
    }
    if (overflow === 'block') {
      throw new InvalidArgumentError(
        "audit.overflow 'block' would hang a memory sink: evaluate would wait for a drainAudit that runs on the same thread (use 'drop', the default)",
      );
    }
  }
  if (overflow !== undefined && overflow !== 'block' && overflow !== 'drop') {
    throw new InvalidArgumentError(`audit.overflow must be 'block' or 'drop', got ${describe(overflow)}`);
  }
  if (queueCapacity !== undefined && !isIntegerIn(queueCapacity, 1, native.MAX_QUEUE_CAPACITY)) {
    throw new InvalidArgumentError(`audit.queueCapacity must be an integer from 1 to ${native.MAX_QUEUE_CAPACITY}, got ${describe(queueCapacity)}`);
  }
  const audit: NativeAuditOptions = { sink, overflow: (overflow as 'block' | 'drop' | undefined) ?? (sink === 'memory' ? 'drop' : 'block') };
  if (queueCapacity !== undefined) audit.queueCapacity = queueCapacity as number;
  if (sink === 'memory') return audit;
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError(`audit.path must be the trail file's path (a non-empty string), got ${describe(path)}`);
  }
  if (!wellFormed(path)) throw new InvalidArgumentError('audit.path has a lone surrogate');
  if (maxBytes !== undefined && !isIntegerIn(maxBytes, 0, Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`audit.maxBytes must be a non-negative integer (0: never rotate), got ${describe(maxBytes)}`);
  }
  if (flushIntervalMs !== undefined && !isIntegerIn(flushIntervalMs, 1, Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`audit.flushIntervalMs must be a positive integer number of milliseconds, got ${describe(flushIntervalMs)}`);
  }
  if (fsync !== undefined && typeof fsync !== 'boolean') {
    throw new InvalidArgumentError(`audit.fsync must be a boolean, got ${describe(fsync)}`);
  }
  audit.path = path;
  if (maxBytes !== undefined) audit.maxBytes = maxBytes as number;
  if (flushIntervalMs !== undefined) audit.flushIntervalMs = flushIntervalMs as number;
  if (fsync !== undefined) audit.fsync = fsync;
  return audit;
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
