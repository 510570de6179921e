/**
 * Types of the portcullis policy language, version 1: the policy document, the action a host asks
 * about, and the decision it gets back. Keys are spelled exactly as in the JSON documents, so a
 * policy written in TypeScript, loaded from a file or logged as a decision reads the same.
 */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Any JSON value but `null` (the operand of `eq`, `ne`, `contains`, ...). */
export type NonNullJsonValue = boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A glob: `*` matches any run of characters (including `.` and `/`), `?` one character, `\`
 * escapes the next one; everything else is literal and case-sensitive.
 */
export type Glob = string;

/** The outcome of a decision. */
export type Effect = 'allow' | 'deny' | 'require_approval';

/** What a rule does when it fires. */
export type RuleEffect = Effect | 'rate_limit';

/** A tool invocation, an agent-to-agent message, or a resource access. */
export type ActionKind = 'tool_call' | 'message' | 'resource';

/** Day names for `time.days`. */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/**
 * A field of the action a condition reads, after defaults: `kind`, `tool`, `agent.id`,
 * `agent.roles` (from the registry), `target`, `params...`, `context...`, or a JSON Pointer
 * (`/params/a.b`) for keys that contain dots.
 */
export type FieldPath =
  | 'kind'
  | 'tool'
  | 'agent.id'
  | 'agent.roles'
  | 'target'
  | 'params'
  | `params.${string}`
  | 'context'
  | `context.${string}`
  | `/${string}`;

/** A path into the action's parameters, as `modify` takes it. */
export type ParamsPath = `params.${string}`;

/** `"500ms"`, `"30s"`, `"1m"`, `"1h"`, `"1d"`: one integer and one unit, 1 ms to 31 days. */
export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

// ---------------------------------------------------------------------------------------------
// Conditions

/** The operators of a field condition and their operands (POLICY.md §4.1). */
export interface FieldOperators {
  /** True when the field is present and not null (operand `true`), or missing (operand `false`). */
  exists: boolean;
  /** Equal (numbers as doubles, `1 == 1.0`; objects and arrays structurally). Unknown when the field is missing. */
  eq: NonNullJsonValue;
  /** Different. Unknown when the field is missing. */
  ne: NonNullJsonValue;
  /** Equal to one of the elements (non-empty, no `null`). Unknown when the field is missing. */
  in: NonNullJsonValue[];
  /** Equal to none of the elements (non-empty, no `null`). Unknown when the field is missing. */
  not_in: NonNullJsonValue[];
  /** A number less than the operand. Unknown when missing or not a number. */
  lt: number;
  /** A number less than or equal to the operand. */
  lte: number;
  /** A number greater than the operand. */
  gt: number;
  /** A number greater than or equal to the operand. */
  gte: number;
  /** A string starting with the operand. Unknown when missing or not a string. */
  prefix: string;
  /** A string ending with the operand. */
  suffix: string;
  /** A string containing the operand (a string), or an array with an element equal to it. */
  contains: NonNullJsonValue;
  /** A string the regex finds a match in (unanchored, Rust `regex` syntax, at most 4,096 characters). */
  matches: string;
  /** A string matching the glob, or any glob of a non-empty list. */
  glob: Glob | Glob[];
  /** A path lexically inside one of these absolute directories (`{agent}` is the acting agent's id). */
  path_within: string[];
  /** A URL or host whose host matches one of these patterns (`example.com`, `*.example.com`, `*`, IP literals). */
  host_in: string[];
}

/** A field condition with exactly the operator `Op`. */
export type FieldConditionOf<Op extends keyof FieldOperators> = { field: FieldPath } & {
  [K in Op]: FieldOperators[K];
} & { [K in Exclude<keyof FieldOperators, Op>]?: never };

export type ExistsCondition = FieldConditionOf<'exists'>;
export type EqCondition = FieldConditionOf<'eq'>;
export type NeCondition = FieldConditionOf<'ne'>;
export type InCondition = FieldConditionOf<'in'>;
export type NotInCondition = FieldConditionOf<'not_in'>;
export type LtCondition = FieldConditionOf<'lt'>;
export type LteCondition = FieldConditionOf<'lte'>;
export type GtCondition = FieldConditionOf<'gt'>;
export type GteCondition = FieldConditionOf<'gte'>;
export type PrefixCondition = FieldConditionOf<'prefix'>;
export type SuffixCondition = FieldConditionOf<'suffix'>;
export type ContainsCondition = FieldConditionOf<'contains'>;
export type MatchesCondition = FieldConditionOf<'matches'>;
export type GlobCondition = FieldConditionOf<'glob'>;
export type PathWithinCondition = FieldConditionOf<'path_within'>;
export type HostInCondition = FieldConditionOf<'host_in'>;

/** A leaf condition on one field of the action, with exactly one operator. */
export type FieldCondition =
  | ExistsCondition
  | EqCondition
  | NeCondition
  | InCondition
  | NotInCondition
  | LtCondition
  | LteCondition
  | GtCondition
  | GteCondition
  | PrefixCondition
  | SuffixCondition
  | ContainsCondition
  | MatchesCondition
  | GlobCondition
  | PathWithinCondition
  | HostInCondition;

/** True when every child is true (non-empty list). */
export interface AllCondition {
  all: Condition[];
}

/** True when any child is true (non-empty list). */
export interface AnyCondition {
  any: Condition[];
}

/** Swaps true and false; unknown stays unknown. */
export interface NotCondition {
  not: Condition;
}

/** True when the engine's clock, read in `tz`, is in `[between[0], between[1])`. */
export interface TimeCondition {
  time: {
    /** `"HH:MM"` start and end; an end before the start wraps past midnight. */
    between: [string, string];
    /** The days the window starts on (default every day). */
    days?: Weekday[];
    /** An IANA zone (`Europe/Berlin`), `UTC` (default), or a fixed offset `+HH:MM`. */
    tz?: string;
  };
}

/** A condition (POLICY.md §4.1): three-valued, unknown resolves toward restriction. */
export type Condition = AllCondition | AnyCondition | NotCondition | FieldCondition | TimeCondition;

// ---------------------------------------------------------------------------------------------
// Rules and the policy document

/** Which actions a rule applies to: every key present must match, each list matches if any entry does. */
export interface RuleMatch {
  kind?: Glob[];
  tool?: Glob[];
  agent?: Glob[];
  /** Role names; the agent must hold one of them. Naming an undefined role is a load error. */
  role?: string[];
  /** Never matches an action without a target. */
  target?: Glob[];
}

/** Rewrites of `params` applied when the outcome is allow (only on `allow` rules). */
export interface Modify {
  set?: { [path: ParamsPath]: JsonValue };
  remove?: ParamsPath[];
  clamp?: { [path: ParamsPath]: { min?: number; max?: number } };
}

/** The part of an action a rate-limit counter is kept per. */
export type LimitKey = 'agent' | 'tool' | 'target' | 'kind' | 'role' | `params.${string}` | `context.${string}`;

/** A sliding-window rate limit (POLICY.md §5.4). */
export interface Limit {
  /** Actions admitted per window, 1 to 1,000,000. */
  max: number;
  window: Duration;
  /** Default `["agent"]`; `[]` keeps one counter for every action the rule fires on. */
  per?: LimitKey[];
}

interface RuleBase {
  /** Unique in the policy, `[A-Za-z0-9._:-]{1,128}`. */
  id: string;
  description?: string;
  /** Returned in the decision (default: the rule id). */
  reason?: string;
  /** `false` removes the rule from evaluation (it must still be valid). */
  enabled?: boolean;
  /** Evaluated and reported in `shadow`, never changes the outcome. */
  shadow?: boolean;
  /** Used only by `first_match`: higher first. */
  priority?: number;
  match?: RuleMatch;
  when?: Condition;
  unless?: Condition;
}

export interface AllowRule extends RuleBase {
  effect: 'allow';
  modify?: Modify;
  limit?: never;
}

export interface DenyRule extends RuleBase {
  effect: 'deny';
  modify?: never;
  limit?: never;
}

export interface RequireApprovalRule extends RuleBase {
  effect: 'require_approval';
  modify?: never;
  limit?: never;
}

export interface RateLimitRule extends RuleBase {
  effect: 'rate_limit';
  limit: Limit;
  modify?: never;
}

/** A rule (POLICY.md §4). */
export type Rule = AllowRule | DenyRule | RequireApprovalRule | RateLimitRule;

/** An entry of the identity registry: an exact id or a glob, and the roles it grants. */
export interface AgentEntry {
  id: Glob;
  roles?: string[];
}

/** A policy document (POLICY.md §2). */
export interface Policy {
  /** The format version. */
  portcullis: 1;
  /** `[A-Za-z0-9._-]{1,128}` */
  name: string;
  /** Free text of at most 128 characters, echoed in decisions. */
  version?: string;
  /** The effect when no deciding rule fires (default `deny`). */
  default?: 'deny' | 'allow';
  combining?: 'deny_overrides' | 'first_match';
  /** Deny agents that match no registry entry (code `unknown_agent`). */
  require_known_agent?: boolean;
  agents?: AgentEntry[];
  roles?: { [role: string]: { inherits?: string[] } };
  rules?: Rule[];
  audit?: { include_params?: string[] };
}

// ---------------------------------------------------------------------------------------------
// The action and the decision

/** An object of JSON values (the action's `params` and `context`). */
export type JsonObject = { readonly [key: string]: unknown };

/**
 * What the host asks about (POLICY.md §1). Values must be JSON: plain objects, arrays, strings,
 * finite numbers, booleans and null. Anything else makes the action invalid (a deny).
 */
export interface Action {
  /** Default `tool_call`. */
  kind?: ActionKind | null;
  /** The tool, message channel or resource name (non-empty). */
  tool: string;
  /** The acting agent; other keys are ignored (roles come only from the policy's registry). */
  agent: { readonly id: string; readonly [key: string]: unknown };
  /** For `message`: the receiving agent's id. */
  target?: string | null;
  /** The call's arguments (default `{}`). */
  params?: JsonObject | null;
  /** Host metadata (session, user, tenant, ...). */
  context?: JsonObject | null;
  /** RFC 3339; recorded, never used for decisions. */
  timestamp?: string | null;
}

/** Why the decision came out as it did. */
export type DecisionCode =
  | 'rule'
  | 'default'
  | 'approved'
  | 'rate_limited'
  | 'approval_required'
  | 'unknown_agent'
  | 'invalid_action'
  | 'engine_error'
  /** A remote engine, or the shared store a limit or grant needed, could not answer in time. */
  | 'unavailable';

/** A shadow rule that fired (it never changes the outcome). */
export interface ShadowHit {
  rule: string;
  effect: RuleEffect;
}

/** The engine's answer (POLICY.md §8). */
export interface Decision {
  effect: Effect;
  /** True only when `effect` is `allow`. */
  allowed: boolean;
  code: DecisionCode;
  /** The deciding rule, or null (`default`, `unknown_agent`, `invalid_action`, `engine_error`). */
  rule: string | null;
  /** The deciding rule's reason, or a sentence that says why. */
  reason: string;
  /** The non-shadow rules that fired and took part, in document order. */
  matched: string[];
  shadow: ShadowHit[];
  /** The rewritten params when a `modify` changed them, else null. */
  params: { [key: string]: JsonValue } | null;
  /** For `rate_limited`: how long until the limit admits again. */
  retry_after_ms: number | null;
  /** `sha256:<hex>` of the canonical action; null for an invalid action. */
  action_hash: string | null;
  policy: { name: string; version: string | null };
  /** Evaluation time in nanoseconds. */
  eval_ns: number;
  /** True only on a decision a `RemoteEngine` took with its fallback engine (POLICY.md §11.2). */
  fallback?: boolean;
}

/**
 * The hot-path summary of a decision (`Engine.evaluateVerdict`): what a host needs to act on
 * the outcome, without the lists, texts and hash of a full `Decision`.
 */
export interface Verdict {
  effect: Effect;
  /** True only when `effect` is `allow`. */
  allowed: boolean;
  code: DecisionCode;
  /** The deciding rule, or null (as in `Decision`). */
  rule: string | null;
  /** For `rate_limited`: how long until the limit admits again. */
  retry_after_ms: number | null;
  /**
   * True when a `modify` rule rewrote the params: the action must not run as it was passed.
   * Hosts whose policies modify params call `evaluate`, which returns the rewritten params.
   */
  params_modified: boolean;
}

// ---------------------------------------------------------------------------------------------
// The audit trail

/** What every audit record carries: its place in the hash chain. */
export interface AuditRecordBase {
  /** 1, 2, 3, ... without gaps over the whole trail (rotated files included). */
  seq: number;
  /** When the record was made: RFC 3339, UTC, milliseconds (for decisions, the engine's clock). */
  time: string;
  /** The previous record's `hash` (`sha256:` and 64 zeros for the first record). */
  prev: string;
  /** `sha256:<hex>` of the record's RFC 8785 JSON without `hash`. */
  hash: string;
}

/**
 * One decision (POLICY.md §8). Of the action it keeps only what names it: `params` holds just
 * the policy's `audit.include_params` paths, and nothing of `context` is written.
 */
export interface AuditDecisionRecord extends AuditRecordBase {
  type: 'decision';
  /** The acting agent; null (like `kind`, `tool` and `target`) for an invalid action. */
  agent: string | null;
  kind: ActionKind | null;
  tool: string | null;
  target: string | null;
  effect: Effect;
  code: DecisionCode;
  rule: string | null;
  reason: string;
  policy: { name: string; version: string | null };
  action_hash: string | null;
  eval_ns: number;
  /**
   * The values of the `audit.include_params` paths the action has, keyed by path
   * (`{"params.table": "users"}`); absent when the policy lists none.
   */
  params?: { [path: string]: JsonValue };
}

/** Decision records lost because the queue was full (`overflow: 'drop'`), since the last such record. */
export interface AuditDroppedRecord extends AuditRecordBase {
  type: 'dropped';
  /** Records dropped since the previous `dropped` record. */
  dropped: number;
  /** Records dropped since the engine started. */
  dropped_total: number;
}

/** In a trail file only: an incomplete last line (a crash mid-write) was cut off on reopening. */
export interface AuditRecoveredRecord extends AuditRecordBase {
  type: 'recovered';
  truncated_bytes: number;
}

/** A line of the audit trail, parsed. */
export type AuditRecord = AuditDecisionRecord | AuditDroppedRecord | AuditRecoveredRecord;

/** One condition's trace in an {@link Explanation}. */
export interface ConditionTrace {
  /** Where it is in the rule, e.g. `when.all[0]`. */
  path: string;
  /** `all`, `any`, `not`, `time` or a leaf operator (`eq`, `gt`, `path_within`...). */
  op: string;
  result: 'true' | 'false' | 'unknown';
  /** Leaves: the field read, its operand when simple, the value found, and whether present. */
  field?: string;
  operand?: JsonValue;
  value?: JsonValue;
  present?: boolean;
  children?: ConditionTrace[];
}

/** One rule's trace in an {@link Explanation}. */
export interface RuleTrace {
  id: string;
  effect: 'allow' | 'deny' | 'require_approval' | 'rate_limit';
  shadow?: boolean;
  priority?: number;
  /** False when the index skipped the rule (`skipped` says why). */
  considered: boolean;
  skipped?: string;
  match?: { result: boolean; keys: { key: string; value: JsonValue; result: boolean }[] };
  when?: ConditionTrace;
  unless?: ConditionTrace;
  fires?: boolean;
  note?: string;
}

/** What `Engine.explain` returns (see docs/cli/explain.md). */
export interface Explanation {
  dry_run: true;
  decision: Decision;
  rules: RuleTrace[];
  /** The combining steps, in order, as sentences. */
  steps: string[];
  action?: { kind: string; tool: string; agent: string; target: string | null };
  agent?: { id: string; known: boolean; roles: string[] };
  combining?: 'deny_overrides' | 'first_match';
  default?: 'allow' | 'deny';
}
