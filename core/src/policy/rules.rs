//! One rule: its keys, `match`, conditions, `modify` and `limit`.
use super::reader::{
    array, boolean, child, err, index, integer, is_name, non_empty_array, object, one_of,
    role_name, string, Reader,
};
use super::{Interner, Matcher, Rule, RuleEffect};
use crate::action::Kind;
use crate::condition;
use crate::error::PolicyError;
use crate::glob::Glob;
use crate::json::{quote, show};
use crate::limits::{LimitSpec, PerPart, MAX_LIMIT, MAX_WINDOW_MS};
use crate::modify::Modify;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const RULE_KEYS: [&str; 12] = [
    "id",
    "effect",
    "description",
    "reason",
    "enabled",
    "shadow",
    "priority",
    "match",
    "when",
    "unless",
    "modify",
    "limit",
];

/// A rule as loaded: disabled rules are checked too, then dropped.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) rule: Rule,
    pub(crate) enabled: bool,
    /// The roles its `match.role` names (each must be defined somewhere).
    pub(crate) roles: Vec<String>,
}

/// Compiles rule `position` of `rules`; `seen` maps the ids so far to their positions.
pub(crate) fn compile_rule(
    v: &Value,
    position: usize,
    rd: &mut Reader,
    interner: &Interner,
    seen: &mut HashMap<String, usize>,
) -> Result<CompiledRule, PolicyError> {
    let p = &index("rules", position);
    let obj = object(v, p)?;
    let rate_limit = obj.get("effect").and_then(Value::as_str) == Some("rate_limit");
    let required: &[&str] = if rate_limit {
        &["id", "effect", "limit"]
    } else {
        &["id", "effect"]
    };
    rd.check_keys(obj, p, &RULE_KEYS, required)?;
    let id = rule_id(obj.get("id").unwrap_or(&Value::Null), p, seen, position)?;
    let effect = match one_of(
        obj.get("effect").unwrap_or(&Value::Null),
        &child(p, "effect"),
        &["allow", "deny", "require_approval", "rate_limit"],
    )? {
        "allow" => RuleEffect::Allow,
        "deny" => RuleEffect::Deny,
        "require_approval" => RuleEffect::RequireApproval,
        _ => RuleEffect::RateLimit,
    };
    if let Some(d) = obj.get("description") {
        string(d, &child(p, "description"))?;
    }
    let reason = match obj.get("reason") {
        Some(r) => Arc::from(string(r, &child(p, "reason"))?),
        None => interner.intern(id),
    };
    let flag = |key: &str, default: bool| -> Result<bool, PolicyError> {
        obj.get(key)
            .map_or(Ok(default), |v| boolean(v, &child(p, key)))
    };
    let (enabled, shadow) = (flag("enabled", true)?, flag("shadow", false)?);
    let priority = match obj.get("priority") {
        None => 0,
        Some(v) => integer(v).ok_or_else(|| {
            err(
                &child(p, "priority"),
                format!("priority must be an integer, found {}", show(v)),
            )
        })?,
    };
    let mut rule = Rule {
        id: interner.intern(id),
        effect,
        reason,
        shadow,
        priority,
        matcher: Matcher::default(),
        when: None,
        unless: None,
        modify: None,
        limit: None,
        state: None,
    };
    let roles = compile_body(obj, p, rd, &mut rule)?;
    Ok(CompiledRule {
        rule,
        enabled,
        roles,
    })
}

/// The previous policy's compiled form of rule `position` when its JSON value is unchanged
/// (compiling it again would give the same rule) and its id is not taken by an earlier rule
/// (then it is compiled, to report the duplicate). Moves the entry out of `previous`.
pub(crate) fn reuse_rule(
    v: &Value,
    position: usize,
    previous: &mut super::RuleCache,
    seen: &mut HashMap<String, usize>,
) -> Option<CompiledRule> {
    let id = v.get("id")?.as_str()?;
    if seen.contains_key(id) {
        return None;
    }
    let (source, compiled) = previous.by_id.remove(id)?;
    if !identical(&source, v) {
        return None;
    }
    seen.insert(id.to_owned(), position);
    Some(compiled)
}

/// The previous policy's rule `id`, whose exact text the parser stepped over: its compiled
/// form and JSON value. `None` when the id is taken by an earlier rule (a duplicate, which a
/// full parse then reports). Moves the entry out of `previous`.
pub(crate) fn reuse_text(
    id: &str,
    position: usize,
    previous: &mut super::RuleCache,
    seen: &mut HashMap<String, usize>,
) -> Option<(CompiledRule, Value)> {
    if seen.contains_key(id) {
        return None;
    }
    let (source, compiled) = previous.by_id.remove(id)?;
    seen.insert(id.to_owned(), position);
    Some((compiled, source))
}

/// How deeply a rule may nest and still be kept for reuse: cloning a compiled rule recurses
/// through its operands, so deeper rules (rare; the policy allows 512 levels) are compiled
/// on every load instead.
const MAX_REUSED_DEPTH: usize = 32;

/// Whether `v` nests at most [`MAX_REUSED_DEPTH`] levels (iterative; `pending` is scratch
/// space the caller may reuse).
pub(crate) fn reusable_depth<'v>(v: &'v Value, pending: &mut Vec<(&'v Value, usize)>) -> bool {
    pending.clear();
    pending.push((v, 1));
    while let Some((value, level)) = pending.pop() {
        let below = level + 1;
        match value {
            Value::Array(_) | Value::Object(_) if level > MAX_REUSED_DEPTH => return false,
            Value::Array(items) => pending.extend(items.iter().map(|c| (c, below))),
            Value::Object(map) => pending.extend(map.values().map(|c| (c, below))),
            _ => {}
        }
    }
    true
}

/// Whether two JSON values are the same document text up to key order and white space
/// (numbers by their written form: `1` and `1.0` differ). Iterative, as a rule may nest to
/// the policy's depth limit.
fn identical(a: &Value, b: &Value) -> bool {
    let mut pending = vec![(a, b)];
    while let Some(pair) = pending.pop() {
        match pair {
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                pending.extend(x.iter().zip(y));
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                for (k, v) in x {
                    match y.get(k) {
                        Some(w) => pending.push((v, w)),
                        None => return false,
                    }
                }
            }
            (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
                return false
            }
            (x, y) if x != y => return false,
            _ => {}
        }
    }
    true
}

/// A rule id: a name, not used by an earlier rule.
fn rule_id<'a>(
    v: &'a Value,
    p: &str,
    seen: &mut HashMap<String, usize>,
    position: usize,
) -> Result<&'a str, PolicyError> {
    let idp = child(p, "id");
    let id = string(v, &idp)?;
    if !is_name(id, true) {
        return Err(err(
            &idp,
            format!(
                "invalid rule id {}: use 1 to 128 of A-Z a-z 0-9 . _ : -",
                quote(id)
            ),
        ));
    }
    if let Some(first) = seen.get(id) {
        return Err(err(
            &idp,
            format!(
                "duplicate rule id {} (first used by rules[{first}])",
                quote(id)
            ),
        ));
    }
    seen.insert(id.to_owned(), position);
    Ok(id)
}

/// `match`, `when`, `unless`, `modify` and `limit` of a rule; returns the roles `match` names.
fn compile_body(
    obj: &serde_json::Map<String, Value>,
    p: &str,
    rd: &mut Reader,
    rule: &mut Rule,
) -> Result<Vec<String>, PolicyError> {
    let mut roles = Vec::new();
    if let Some(m) = obj.get("match") {
        rule.matcher = compile_match(m, &child(p, "match"), rd, &mut roles)?;
    }
    for (key, slot) in [("when", &mut rule.when), ("unless", &mut rule.unless)] {
        if let Some(c) = obj.get(key) {
            *slot = Some(condition::compile(c, &child(p, key), 1, rd)?);
        }
    }
    if let Some(m) = obj.get("modify") {
        rule.modify = Some(Modify::compile(m, &child(p, "modify"), rd)?);
    }
    if let Some(l) = obj.get("limit") {
        rule.limit = Some(compile_limit(l, &child(p, "limit"), rd)?);
    }
    let effect = rule.effect;
    if rule.modify.is_some() && effect != RuleEffect::Allow {
        return Err(err(
            &child(p, "modify"),
            format!(
                "\"modify\" is allowed only on rules with effect \"allow\", not {}",
                quote(effect.as_str())
            ),
        ));
    }
    if rule.limit.is_some() && effect != RuleEffect::RateLimit {
        return Err(err(
            &child(p, "limit"),
            format!(
                "\"limit\" is allowed only on rules with effect \"rate_limit\", not {}",
                quote(effect.as_str())
            ),
        ));
    }
    Ok(roles)
}

fn compile_match(
    v: &Value,
    p: &str,
    rd: &Reader,
    roles: &mut Vec<String>,
) -> Result<Matcher, PolicyError> {
    let obj = object(v, p)?;
    rd.check_keys(obj, p, &["kind", "tool", "agent", "role", "target"], &[])?;
    let globs = |key: &str| -> Result<Option<Vec<Glob>>, PolicyError> {
        let Some(list) = obj.get(key) else {
            return Ok(None);
        };
        let kp = child(p, key);
        let mut out = Vec::new();
        for (i, item) in non_empty_array(list, &kp)?.iter().enumerate() {
            let ip = index(&kp, i);
            let s = string(item, &ip)?;
            let glob = Glob::new(s).map_err(|e| err(&ip, e.0))?;
            if key == "kind" && glob.as_exact().is_some_and(|k| Kind::parse(k).is_none()) {
                return Err(err(
                    &ip,
                    format!(
                        "{} is not a kind: use \"tool_call\", \"message\" or \"resource\"",
                        quote(s)
                    ),
                ));
            }
            out.push(glob);
        }
        Ok(Some(out))
    };
    let kind = globs("kind")?;
    let tool = globs("tool")?;
    let agent = globs("agent")?;
    let role = match obj.get("role") {
        None => None,
        Some(list) => {
            let kp = child(p, "role");
            let mut out = Vec::new();
            for (i, item) in non_empty_array(list, &kp)?.iter().enumerate() {
                let name = role_name(item, &index(&kp, i))?;
                out.push(Arc::from(name.as_str()));
                roles.push(name);
            }
            Some(out)
        }
    };
    let target = globs("target")?;
    Ok(Matcher {
        tool_indexed: false,
        kind,
        tool,
        agent,
        role,
        target,
    })
}

fn compile_limit(v: &Value, p: &str, rd: &Reader) -> Result<LimitSpec, PolicyError> {
    let obj = object(v, p)?;
    rd.check_keys(obj, p, &["max", "window", "per"], &["max", "window"])?;
    let mp = child(p, "max");
    let max_value = obj.get("max").unwrap_or(&Value::Null);
    let max = integer(max_value)
        .filter(|m| (1..=MAX_LIMIT as i64).contains(m))
        .ok_or_else(|| {
            err(
                &mp,
                format!(
                    "max must be an integer from 1 to {MAX_LIMIT}, found {}",
                    show(max_value)
                ),
            )
        })?;
    let wp = child(p, "window");
    let window = string(obj.get("window").unwrap_or(&Value::Null), &wp)?;
    let window_ms = crate::time::parse_duration_ms(window).ok_or_else(|| {
        err(
            &wp,
            format!(
                "window {} is not one integer and one unit (ms, s, m, h, d), e.g. \"30s\"",
                quote(window)
            ),
        )
    })?;
    if !(1..=MAX_WINDOW_MS).contains(&window_ms) {
        return Err(err(
            &wp,
            format!("window {} is outside 1ms ..= 31d", quote(window)),
        ));
    }
    let per = match obj.get("per") {
        None => vec![PerPart::Agent],
        Some(list) => {
            let pp = child(p, "per");
            let mut out = Vec::new();
            for (i, item) in array(list, &pp)?.iter().enumerate() {
                let ip = index(&pp, i);
                let s = string(item, &ip)?;
                out.push(PerPart::parse(s).ok_or_else(|| {
                    err(
                        &ip,
                        format!(
                            "{} is not agent, tool, target, kind, role, or a params./context. path",
                            quote(s)
                        ),
                    )
                })?);
            }
            // `per` is a set: a canonical order keeps keys (and counters) stable across updates.
            out.sort_by(|a, b| a.name().cmp(b.name()));
            out.dedup_by(|a, b| a.name() == b.name());
            out
        }
    };
    Ok(LimitSpec {
        max: max as u32,
        window_ms,
        per,
    })
}

/// Gives every distinct field the conditions read a slot in the per-evaluation lookup cache.
pub(crate) fn assign_field_slots(rules: &mut [Rule]) {
    let mut slots: HashMap<Arc<str>, usize> = HashMap::new();
    for rule in rules {
        for cond in [rule.when.as_mut(), rule.unless.as_mut()]
            .into_iter()
            .flatten()
        {
            cond.fields_mut(&mut |field| {
                let next = slots.len();
                let slot = *slots.entry(field.canonical().clone()).or_insert(next);
                field.slot = slot;
            });
        }
    }
}
