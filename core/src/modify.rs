//! `modify`: parameter rewrites applied by allow rules.
use crate::error::PolicyError;
use crate::field::FieldPath;
use crate::json::{num, quote, show};
use crate::policy::reader::{child, err, index, Reader};
use crate::value::clone_deep;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
struct Clamp {
    keys: Vec<String>,
    min: Option<Value>,
    max: Option<Value>,
}

/// A compiled `modify`: `set`, then `remove`, then `clamp`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Modify {
    set: Vec<(Vec<String>, Value)>,
    remove: Vec<Vec<String>>,
    clamp: Vec<Clamp>,
}

/// `modify.clamp`: each path's bounds, in document order.
fn compile_clamp(clamp: &Value, p: &str, rd: &Reader) -> Result<Vec<Clamp>, PolicyError> {
    let mut out = Vec::new();
    let map = clamp.as_object().ok_or_else(|| {
        err(
            p,
            format!("\"clamp\" takes an object, found {}", show(clamp)),
        )
    })?;
    for (k, bounds) in rd.entries(map, p) {
        let keys = params_keys(k).map_err(|m| err(p, m))?;
        let bp = child(p, k);
        let b = bounds.as_object().ok_or_else(|| {
            err(
                &bp,
                format!(
                    "bounds must be an object {{\"min\", \"max\"}}, found {}",
                    show(bounds)
                ),
            )
        })?;
        rd.check_keys(b, &bp, &["max", "min"], &[])?;
        if b.is_empty() {
            return Err(err(
                &bp,
                "missing required key \"min\" or \"max\": a clamp needs at least one bound",
            ));
        }
        let bound = |name: &str| -> Result<Option<Value>, PolicyError> {
            match b.get(name) {
                None => Ok(None),
                Some(n @ Value::Number(_)) => Ok(Some(n.clone())),
                Some(other) => Err(err(
                    &child(&bp, name),
                    format!("\"{name}\" takes a number, found {}", show(other)),
                )),
            }
        };
        let (max, min) = (bound("max")?, bound("min")?);
        if let (Some(Value::Number(lo)), Some(Value::Number(hi))) = (&min, &max) {
            if num(lo) > num(hi) {
                return Err(err(&bp, format!("min {lo} is greater than max {hi}")));
            }
        }
        out.push(Clamp { keys, min, max });
    }
    Ok(out)
}

fn params_keys(text: &str) -> Result<Vec<String>, String> {
    FieldPath::params_keys(text).ok_or_else(|| {
        format!(
            "path {} must start with \"params.\" and have no empty segment",
            quote(text)
        )
    })
}

impl Modify {
    /// Compiles the `modify` object at `path`.
    /// Map entries are checked in document order; `set` is applied in key order.
    pub(crate) fn compile(v: &Value, path: &str, rd: &Reader) -> Result<Modify, PolicyError> {
        let obj = v.as_object().ok_or_else(|| {
            err(
                path,
                format!("\"modify\" takes an object, found {}", show(v)),
            )
        })?;
        rd.check_keys(obj, path, &["set", "remove", "clamp"], &[])?;
        let mut out = Modify::default();
        if let Some(set) = obj.get("set") {
            let p = child(path, "set");
            let map = set
                .as_object()
                .ok_or_else(|| err(&p, format!("\"set\" takes an object, found {}", show(set))))?;
            let mut set = Vec::with_capacity(map.len());
            for (k, value) in rd.entries(map, &p) {
                set.push((
                    k,
                    params_keys(k).map_err(|m| err(&p, m))?,
                    clone_deep(value),
                ));
            }
            set.sort_by(|a, b| a.0.cmp(b.0));
            out.set = set.into_iter().map(|(_, keys, v)| (keys, v)).collect();
        }
        if let Some(remove) = obj.get("remove") {
            let p = child(path, "remove");
            let items = remove.as_array().ok_or_else(|| {
                err(
                    &p,
                    format!("\"remove\" takes a list of paths, found {}", show(remove)),
                )
            })?;
            for (i, item) in items.iter().enumerate() {
                let ip = index(&p, i);
                let s = item.as_str().ok_or_else(|| {
                    err(&ip, format!("expected a path string, found {}", show(item)))
                })?;
                out.remove.push(params_keys(s).map_err(|m| err(&ip, m))?);
            }
        }
        if let Some(clamp) = obj.get("clamp") {
            out.clamp = compile_clamp(clamp, &child(path, "clamp"), rd)?;
        }
        Ok(out)
    }

    /// False when applying these rewrites to `params` certainly changes nothing (so the caller
    /// need not copy the params): every `set` value is already there, every `remove`d key is
    /// absent, every clamped number is in bounds.
    pub(crate) fn may_change(&self, params: &Value) -> bool {
        let get = |keys: &[String]| {
            keys.iter()
                .try_fold(params, |cur, k| cur.as_object()?.get(k.as_str()))
        };
        self.set
            .iter()
            .any(|(keys, v)| !get(keys).is_some_and(|cur| cur == v))
            || self.remove.iter().any(|keys| get(keys).is_some())
            || self.clamp.iter().any(|c| match get(&c.keys) {
                Some(Value::Number(n)) => {
                    let x = num(n);
                    matches!(&c.min, Some(Value::Number(lo)) if x < num(lo))
                        || matches!(&c.max, Some(Value::Number(hi)) if x > num(hi))
                }
                _ => false,
            })
    }

    /// Applies the rewrites to `params` (an object).
    pub(crate) fn apply(&self, params: &mut Value) {
        for (keys, value) in &self.set {
            set_path(params, keys, clone_deep(value));
        }
        for keys in &self.remove {
            if let Some((last, parents)) = keys.split_last() {
                if let Some(Value::Object(m)) = get_mut(params, parents) {
                    m.remove(last.as_str());
                }
            }
        }
        for c in &self.clamp {
            if let Some(Value::Number(n)) = get_mut(params, &c.keys) {
                let x = num(n);
                if let Some(Value::Number(lo)) = &c.min {
                    if x < num(lo) {
                        *n = lo.clone();
                        continue;
                    }
                }
                if let Some(Value::Number(hi)) = &c.max {
                    if x > num(hi) {
                        *n = hi.clone();
                    }
                }
            }
        }
    }
}

fn get_mut<'a>(mut cur: &'a mut Value, keys: &[String]) -> Option<&'a mut Value> {
    for k in keys {
        cur = cur.as_object_mut()?.get_mut(k.as_str())?;
    }
    Some(cur)
}

/// Writes `value` at `keys`, creating objects on the way and replacing non-objects by objects.
fn set_path(cur: &mut Value, keys: &[String], value: Value) {
    let Some((first, rest)) = keys.split_first() else {
        *cur = value;
        return;
    };
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(m) = cur {
        let slot = m.entry(first.clone()).or_insert(Value::Null);
        if rest.is_empty() {
            *slot = value;
        } else {
            set_path(slot, rest, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_remove_clamp_in_order() {
        let m = Modify::compile(
            &json!({"set": {"params.a.b": 1, "params.s": "x"}, "remove": ["params.debug", "params.nope.x"],
                    "clamp": {"params.limit": {"max": 50, "min": 1}, "params.low": {"min": 5}, "params.s": {"max": 1}}}),
            "m",
            &Reader::default(),
        )
        .unwrap();
        let mut p = json!({"a": 3, "debug": true, "limit": 500, "low": 1});
        m.apply(&mut p);
        assert_eq!(p, json!({"a": {"b": 1}, "limit": 50, "low": 5, "s": "x"}));
    }

    #[test]
    fn bad_modify_paths_and_bounds() {
        assert_eq!(
            Modify::compile(&json!({"set": {"context.x": 1}}), "m", &Reader::default())
                .unwrap_err()
                .path,
            "m.set"
        );
        assert_eq!(
            Modify::compile(&json!({"remove": ["params"]}), "m", &Reader::default())
                .unwrap_err()
                .path,
            "m.remove[0]"
        );
        assert_eq!(
            Modify::compile(&json!({"clamp": {"params.x": {}}}), "m", &Reader::default())
                .unwrap_err()
                .path,
            "m.clamp.params.x"
        );
        assert_eq!(
            Modify::compile(
                &json!({"clamp": {"params.x": {"min": 2, "max": 1}}}),
                "m",
                &Reader::default()
            )
            .unwrap_err()
            .path,
            "m.clamp.params.x"
        );
    }
}
