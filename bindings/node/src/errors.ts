import type { Decision } from './types';

/** The base class of every error this package throws. */
export class PortcullisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A policy document that does not load. `path` names the offending value in the spec's dotted
 * form (`rules[3].when.all[1].matches`; `""` for the document root); `message` says what is wrong.
 */
export class PolicyError extends PortcullisError {
  readonly path: string;

  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** An argument the engine cannot accept (a bad option, TTL, use count, time or hash). */
export class InvalidArgumentError extends PortcullisError {}

/** An action passed to `approve` that is not a valid action. */
export class InvalidActionError extends PortcullisError {}

/** `setTime` on an engine that reads the system clock. */
export class ClockError extends PortcullisError {}

/**
 * The audit trail cannot be opened (`Engine.fromPolicy`: a missing directory, no permission, a
 * file whose last line is not a trail record) or written (`flushAudit`). The message names the
 * file and the operating system's error.
 */
export class AuditError extends PortcullisError {}

/**
 * A shared store or remote engine that cannot be reached: `approve` on an engine whose `state`
 * store is down or refuses the grant, or on a `RemoteEngine` whose server cannot be reached or
 * answered 5xx. The grant was not made; retry once the store or server answers again.
 */
export class UnavailableError extends PortcullisError {}

/**
 * The sentence an agent or a log gets for a decision that is not allow:
 * `Denied by policy: <reason>` or `Approval required by policy: <reason>`.
 */
export function refusalMessage(decision: Decision): string {
  return decision.effect === 'require_approval'
    ? `Approval required by policy: ${decision.reason}`
    : `Denied by policy: ${decision.reason}`;
}

/** Thrown by `guard` when the decision is not allow; carries the decision. */
export class DeniedError extends PortcullisError {
  readonly decision: Decision;

  constructor(decision: Decision) {
    super(refusalMessage(decision));
    this.decision = decision;
  }
}

/** A `DeniedError` whose decision is `require_approval`: approve `decision.action_hash` and retry. */
export class ApprovalRequiredError extends DeniedError {}
