//! Operations on JSON values of any depth (a policy operand may be nested 500 levels) that
//! keep their own stack, so they run on threads with small stacks.
use crate::json::quote;
use serde_json::{Map, Value};

/// A copy of `v` (`Value::clone` recurses once per level).
pub(crate) fn clone_deep(v: &Value) -> Value {
    enum Frame<'a> {
        Array(Vec<Value>, std::slice::Iter<'a, Value>),
        Object(Map<String, Value>, serde_json::map::Iter<'a>, String),
    }
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut next = v;
    loop {
        let mut done = match next {
            Value::Array(items) => {
                stack.push(Frame::Array(Vec::with_capacity(items.len()), items.iter()));
                None
            }
            Value::Object(map) => {
                stack.push(Frame::Object(Map::new(), map.iter(), String::new()));
                None
            }
            scalar => Some(scalar.clone()),
        };
        // Attach finished values upwards until a container has another child to copy.
        loop {
            let Some(top) = stack.last_mut() else {
                return done.unwrap_or(Value::Null);
            };
            if let Some(value) = done.take() {
                match top {
                    Frame::Array(out, _) => out.push(value),
                    Frame::Object(out, _, key) => {
                        out.insert(std::mem::take(key), value);
                    }
                }
            }
            let child = match top {
                Frame::Array(_, items) => items.next(),
                Frame::Object(_, entries, key) => entries.next().map(|(k, v)| {
                    key.clone_from(k);
                    v
                }),
            };
            if let Some(child) = child {
                next = child;
                break;
            }
            done = match stack.pop() {
                Some(Frame::Array(out, _)) => Some(Value::Array(out)),
                Some(Frame::Object(out, _, _)) => Some(Value::Object(out)),
                None => None,
            };
        }
    }
}

/// A short rendering of any JSON value for error messages: compact JSON, cut after 80
/// characters.
pub(crate) fn show(v: &Value) -> String {
    const SHOWN: usize = 80;
    enum Open<'a> {
        Array(std::slice::Iter<'a, Value>, bool),
        Object(serde_json::map::Iter<'a>, bool),
    }
    let mut out = String::new();
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(v);
    while out.len() <= 4 * SHOWN {
        match next.take() {
            Some(Value::Array(items)) => {
                out.push('[');
                stack.push(Open::Array(items.iter(), true));
            }
            Some(Value::Object(map)) => {
                out.push('{');
                stack.push(Open::Object(map.iter(), true));
            }
            Some(scalar) => out.push_str(&scalar.to_string()),
            None => {}
        }
        let Some(top) = stack.last_mut() else {
            break;
        };
        let (first, child) = match top {
            Open::Array(items, first) => (first, items.next().map(|c| (None, c))),
            Open::Object(entries, first) => (first, entries.next().map(|(k, c)| (Some(k), c))),
        };
        match child {
            Some((key, child)) => {
                if !std::mem::replace(first, false) {
                    out.push(',');
                }
                if let Some(key) = key {
                    out.push_str(&quote(key));
                    out.push(':');
                }
                next = Some(child);
            }
            None => {
                out.push(match top {
                    Open::Array(..) => ']',
                    Open::Object(..) => '}',
                });
                stack.pop();
            }
        }
    }
    if out.chars().count() > SHOWN || !stack.is_empty() {
        let cut: String = out.chars().take(SHOWN - 3).collect();
        format!("{cut}...")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copies_and_shows_like_serde_json() {
        for v in [
            json!(null),
            json!(1.5),
            json!("s"),
            json!([]),
            json!({}),
            json!({"a": [1, {"b": null, "c": [true, "x"]}], "d": {}}),
        ] {
            assert_eq!(clone_deep(&v), v);
            assert_eq!(show(&v), v.to_string());
        }
        let long = json!({"k": "x".repeat(100)});
        assert_eq!(show(&long).chars().count(), 80);
        assert!(show(&long).ends_with("..."));
    }

    #[test]
    fn deep_values_fit_a_small_stack() {
        let text = format!("{}{}", "[".repeat(600), "]".repeat(600));
        let v: Value = {
            let mut de = serde_json::Deserializer::from_str(&text);
            de.disable_recursion_limit();
            serde::Deserialize::deserialize(&mut de).unwrap()
        };
        let shown = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let copy = clone_deep(&v);
                let shown = show(&copy);
                // Dropping recurses too (small frames): leave the values to the big stack.
                (shown, v, copy)
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(shown.0.starts_with("[[[[") && shown.0.ends_with("..."));
    }
}
