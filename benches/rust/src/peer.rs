//! Cedar on the subset both languages express (benches/workload/subset-policy.cedar).
//!
//! What is prepared outside the timed loop: the policy set (parsed once), the entity store
//! (every agent of the actions with its registry roles as parents, every role with the roles
//! it inherits as parents) and one `Request` per action (principal, action, resource and the
//! context record built from the action's params). What is timed: one
//! `Authorizer::is_authorized(&request, &policies, &entities)` call.
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicySet, Request, RestrictedExpression,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::str::FromStr;

/// Everything Cedar needs, built once.
pub struct CedarPeer {
    /// The parsed policy set.
    pub policies: PolicySet,
    /// Agents and roles.
    pub entities: Entities,
    /// One request per action, in order.
    pub requests: Vec<Request>,
    /// Authorizes requests.
    pub authorizer: Authorizer,
}

fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

/// `*`-only glob, as the registry's agent patterns use it.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A JSON value as a Cedar value. Cedar has no floating-point type and no null: a float
/// becomes its decimal text (no subset rule reads one) and a null field is left out, so
/// `has` sees it as absent exactly as portcullis treats null as missing.
fn to_cedar(value: &Value) -> Result<Option<RestrictedExpression>, String> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => RestrictedExpression::new_long(i),
            None => RestrictedExpression::new_string(n.to_string()),
        },
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => {
            let mut set = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = to_cedar(item)? {
                    set.push(v);
                }
            }
            RestrictedExpression::new_set(set)
        }
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            for (k, v) in map {
                if let Some(v) = to_cedar(v)? {
                    fields.push((k.clone(), v));
                }
            }
            RestrictedExpression::new_record(fields).map_err(|e| e.to_string())?
        }
    }))
}

impl CedarPeer {
    /// Builds the peer from the Cedar policy text, the portcullis subset policy (for its agent
    /// registry and roles) and the actions.
    pub fn new(cedar_text: &str, subset_policy: &[u8], actions: &[Value]) -> Result<Self, String> {
        let policies =
            PolicySet::from_str(cedar_text).map_err(|e| format!("subset-policy.cedar: {e}"))?;
        let doc: Value = serde_json::from_slice(subset_policy).map_err(|e| e.to_string())?;

        // Roles and what they inherit.
        let mut role_parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let registry: Vec<(String, Vec<String>)> = doc
            .get("agents")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let roles = e
                            .get("roles")
                            .and_then(Value::as_array)
                            .map(|r| {
                                r.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (str_at(e, "/id").to_owned(), roles)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (_, roles) in &registry {
            for r in roles {
                role_parents.entry(r.clone()).or_default();
            }
        }
        if let Some(map) = doc.get("roles").and_then(Value::as_object) {
            for (role, def) in map {
                let parents = role_parents.entry(role.clone()).or_default();
                for p in def
                    .get("inherits")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = p.as_str() {
                        parents.insert(p.to_owned());
                    }
                }
            }
        }
        let mut entities = Vec::new();
        let inherited: Vec<String> = role_parents.values().flatten().cloned().collect();
        for role in inherited {
            role_parents.entry(role).or_default();
        }
        for (role, parents) in &role_parents {
            let parents = parents
                .iter()
                .map(|p| uid("Role", p))
                .collect::<Result<HashSet<_>, _>>()?;
            entities.push(Entity::new_no_attrs(uid("Role", role)?, parents));
        }

        // Every agent that acts, with the roles of every registry entry that matches it.
        let agents: BTreeSet<&str> = actions
            .iter()
            .filter_map(|a| a.pointer("/agent/id").and_then(Value::as_str))
            .collect();
        for agent in agents {
            let mut parents = HashSet::new();
            for (pattern, roles) in &registry {
                if glob_matches(pattern, agent) {
                    for r in roles {
                        parents.insert(uid("Role", r)?);
                    }
                }
            }
            entities.push(Entity::new_no_attrs(uid("Agent", agent)?, parents));
        }
        let entities = Entities::from_entities(entities, None).map_err(|e| e.to_string())?;

        let mut requests = Vec::with_capacity(actions.len());
        for a in actions {
            let agent = str_at(a, "/agent/id");
            let tool = str_at(a, "/tool");
            let tenant = str_at(a, "/context/tenant");
            let params = to_cedar(a.get("params").unwrap_or(&Value::Null))?
                .unwrap_or(RestrictedExpression::new_record([]).map_err(|e| e.to_string())?);
            let context =
                Context::from_pairs([("params".to_owned(), params)]).map_err(|e| e.to_string())?;
            let request = Request::new(
                uid("Agent", agent)?,
                uid("Action", tool)?,
                uid("Tenant", tenant)?,
                context,
                None,
            )
            .map_err(|e| e.to_string())?;
            requests.push(request);
        }
        Ok(CedarPeer {
            policies,
            entities,
            requests,
            authorizer: Authorizer::new(),
        })
    }

    /// Authorizes request `i` (the timed call); true for Allow.
    pub fn allowed(&self, i: usize) -> bool {
        self.requests.get(i).is_some_and(|r| {
            self.authorizer
                .is_authorized(r, &self.policies, &self.entities)
                .decision()
                == CedarDecision::Allow
        })
    }

    /// The ids of the policies that decided request `i` (for mismatch reports).
    pub fn reasons(&self, i: usize) -> Vec<String> {
        self.requests.get(i).map_or_else(Vec::new, |r| {
            let resp = self
                .authorizer
                .is_authorized(r, &self.policies, &self.entities);
            let mut ids: Vec<String> = resp
                .diagnostics()
                .reason()
                .map(|id| {
                    self.policies
                        .policy(id)
                        .and_then(|p| p.annotation("id").map(str::to_owned))
                        .unwrap_or_else(|| id.to_string())
                })
                .collect();
            ids.extend(resp.diagnostics().errors().map(|e| format!("error: {e}")));
            ids
        })
    }
}

/// One line about an action, for mismatch reports.
pub fn describe(action: &Value) -> String {
    let at = |p: &str| action.pointer(p).map_or_else(String::new, Value::to_string);
    format!("{} {} {}", at("/agent/id"), at("/tool"), at("/params"))
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn registry_globs() {
        assert!(glob_matches("support-*", "support-1"));
        assert!(glob_matches("admin-bot", "admin-bot"));
        assert!(!glob_matches("admin-bot", "admin-bot2"));
        assert!(!glob_matches("support-*", "supporter"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXcYYb"));
        assert!(glob_matches("*", ""));
    }
}
