import * as http from 'node:http';
import * as https from 'node:https';
import { actionText, type ApproveOptions, type Engine } from './engine';
import { EncodeError } from './encode';
import { InvalidActionError, InvalidArgumentError, UnavailableError } from './errors';
import type { Action, Decision, DecisionCode, Effect } from './types';

/** Options of a `RemoteEngine`. */
export interface RemoteEngineOptions {
  /** Time allowed for one call: connecting, sending and reading the whole answer (default 250). */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer <token>` over TCP (never over a Unix socket). */
  token?: string;
  /**
   * An in-process engine that decides when the remote engine is unavailable; its decisions are
   * marked `fallback: true`. The remote engine does not close it.
   */
  fallback?: Engine;
  /** Consecutive failures (transport errors, timeouts, 5xx) that open the circuit breaker (default 5; 0 never opens it). */
  breakerFailures?: number;
  /** How long an open breaker fails calls at once before one call probes `GET /readyz` (default 500). */
  breakerCooldownMs?: number;
  /** Certificate authorities trusted for an `https://` endpoint (PEM), instead of Node's defaults. */
  ca?: string | Buffer;
}


const OPTION_KEYS = new Set(['timeoutMs', 'token', 'fallback', 'breakerFailures', 'breakerCooldownMs', 'ca']);
const EFFECTS: ReadonlySet<string> = new Set<Effect>(['allow', 'deny', 'require_approval']);
const CODES: ReadonlySet<string> = new Set<DecisionCode>([
  'rule', 'default', 'approved', 'rate_limited', 'approval_required', 'unknown_agent',
  'invalid_action', 'engine_error', 'unavailable',
]);
/** A decision is small; this bounds what a broken or hostile server can make the client hold. */
const MAX_ANSWER_BYTES = 16 << 20;

interface Answer {
  status: number;
  body: string;
}

/**
 * A client of `portcullis serve` with the local `Engine`'s `evaluate` and `approve`, returning
 * promises. It fails closed: a call that fails (no connection, timeout, an error status, an
 * answer that is not a valid decision) is a deny with code `unavailable` and a reason, or, with
 * a `fallback` engine, that engine's decision marked `fallback: true`. `evaluate` never rejects.
 * A decision is never retried, so no action is counted twice against a rate limit and no grant
 * is consumed twice.
 */
export class RemoteEngine {
  readonly #request: (options: http.RequestOptions) => http.ClientRequest;
  readonly #base: http.RequestOptions;
  readonly #describe: string;
  readonly #unix: boolean;
  readonly #timeoutMs: number;
  readonly #token: string | undefined;
  readonly #fallback: Engine | undefined;
  readonly #breakerFailures: number;
  readonly #cooldownMs: number;
  readonly #agent: http.Agent;
  #failures = 0;
  #openUntil = 0;
  #lastError = '';
  #probing = false;

  /**
   * A client of the server at `endpoint`: `unix:PATH`, `tcp:HOST:PORT`, `http://HOST:PORT` or
   * `https://HOST:PORT`. Nothing is connected until the first call. Throws
   * `InvalidArgumentError` for a malformed endpoint or option.
   */
  constructor(endpoint: string, options: RemoteEngineOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new InvalidArgumentError(`unknown option ${JSON.stringify(key)}`);
    }
    this.#timeoutMs = positive(options.timeoutMs, 250, 'timeoutMs');
    this.#breakerFailures = positive(options.breakerFailures, 5, 'breakerFailures', true);
    this.#cooldownMs = positive(options.breakerCooldownMs, 500, 'breakerCooldownMs');
    this.#token = options.token;
    this.#fallback = options.fallback;
    if (typeof endpoint !== 'string') throw new InvalidArgumentError('endpoint must be a string');
    const secure = endpoint.startsWith('https://');
    this.#agent = secure
      ? new https.Agent({ keepAlive: true, ca: options.ca })
      : new http.Agent({ keepAlive: true });
    this.#request = secure ? https.request : http.request;
    this.#describe = endpoint;
    this.#unix = endpoint.startsWith('unix:');
    if (this.#unix) {
      const socketPath = endpoint.slice('unix:'.length);
      if (socketPath === '') throw new InvalidArgumentError(`${endpoint}: the socket path is empty`);
      this.#base = { socketPath };
    } else {
      const hostPort = endpoint.startsWith('tcp:')
        ? endpoint.slice(4)
        : /^https?:\/\//.test(endpoint)
          ? endpoint.replace(/^https?:\/\//, '').replace(/\/$/, '')
          : null;
      const match = hostPort === null ? null : /^(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})$/.exec(hostPort);
      if (match === null) {
        throw new InvalidArgumentError(
          `${endpoint}: expected unix:PATH, tcp:HOST:PORT, http://HOST:PORT or https://HOST:PORT`,
        );
      }
      this.#base = { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2]) };
    }
  }

  /** Closes idle connections. The fallback engine stays open. */
  close(): void {
    this.#agent.destroy();
  }

  /** Decides an action (an object or its JSON text) on the remote engine. Never rejects. */
  async evaluate(action: Action | string): Promise<Decision> {
    const text = actionText(action);
    // The server decides a value that is not JSON as invalid_action; the reason stays ours.
    const body = text instanceof EncodeError ? 'null' : text;
    let cause: string;
    try {
      const answer = await this.#call('POST', '/v1/decide', body);
      if (answer.status === 200) {
        const decision = validDecision(answer.body);
        if (decision !== null) {
          if (text instanceof EncodeError && decision.code === 'invalid_action') {
            decision.reason = text.describe('action');
          }
          return decision;
        }
        cause = `the answer of ${this.#describe} is not a valid decision`;
        this.#failed(cause);
      } else {
        cause = `${this.#describe} answered ${answer.status}: ${answer.body.slice(0, 200)}`;
        if (answer.status >= 500) this.#failed(cause);
      }
    } catch (error) {
      cause = (error as Error).message;
    }
    return this.#unavailable(action, cause);
  }

  /**
   * Grants an approval on the remote engine for an action (an object, or its JSON text starting
   * with `{`) or its `action_hash`, and returns the hash. Rejects with `UnavailableError` when
   * the server cannot be reached, `InvalidArgumentError` / `InvalidActionError` when it refuses.
   */
  async approve(actionOrHash: Action | string, options: ApproveOptions): Promise<string> {
    const { ttlMs, uses = 1 } = options ?? ({} as ApproveOptions);
    const request: Record<string, unknown> = { ttl_ms: ttlMs, uses };
    let body: string;
    if (typeof actionOrHash === 'string' && !actionOrHash.trimStart().startsWith('{')) {
      request.action_hash = actionOrHash;
      body = JSON.stringify(request);
    } else {
      const text = actionText(actionOrHash);
      if (text instanceof EncodeError) throw new InvalidActionError(text.describe('action'));
      body = `{"action":${text},"ttl_ms":${JSON.stringify(ttlMs)},"uses":${JSON.stringify(uses)}}`;
    }
    let answer: Answer;
    try {
      answer = await this.#call('POST', '/v1/approve', body);
    } catch (error) {
      throw new UnavailableError((error as Error).message);
    }
    const parsed = parse(answer.body) as { action_hash?: unknown; error?: { code?: unknown; message?: unknown } } | null;
    if (answer.status === 200 && typeof parsed?.action_hash === 'string' && parsed.action_hash.startsWith('sha256:')) {
      return parsed.action_hash;
    }
    const message = typeof parsed?.error?.message === 'string' ? parsed.error.message : answer.body.slice(0, 200);
    if (answer.status >= 500 || answer.status === 200) {
      if (answer.status >= 500) this.#failed(`${this.#describe} answered ${answer.status}`);
      throw new UnavailableError(`${this.#describe} answered ${answer.status}: ${message}`);
    }
    if (parsed?.error?.code === 'invalid_action') throw new InvalidActionError(message);
    throw new InvalidArgumentError(message);
  }

  #unavailable(action: Action | string, cause: string): Decision {
    if (this.#fallback !== undefined) {
      const decision = this.#fallback.evaluate(action);
      return { ...decision, fallback: true };
    }
    return {
      effect: 'deny',
      allowed: false,
      code: 'unavailable',
      rule: null,
      reason: `the remote engine is unavailable: ${cause}`,
      matched: [],
      shadow: [],
      params: null,
      retry_after_ms: null,
      action_hash: null,
      policy: { name: '', version: null },
      eval_ns: 0,
    };
  }

  /** One round trip, sent once; while the breaker is open it fails at once. */
  async #call(method: string, path: string, body: string | null): Promise<Answer> {
    await this.#admit();
    try {
      const answer = await this.#roundTrip(method, path, body);
      if (answer.status < 500) this.#failures = 0;
      return answer;
    } catch (error) {
      this.#failed((error as Error).message);
      throw error;
    }
  }

  async #admit(): Promise<void> {
    if (this.#breakerFailures === 0 || this.#failures < this.#breakerFailures) return;
    const open = `circuit open after ${this.#failures} consecutive failures (last: ${this.#lastError})`;
    if (Date.now() < this.#openUntil || this.#probing) throw new Error(open);
    this.#probing = true;
    try {
      const probe = await this.#roundTrip('GET', '/readyz', null);
      if (probe.status === 200) {
        this.#failures = 0;
        return;
      }
      this.#lastError = `${this.#describe} is not ready (${probe.status})`;
    } catch (error) {
      this.#lastError = (error as Error).message;
    } finally {
      this.#probing = false;
    }
    this.#openUntil = Date.now() + this.#cooldownMs;
    throw new Error(`circuit open; probe failed: ${this.#lastError}`);
  }

  #failed(message: string): void {
    this.#failures += 1;
    this.#lastError = message;
    if (this.#breakerFailures > 0 && this.#failures >= this.#breakerFailures) {
      this.#openUntil = Date.now() + this.#cooldownMs;
    }
  }

  #roundTrip(method: string, path: string, body: string | null): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      if (this.#token !== undefined && !this.#unix) headers.authorization = `Bearer ${this.#token}`;
      if (body !== null) headers['content-length'] = Buffer.byteLength(body);
      let settled = false;
      const finish = (error: Error | null, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error !== null) reject(error);
        else resolve(answer as Answer);
      };
      const req = this.#request({ ...this.#base, method, path, headers, agent: this.#agent });
      const timer = setTimeout(() => {
        finish(new Error(`the remote engine at ${this.#describe} did not answer within ${this.#timeoutMs} ms`));
        req.destroy();
      }, this.#timeoutMs);
      req.on('error', (error) => finish(new Error(`cannot reach the remote engine at ${this.#describe}: ${error.message}`)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            finish(new Error(`the answer of ${this.#describe} is larger than ${MAX_ANSWER_BYTES} bytes`));
            req.destroy();
          } else {
            chunks.push(chunk);
          }
        });
        res.on('error', (error) => finish(new Error(`cannot read the answer of ${this.#describe}: ${error.message}`)));
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(body ?? undefined);
    });
  }
}

function positive(value: unknown, fallback: number, name: string, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new InvalidArgumentError(`${name} must be an integer ${zeroAllowed ? '>= 0' : '>= 1'}, got ${String(value)}`);
  }
  return value;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The decision in `text` when it is a well-formed §8 decision a server may send, else null. */
function validDecision(text: string): Decision | null {
  const d = parse(text) as Partial<Decision> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return null;
  const ok =
    typeof d.effect === 'string' && EFFECTS.has(d.effect) &&
    d.allowed === (d.effect === 'allow') &&
    typeof d.code === 'string' && CODES.has(d.code) &&
    (d.rule === null || typeof d.rule === 'string') &&
    typeof d.reason === 'string' &&
    Array.isArray(d.matched) && Array.isArray(d.shadow) &&
    (d.params === null || (typeof d.params === 'object' && !Array.isArray(d.params))) &&
    typeof d.policy === 'object' && d.policy !== null &&
    d.fallback !== true;
  return ok ? (d as Decision) : null;
}
