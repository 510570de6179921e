//! Role inheritance: the `roles` section, and each role's ancestors.
use super::reader::{array, child, err, index, is_name, object, role_name, Reader};
use crate::error::PolicyError;
use crate::json::quote;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Each role's `inherits` list, in document order of `roles`.
pub(crate) type Inherits = Vec<(String, Vec<String>)>;

/// Reads the `roles` section; errors come in document order of its keys.
pub(crate) fn read_roles(v: &Value, rd: &Reader) -> Result<Inherits, PolicyError> {
    let map = object(v, "roles")?;
    let mut out = Vec::with_capacity(map.len());
    for (role, spec) in rd.entries(map, "roles") {
        if !is_name(role, true) {
            return Err(err(
                "roles",
                format!(
                    "invalid role name {}: use 1 to 128 of A-Z a-z 0-9 . _ : -",
                    quote(role)
                ),
            ));
        }
        let p = child("roles", role);
        let obj = object(spec, &p)?;
        rd.check_keys(obj, &p, &["inherits"], &[])?;
        let mut parents = Vec::new();
        if let Some(list) = obj.get("inherits") {
            let ip = child(&p, "inherits");
            for (j, parent) in array(list, &ip)?.iter().enumerate() {
                parents.push(role_name(parent, &index(&ip, j))?);
            }
        }
        out.push((role.clone(), parents));
    }
    Ok(out)
}

/// Each role's ancestors (transitively). A cycle is reported at the first edge, in a
/// depth-first walk from each role in document order following each `inherits` list in order,
/// that leads back to a role on the current path. The walk keeps its own stack, so a long
/// inheritance chain cannot overflow the thread's.
pub(crate) fn close_roles(
    inherits: &Inherits,
) -> Result<HashMap<String, BTreeSet<String>>, PolicyError> {
    let edges: HashMap<&str, &[String]> = inherits
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_slice()))
        .collect();
    let mut on_path: HashMap<&str, bool> = HashMap::new();
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (root, _) in inherits {
        if on_path.contains_key(root.as_str()) {
            continue;
        }
        on_path.insert(root, true);
        // (role, index of the next parent to follow)
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        while let Some((role, next)) = stack.last_mut() {
            let role: &str = role;
            let parents = edges.get(role).copied().unwrap_or_default();
            let Some(parent) = parents.get(*next) else {
                stack.pop();
                on_path.insert(role, false);
                let mut ancestors = BTreeSet::new();
                for p in parents {
                    ancestors.insert(p.clone());
                    if let Some(up) = out.get(p) {
                        ancestors.extend(up.iter().cloned());
                    }
                }
                out.insert(role.to_owned(), ancestors);
                continue;
            };
            let j = *next;
            *next += 1;
            match on_path.get(parent.as_str()) {
                Some(true) => return Err(cycle(role, j, parent)),
                Some(false) => {}
                None => {
                    on_path.insert(parent, true);
                    stack.push((parent, 0));
                }
            }
        }
    }
    Ok(out)
}

fn cycle(role: &str, j: usize, parent: &str) -> PolicyError {
    err(
        &format!("roles.{role}.inherits[{j}]"),
        format!(
            "role cycle: {} inherits {}, which inherits it back",
            quote(role),
            quote(parent)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[(&str, &[&str])]) -> Inherits {
        list.iter()
            .map(|(r, p)| (r.to_string(), p.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn cycles_are_reported_in_document_order() {
        // Sorted order would start at "a" and report roles.c.inherits[0].
        let e = close_roles(&roles(&[("c", &["a"]), ("a", &["c"])])).unwrap_err();
        assert_eq!(e.path(), "roles.a.inherits[0]");
        let e = close_roles(&roles(&[("z", &["y", "x"]), ("x", &["z"]), ("y", &[])])).unwrap_err();
        assert_eq!(e.path(), "roles.x.inherits[0]");
        let e = close_roles(&roles(&[("s", &["s"])])).unwrap_err();
        assert_eq!(e.path(), "roles.s.inherits[0]");
    }

    #[test]
    fn ancestors_are_transitive_and_long_chains_fit_a_small_stack() {
        let out = close_roles(&roles(&[("a", &["b"]), ("b", &["c"]), ("d", &[])])).unwrap();
        assert_eq!(out["a"], ["b", "c"].iter().map(|s| s.to_string()).collect());
        let chain: Inherits = (0..2_000)
            .map(|i| (format!("r{i}"), vec![format!("r{}", i + 1)]))
            .collect();
        let n = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || close_roles(&chain).map(|o| o.len()).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(n, 2_001);
    }
}
