/**
 * portcullis: a deterministic, fail-closed policy engine for AI agent tool calls.
 *
 * ```ts
 * import { Engine } from 'portcullis';
 * const engine = Engine.fromPolicy(policy);
 * const decision = engine.evaluate({ tool: 'database.write', agent: { id: 'agent-001' }, params });
 * if (!decision.allowed) throw new Error(decision.reason);
 * ```
 */

export {
  Engine,
  type ApproveOptions,
  type AuditOptions,
  type AuditStats,
  type EngineOptions,
  type FileAuditOptions,
  type MemoryAuditOptions,
} from './engine';
export {
  PortcullisError,
  ApprovalRequiredError,
  AuditError,
  ClockError,
  DeniedError,
  InvalidActionError,
  InvalidArgumentError,
  PolicyError,
  UnavailableError,
  refusalMessage,
} from './errors';
export { guard, type GuardOptions } from './guard';
export { RemoteEngine, type RemoteEngineOptions } from './remote';
export type * from './types';
