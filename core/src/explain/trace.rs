//! How the index and each condition are shown in an explanation: why the index skipped a
//! rule, and a condition tree with the values read and their three-valued results.
use super::tri;
use crate::condition::{Cond, Ctx, Op, Tri};
use crate::field::FieldPath;
use crate::glob::Glob;
use crate::policy::{Matcher, Rule};
use serde_json::{json, Map, Value};

pub(super) fn skip_reason(m: &Matcher) -> String {
    let exact_or_prefix = |gs: &[Glob]| {
        gs.iter()
            .all(|g| matches!(g, Glob::Exact(_) | Glob::Prefix(_)))
    };
    if m.tool_indexed {
        "the index skipped it: the action's tool is not among match.tool".into()
    } else if m.agent.as_deref().is_some_and(exact_or_prefix) {
        "the index skipped it: the action's agent is not among match.agent".into()
    } else {
        "the index skipped it".into()
    }
}

/// Why the guard index skipped a rule its name indexes offer: a conjunct of its `when`
/// compares a present field with constants (`eq` / `in`) it does not hold.
pub(super) fn guard_skip_reason(rule: &Rule, ctx: &Ctx<'_>) -> String {
    fn false_guard<'c>(c: &'c Cond, ctx: &Ctx<'_>) -> Option<(&'c FieldPath, &'static str)> {
        match c {
            Cond::All(items) => items.iter().find_map(|item| false_guard(item, ctx)),
            Cond::Leaf(field, Op::Eq(_)) if c.eval(ctx) == Tri::False => Some((field, "eq")),
            Cond::Leaf(field, Op::In(_)) if c.eval(ctx) == Tri::False => Some((field, "in")),
            _ => None,
        }
    }
    match rule.when.as_ref().and_then(|w| false_guard(w, ctx)) {
        Some((field, op)) => format!(
            "the index skipped it: {} holds a value its when condition's {op} guard does not accept",
            field.text()
        ),
        None => "the index skipped it".into(),
    }
}

/// A bound as written: integral values without a fraction.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        json!(n)
    }
}

fn op_view(op: &Op) -> (&'static str, Option<Value>) {
    match op {
        Op::Exists(b) => ("exists", Some(Value::Bool(*b))),
        Op::Eq(v) => ("eq", Some(v.clone())),
        Op::Ne(v) => ("ne", Some(v.clone())),
        Op::In(_) => ("in", None),
        Op::NotIn(_) => ("not_in", None),
        Op::Lt(n) => ("lt", Some(number(*n))),
        Op::Lte(n) => ("lte", Some(number(*n))),
        Op::Gt(n) => ("gt", Some(number(*n))),
        Op::Gte(n) => ("gte", Some(number(*n))),
        Op::Prefix(s) => ("prefix", Some(Value::from(s.as_str()))),
        Op::Suffix(s) => ("suffix", Some(Value::from(s.as_str()))),
        Op::Contains(v) => ("contains", Some(v.clone())),
        Op::Matches(re) => ("matches", Some(Value::from(re.as_str()))),
        Op::Glob(_) => ("glob", None),
        Op::PathWithin(_) => ("path_within", None),
        Op::HostIn(_) => ("host_in", None),
    }
}

/// A condition's result and its trace; `path` is relative to the rule (`when.all[0]`).
pub(super) fn trace_cond(cond: &Cond, ctx: &Ctx<'_>, path: String) -> (Tri, Value) {
    let result = cond.eval(ctx);
    let mut v = Map::new();
    v.insert("path".into(), Value::from(path.as_str()));
    let children = |name: &str, items: &[Cond]| {
        let list: Vec<Value> = items
            .iter()
            .enumerate()
            .map(|(i, c)| trace_cond(c, ctx, format!("{path}.{name}[{i}]")).1)
            .collect();
        list
    };
    match cond {
        Cond::All(items) => {
            let c = children("all", items);
            v.insert("op".into(), "all".into());
            v.insert("children".into(), Value::Array(c));
        }
        Cond::Any(items) => {
            let c = children("any", items);
            v.insert("op".into(), "any".into());
            v.insert("children".into(), Value::Array(c));
        }
        Cond::Not(inner) => {
            v.insert("op".into(), "not".into());
            let (_, t) = trace_cond(inner, ctx, format!("{path}.not"));
            v.insert("children".into(), Value::Array(vec![t]));
        }
        Cond::Time(_) => {
            v.insert("op".into(), "time".into());
        }
        Cond::Leaf(field, op) => {
            let (name, operand) = op_view(op);
            v.insert("field".into(), Value::from(field.text()));
            v.insert("op".into(), Value::from(name));
            if let Some(operand) = operand {
                v.insert("operand".into(), operand);
            }
            let got = ctx.fields.get(field, ctx.action, ctx.roles);
            v.insert("value".into(), got.cloned().unwrap_or(Value::Null));
            v.insert("present".into(), Value::Bool(got.is_some()));
        }
    }
    v.insert("result".into(), Value::from(tri(result)));
    (result, Value::Object(v))
}
