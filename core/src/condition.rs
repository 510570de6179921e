//! Conditions (`when` / `unless`): compilation with load-error paths, and three-valued
//! evaluation (true, false, unknown).
use crate::action::ActionView;
use crate::error::PolicyError;
use crate::field::{FieldCache, FieldPath};
use crate::glob::Glob;
use crate::host::{host_of, HostPattern};
use crate::json::{json_eq, num, quote, show};
use crate::path::{normalize, DirPattern};
use crate::policy::reader::{child, err, index, non_empty_array, Reader};
use crate::time::{parse_hhmm, TimeWindow, Zone, DAYS};
use crate::value::clone_deep;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Deepest condition nesting accepted (the value of `when`/`unless` is level 1).
pub(crate) const MAX_CONDITION_DEPTH: usize = 32;
/// Longest regex accepted, in characters.
pub(crate) const MAX_REGEX_CHARS: usize = 4096;
/// Compiled-size limit for regexes (the `regex` crate's default).
const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);
/// Lazy DFA cache per regex (the crate's default is 2 MiB). Counted repetitions of Unicode
/// classes (`\w{100}z`) build DFA states larger than the default cache holds; the search then
/// thrashes or falls back to the much slower NFA simulation (11.7 s on 1 MiB of text, 326 s
/// for `.{4000}z`). With 16 MiB they run in tens of milliseconds (`.{4000}z`: about 1.2 s).
/// The cache grows only as a search needs it; see docs/security-notes.md.
const REGEX_DFA_CACHE: usize = 16 * (1 << 20);

/// The operators of a leaf, in the order the spec lists them.
const OPS: [&str; 17] = [
    "exists",
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "prefix",
    "suffix",
    "contains",
    "matches",
    "glob",
    "path_within",
    "host_in",
    "field",
];

/// A three-valued truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    True,
    False,
    Unknown,
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
}

/// What a condition reads besides its own operands.
pub(crate) struct Ctx<'a> {
    pub(crate) action: &'a ActionView<'a>,
    pub(crate) roles: &'a Value,
    pub(crate) now_ms: i64,
    pub(crate) fields: FieldCache<'a>,
}

/// A set of JSON values for `in` / `not_in`.
#[derive(Debug, Clone)]
pub(crate) struct ValueSet {
    values: Vec<Value>,
    /// When every element is a string: a hash set for large lists.
    strings: Option<HashSet<String>>,
}

impl ValueSet {
    fn new(values: Vec<Value>) -> ValueSet {
        let strings = (values.len() > 8)
            .then(|| {
                values
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<HashSet<_>>>()
            })
            .flatten();
        ValueSet { values, strings }
    }
    /// The listed values.
    pub(crate) fn values(&self) -> &[Value] {
        &self.values
    }
    fn contains(&self, v: &Value) -> bool {
        match (&self.strings, v) {
            (Some(set), Value::String(s)) => set.contains(s.as_str()),
            (Some(_), _) => false,
            (None, v) => self.values.iter().any(|x| json_eq(x, v)),
        }
    }
}

/// A leaf operator with its compiled operand.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Exists(bool),
    Eq(Value),
    Ne(Value),
    In(ValueSet),
    NotIn(ValueSet),
    Lt(f64),
    Lte(f64),
    Gt(f64),
    Gte(f64),
    Prefix(String),
    Suffix(String),
    Contains(Value),
    /// The regex. Anchored patterns need no literal pre-check of our own: the regex crate
    /// only tries position 0 for them (see docs/security-notes.md).
    Matches(Regex),
    Glob(Vec<Glob>),
    PathWithin(Vec<DirPattern>),
    HostIn(Vec<HostPattern>),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Leaf(FieldPath, Op),
    Time(TimeWindow),
}

impl Cond {
    /// Calls `f` on every field path this condition reads.
    pub(crate) fn fields_mut(&mut self, f: &mut dyn FnMut(&mut FieldPath)) {
        match self {
            Cond::All(items) | Cond::Any(items) => items.iter_mut().for_each(|c| c.fields_mut(f)),
            Cond::Not(c) => c.fields_mut(f),
            Cond::Leaf(field, _) => f(field),
            Cond::Time(_) => {}
        }
    }

    /// Evaluates with three-valued logic.
    pub(crate) fn eval(&self, ctx: &Ctx<'_>) -> Tri {
        match self {
            Cond::All(items) => {
                let mut unknown = false;
                for c in items {
                    match c.eval(ctx) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => unknown = true,
                        Tri::True => {}
                    }
                }
                if unknown {
                    Tri::Unknown
                } else {
                    Tri::True
                }
            }
            Cond::Any(items) => {
                let mut unknown = false;
                for c in items {
                    match c.eval(ctx) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => unknown = true,
                        Tri::False => {}
                    }
                }
                if unknown {
                    Tri::Unknown
                } else {
                    Tri::False
                }
            }
            Cond::Not(c) => match c.eval(ctx) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                Tri::Unknown => Tri::Unknown,
            },
            Cond::Time(w) => w.contains(ctx.now_ms).map_or(Tri::Unknown, Tri::from),
            Cond::Leaf(field, op) => {
                eval_leaf(ctx.fields.get(field, ctx.action, ctx.roles), op, ctx)
            }
        }
    }
}

fn eval_leaf(v: Option<&Value>, op: &Op, ctx: &Ctx<'_>) -> Tri {
    let string = |f: &dyn Fn(&str) -> Tri| match v {
        Some(Value::String(s)) => f(s),
        _ => Tri::Unknown,
    };
    match op {
        Op::Exists(want) => (v.is_some() == *want).into(),
        Op::Eq(x) => v.map_or(Tri::Unknown, |v| json_eq(v, x).into()),
        Op::Ne(x) => v.map_or(Tri::Unknown, |v| (!json_eq(v, x)).into()),
        Op::In(set) => v.map_or(Tri::Unknown, |v| set.contains(v).into()),
        Op::NotIn(set) => v.map_or(Tri::Unknown, |v| (!set.contains(v)).into()),
        Op::Lt(b) => match v {
            Some(Value::Number(n)) => (num(n) < *b).into(),
            _ => Tri::Unknown,
        },
        Op::Lte(b) => match v {
            Some(Value::Number(n)) => (num(n) <= *b).into(),
            _ => Tri::Unknown,
        },
        Op::Gt(b) => match v {
            Some(Value::Number(n)) => (num(n) > *b).into(),
            _ => Tri::Unknown,
        },
        Op::Gte(b) => match v {
            Some(Value::Number(n)) => (num(n) >= *b).into(),
            _ => Tri::Unknown,
        },
        Op::Prefix(p) => string(&|s| s.starts_with(p.as_str()).into()),
        Op::Suffix(p) => string(&|s| s.ends_with(p.as_str()).into()),
        Op::Contains(x) => match (v, x) {
            (Some(Value::String(s)), Value::String(sub)) => s.contains(sub.as_str()).into(),
            (Some(Value::Array(items)), x) => items.iter().any(|e| json_eq(e, x)).into(),
            _ => Tri::Unknown,
        },
        Op::Matches(re) => string(&|s| re.is_match(s).into()),
        Op::Glob(globs) => string(&|s| globs.iter().any(|g| g.matches(s)).into()),
        Op::PathWithin(dirs) => string(&|s| match normalize(s) {
            Some(segs) => dirs
                .iter()
                .any(|d| d.contains(&segs, ctx.action.agent))
                .into(),
            None => Tri::Unknown,
        }),
        Op::HostIn(patterns) => string(&|s| match host_of(s) {
            Some(h) => patterns.iter().any(|p| p.matches(&h)).into(),
            None => Tri::Unknown,
        }),
    }
}

/// Compiles the condition `v` found at `path`, at nesting `level` (1 for `when`/`unless`).
pub(crate) fn compile(
    v: &Value,
    path: &str,
    level: usize,
    rd: &mut Reader,
) -> Result<Cond, PolicyError> {
    if level > MAX_CONDITION_DEPTH {
        return Err(err(
            path,
            format!("conditions are nested deeper than {MAX_CONDITION_DEPTH} levels"),
        ));
    }
    let obj = v.as_object().ok_or_else(|| {
        err(
            path,
            format!("a condition must be an object, found {}", show(v)),
        )
    })?;
    let node = rd
        .keys(obj, path)
        .into_iter()
        .find(|k| matches!(k.as_str(), "all" | "any" | "not" | "time"));
    match node {
        Some(node) => compile_node(obj, node, path, level, rd),
        None => compile_leaf(obj, path, rd),
    }
}

/// Compiles a combining node (`all`, `any`, `not`) or a `time` window.
fn compile_node(
    obj: &Map<String, Value>,
    node: &str,
    path: &str,
    level: usize,
    rd: &mut Reader,
) -> Result<Cond, PolicyError> {
    rd.check_keys(obj, path, &[node], &[])?;
    let p = child(path, node);
    let inner = obj.get(node).unwrap_or(&Value::Null);
    match node {
        "all" | "any" => {
            let items = non_empty_array(inner, &p)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(compile(item, &index(&p, i), level + 1, rd)?);
            }
            Ok(if node == "all" {
                Cond::All(out)
            } else {
                Cond::Any(out)
            })
        }
        "not" => Ok(Cond::Not(Box::new(compile(inner, &p, level + 1, rd)?))),
        _ => compile_time(inner, &p, rd).map(Cond::Time),
    }
}

/// Compiles a leaf: a `field` and exactly one operator.
fn compile_leaf(
    obj: &Map<String, Value>,
    path: &str,
    rd: &mut Reader,
) -> Result<Cond, PolicyError> {
    rd.check_keys(obj, path, &OPS, &["field"])?;
    let ops: Vec<&str> = OPS
        .iter()
        .copied()
        .filter(|k| *k != "field" && obj.contains_key(*k))
        .collect();
    let Some(first_op) = ops.first() else {
        return Err(err(
            path,
            "missing an operator: a leaf needs one of exists, eq, ne, in, not_in, lt, lte, gt, gte, prefix, suffix, contains, matches, glob, path_within, host_in",
        ));
    };
    let field_path = child(path, "field");
    let field = match obj.get("field") {
        Some(Value::String(s)) => FieldPath::parse(s).map_err(|m| err(&field_path, m))?,
        Some(other) => {
            return Err(err(
                &field_path,
                format!("\"field\" must be a string, found {}", show(other)),
            ))
        }
        None => return Err(err(path, "missing required key \"field\"")),
    };
    let mut compiled = Vec::with_capacity(ops.len());
    for op in &ops {
        let operand = Operand {
            op,
            v: obj.get(*op).unwrap_or(&Value::Null),
            path: &child(path, op),
        };
        compiled.push(operand.compile(rd)?);
    }
    if let Some(second) = ops.get(1) {
        return Err(err(
            path,
            format!(
                "a leaf takes exactly one operator, found {} and {}",
                quote(first_op),
                quote(second)
            ),
        ));
    }
    let op = compiled
        .pop()
        .ok_or_else(|| err(path, "missing an operator"))?;
    Ok(Cond::Leaf(field, op))
}

/// The operand `v` of the operator `op`, found at `path` (which its errors name).
struct Operand<'a> {
    op: &'a str,
    v: &'a Value,
    path: &'a str,
}

impl Operand<'_> {
    fn compile(&self, rd: &mut Reader) -> Result<Op, PolicyError> {
        let path = self.path;
        Ok(match self.op {
            "exists" => match self.v {
                Value::Bool(b) => Op::Exists(*b),
                other => {
                    return Err(err(
                        path,
                        format!("\"exists\" takes true or false, found {}", show(other)),
                    ))
                }
            },
            "eq" => Op::Eq(self.not_null()?),
            "ne" => Op::Ne(self.not_null()?),
            "in" => Op::In(self.set()?),
            "not_in" => Op::NotIn(self.set()?),
            "lt" => Op::Lt(self.number()?),
            "lte" => Op::Lte(self.number()?),
            "gt" => Op::Gt(self.number()?),
            "gte" => Op::Gte(self.number()?),
            "prefix" => Op::Prefix(self.string()?),
            "suffix" => Op::Suffix(self.string()?),
            "contains" => Op::Contains(self.not_null()?),
            "matches" => Op::Matches(self.regex(rd)?),
            "glob" => Op::Glob(self.globs()?),
            "path_within" => Op::PathWithin(each_string(self.v, path, DirPattern::new)?),
            "host_in" => Op::HostIn(each_string(self.v, path, HostPattern::new)?),
            other => return Err(err(path, format!("unknown operator {}", quote(other)))),
        })
    }

    fn not_null(&self) -> Result<Value, PolicyError> {
        if self.v.is_null() {
            Err(err(
                self.path,
                format!("\"{}\" takes any JSON value but null", self.op),
            ))
        } else {
            Ok(clone_deep(self.v))
        }
    }

    fn number(&self) -> Result<f64, PolicyError> {
        match self.v {
            Value::Number(n) => Ok(num(n)),
            other => Err(err(
                self.path,
                format!("\"{}\" takes a number, found {}", self.op, show(other)),
            )),
        }
    }

    fn string(&self) -> Result<String, PolicyError> {
        match self.v {
            Value::String(s) => Ok(s.clone()),
            other => Err(err(
                self.path,
                format!("\"{}\" takes a string, found {}", self.op, show(other)),
            )),
        }
    }

    fn set(&self) -> Result<ValueSet, PolicyError> {
        let items = non_empty_array(self.v, self.path)?;
        if let Some(i) = items.iter().position(Value::is_null) {
            return Err(err(
                &index(self.path, i),
                format!("\"{}\" lists may not hold null", self.op),
            ));
        }
        Ok(ValueSet::new(items.iter().map(clone_deep).collect()))
    }

    fn regex(&self, rd: &mut Reader) -> Result<Regex, PolicyError> {
        let path = self.path;
        let pattern = self.string()?;
        let chars = pattern.chars().count();
        if chars > MAX_REGEX_CHARS {
            return Err(err(
                path,
                format!("regex is {chars} characters long; the limit is {MAX_REGEX_CHARS}"),
            ));
        }
        rd.regex(&pattern, || {
            RegexBuilder::new(&pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_CACHE)
                .build()
                .map_err(|e| err(path, format!("invalid regex {}: {e}", quote(&pattern))))
        })
    }

    fn globs(&self) -> Result<Vec<Glob>, PolicyError> {
        match self.v {
            Value::String(s) => Ok(vec![Glob::new(s).map_err(|e| err(self.path, e.0))?]),
            Value::Array(_) => each_string(self.v, self.path, Glob::new),
            other => Err(err(
                self.path,
                format!(
                    "\"glob\" takes a glob or a list of globs, found {}",
                    show(other)
                ),
            )),
        }
    }
}

/// Compiles each string of a non-empty array with `f`; errors name the element.
fn each_string<T, E: std::fmt::Display>(
    v: &Value,
    path: &str,
    f: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, PolicyError> {
    let items = non_empty_array(v, path)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        match item {
            Value::String(s) => out.push(f(s).map_err(|m| err(&p, m.to_string()))?),
            other => return Err(err(&p, format!("expected a string, found {}", show(other)))),
        }
    }
    Ok(out)
}

fn compile_time(v: &Value, path: &str, rd: &Reader) -> Result<TimeWindow, PolicyError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, format!("\"time\" takes an object, found {}", show(v))))?;
    rd.check_keys(obj, path, &["between", "days", "tz"], &["between"])?;
    let between_path = child(path, "between");
    let between = obj.get("between").unwrap_or(&Value::Null);
    let pair = match between.as_array() {
        Some(items) if items.len() == 2 => items,
        _ => {
            return Err(err(
                &between_path,
                format!(
                    "\"between\" takes two times [\"HH:MM\", \"HH:MM\"], found {}",
                    show(between)
                ),
            ))
        }
    };
    let mut bounds = [0u32; 2];
    for (i, (slot, item)) in bounds.iter_mut().zip(pair).enumerate() {
        let p = index(&between_path, i);
        *slot = item
            .as_str()
            .and_then(|s| parse_hhmm(s, 23))
            .ok_or_else(|| {
                err(
                    &p,
                    format!("{} is not a time from \"00:00\" to \"23:59\"", show(item)),
                )
            })?;
    }
    let [start, end] = bounds;
    let days = match obj.get("days") {
        None => 0x7f,
        Some(d) => {
            let p = child(path, "days");
            let mut mask = 0u8;
            for (i, item) in non_empty_array(d, &p)?.iter().enumerate() {
                let bit = item
                    .as_str()
                    .and_then(|s| DAYS.iter().position(|d| *d == s))
                    .ok_or_else(|| {
                        err(
                            &index(&p, i),
                            format!("{} is not one of mon tue wed thu fri sat sun", show(item)),
                        )
                    })?;
                mask |= 1 << bit;
            }
            mask
        }
    };
    let zone = match obj.get("tz") {
        None => Zone::Utc,
        Some(Value::String(s)) => Zone::parse(s).ok_or_else(|| {
            err(
                &child(path, "tz"),
                format!("unknown time zone {}: use an IANA name (\"Europe/Berlin\"), \"UTC\" or \"+HH:MM\"", quote(s)),
            )
        })?,
        Some(other) => return Err(err(&child(path, "tz"), format!("\"tz\" takes a string, found {}", show(other)))),
    };
    if start == end {
        let shown = pair.first().map(show).unwrap_or_default();
        return Err(err(
            &between_path,
            format!("start and end are both {shown}: a window needs two different times"),
        ));
    }
    Ok(TimeWindow {
        start,
        end,
        days,
        zone,
    })
}
