/**
 * Reads decisions and verdicts in the compact form the native module writes (native/src/decision.rs):
 * the mark U+0001, a flags unit, then the fields, each string as one UTF-16 unit giving its
 * length followed by its text, each list as one unit giving its count followed by its items,
 * optional fields only when their flag is set, numbers as decimal text. A text starting with
 * `{` is JSON (what the native module writes when a field is too long for the compact form).
 * One string crosses the boundary; the object is built here as a literal, in the key order of
 * POLICY.md §8, so it has the shape `JSON.parse` of the decision's JSON text would give.
 */

import type { Decision, DecisionCode, Effect, ShadowHit, Verdict } from './types';

// Flags; the same values are in native/src/decision.rs.
const RULE = 1;
const PARAMS = 2;
const RETRY = 4;
const HASH = 8;
const VERSION = 16;
const FALLBACK = 32;
const PARAMS_MODIFIED = 64;

const MARK = 1;
const parse = JSON.parse;

// The text being read and the position in it. Reading never calls out to other code, so one
// pair serves every call.
let text = '';
let at = 0;

function count(): number {
  return text.charCodeAt(at++);
}

function next(): string {
  const start = at + 1;
  at = start + text.charCodeAt(at);
  return text.slice(start, at);
}

/** Starts reading `compact` (after its mark); returns its flags. */
function begin(compact: string): number {
  text = compact;
  at = 1;
  return count();
}

/** The decision in `compact`, as `JSON.parse` of its JSON text would give it. */
export function readDecision(compact: string): Decision {
  if (compact.charCodeAt(0) !== MARK) return parse(compact) as Decision;
  const flags = begin(compact);
  const effect = next() as Effect;
  const code = next() as DecisionCode;
  const rule = flags & RULE ? next() : null;
  const reason = next();
  const matched: string[] = [];
  for (let n = count(); n > 0; n--) matched.push(next());
  const shadow: ShadowHit[] = [];
  for (let n = count(); n > 0; n--) {
    const hitRule = next();
    shadow.push({ rule: hitRule, effect: next() as ShadowHit['effect'] });
  }
  const params = flags & PARAMS ? (parse(next()) as Decision['params']) : null;
  const retry = flags & RETRY ? Number(next()) : null;
  const hash = flags & HASH ? next() : null;
  const name = next();
  const version = flags & VERSION ? next() : null;
  const evalNs = Number(next());
  text = '';
  const decision: Decision = {
    effect,
    allowed: effect === 'allow',
    code,
    rule,
    reason,
    matched,
    shadow,
    params,
    retry_after_ms: retry,
    action_hash: hash,
    policy: { name, version },
    eval_ns: evalNs,
  };
  if (flags & FALLBACK) decision.fallback = true;
  return decision;
}

/** The verdict in `compact`. */
export function readVerdict(compact: string): Verdict {
  if (compact.charCodeAt(0) !== MARK) {
    const v = parse(compact) as Verdict;
    return verdict(v.effect, v.code, v.rule, v.retry_after_ms, v.params_modified);
  }
  const flags = begin(compact);
  const effect = next() as Effect;
  const code = next() as DecisionCode;
  const rule = flags & RULE ? next() : null;
  const retry = flags & RETRY ? Number(next()) : null;
  text = '';
  return verdict(effect, code, rule, retry, (flags & PARAMS_MODIFIED) !== 0);
}

/** The verdict of a full decision (for the decisions the binding makes itself). */
export function verdictOf(decision: Decision): Verdict {
  return verdict(decision.effect, decision.code, decision.rule, decision.retry_after_ms, decision.params !== null);
}

function verdict(effect: Effect, code: DecisionCode, rule: string | null, retry: number | null, modified: boolean): Verdict {
  return { effect, allowed: effect === 'allow', code, rule, retry_after_ms: retry, params_modified: modified };
}
