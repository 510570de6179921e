//! Reading the parsed document: each object's keys in document order, the regex cache, and
//! the JSON-shape checks every section's loader shares. Load errors are built here.
use crate::error::PolicyError;
use crate::json::{quote, show};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Each object's keys in document order, by the object's dotted path.
pub(crate) type KeyOrder = HashMap<String, Vec<String>>;

/// Longest policy name, version, role name or rule id, in characters.
pub(crate) const MAX_NAME: usize = 128;

/// What a loader reads beside the document values: key order (parsed maps do not keep it) and
/// the regexes compiled so far.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    order: KeyOrder,
    /// Regexes the previous policy compiled, by pattern (reused when a pattern is kept).
    previous: HashMap<String, regex::Regex>,
    /// Regexes this policy uses, by pattern.
    used: HashMap<String, regex::Regex>,
}

impl Reader {
    pub(crate) fn new(order: KeyOrder, previous: HashMap<String, regex::Regex>) -> Reader {
        Reader {
            order,
            previous,
            used: HashMap::new(),
        }
    }

    /// The regexes this policy uses (to reuse on the next load).
    pub(crate) fn into_regexes(self) -> HashMap<String, regex::Regex> {
        self.used
    }

    /// The keys of the object at `path`, in document order.
    pub(crate) fn keys<'a>(&self, obj: &'a Map<String, Value>, path: &str) -> Vec<&'a String> {
        let Some(order) = self.order.get(path) else {
            return obj.keys().collect();
        };
        // Every key exactly once, even where two objects share a dotted path (a key holding
        // a dot): the recorded order first, then any key it lacks.
        let mut out: Vec<&'a String> = Vec::with_capacity(obj.len());
        let mut seen = std::collections::HashSet::with_capacity(obj.len());
        let recorded = order
            .iter()
            .filter_map(|key| obj.get_key_value(key).map(|(k, _)| k));
        for k in recorded.chain(obj.keys()) {
            if seen.insert(k) {
                out.push(k);
            }
        }
        out
    }

    /// The entries of the object at `path`, in document order.
    pub(crate) fn entries<'a>(
        &self,
        obj: &'a Map<String, Value>,
        path: &str,
    ) -> Vec<(&'a String, &'a Value)> {
        self.keys(obj, path)
            .into_iter()
            .filter_map(|k| obj.get_key_value(k.as_str()))
            .collect()
    }

    /// Unknown keys (first in document order), then missing required keys (in the order
    /// given).
    pub(crate) fn check_keys(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        allowed: &[&str],
        required: &[&str],
    ) -> Result<(), PolicyError> {
        if let Some(k) = self
            .keys(obj, path)
            .into_iter()
            .find(|k| !allowed.contains(&k.as_str()))
        {
            return Err(err(path, format!("unknown key {}", quote(k))));
        }
        if let Some(r) = required.iter().find(|r| !obj.contains_key(**r)) {
            return Err(err(path, format!("missing required key {}", quote(r))));
        }
        Ok(())
    }

    /// Compiles `pattern` with `build`, or reuses the regex compiled for it before.
    pub(crate) fn regex(
        &mut self,
        pattern: &str,
        build: impl FnOnce() -> Result<regex::Regex, PolicyError>,
    ) -> Result<regex::Regex, PolicyError> {
        let found = self
            .used
            .get(pattern)
            .or_else(|| self.previous.get(pattern))
            .cloned();
        let re = match found {
            Some(re) => re,
            None => build()?,
        };
        self.used.insert(pattern.to_owned(), re.clone());
        Ok(re)
    }
}

pub(crate) fn err(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(path, message)
}

/// `parent.key` (or `key` at the root).
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A non-empty JSON array.
pub(crate) fn non_empty_array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, PolicyError> {
    match v {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(err(path, "the list must not be empty")),
        other => Err(err(path, format!("expected a list, found {}", show(other)))),
    }
}

pub(crate) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, PolicyError> {
    v.as_array()
        .ok_or_else(|| err(path, format!("expected a list, found {}", show(v))))
}

pub(crate) fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PolicyError> {
    v.as_object()
        .ok_or_else(|| err(path, format!("expected an object, found {}", show(v))))
}

pub(crate) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, PolicyError> {
    v.as_str()
        .ok_or_else(|| err(path, format!("expected a string, found {}", show(v))))
}

pub(crate) fn boolean(v: &Value, path: &str) -> Result<bool, PolicyError> {
    v.as_bool()
        .ok_or_else(|| err(path, format!("expected true or false, found {}", show(v))))
}

pub(crate) fn one_of<'a>(
    v: &'a Value,
    path: &str,
    allowed: &[&str],
) -> Result<&'a str, PolicyError> {
    let s = string(v, path)?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        let list: Vec<String> = allowed.iter().map(|a| quote(a)).collect();
        Err(err(
            path,
            format!("{} is not one of {}", quote(s), list.join(", ")),
        ))
    }
}

/// `[A-Za-z0-9._:-]{1,128}` (with `colon`), or without `:`.
pub(crate) fn is_name(s: &str, colon: bool) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_NAME
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || (colon && c == ':')
        })
}

/// A role name (a string matching `[A-Za-z0-9._:-]{1,128}`).
pub(crate) fn role_name(v: &Value, path: &str) -> Result<String, PolicyError> {
    let s = string(v, path)?;
    if is_name(s, true) {
        Ok(s.to_owned())
    } else {
        Err(err(
            path,
            format!(
                "invalid role name {}: use 1 to 128 of A-Z a-z 0-9 . _ : -",
                quote(s)
            ),
        ))
    }
}

/// An integer (a JSON number with no fractional part, within ±2^53 when written as a double).
pub(crate) fn integer(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}
