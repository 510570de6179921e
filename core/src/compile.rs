//! Policy loading: strict validation with load-error paths, compiled into an immutable
//! snapshot (rules indexed by tool, globs and regexes pre-built, roles resolved).
use crate::action::Kind;
use crate::condition::{self, Cond};
use crate::decision::PolicyInfo;
use crate::error::PolicyError;
use crate::fnv::PolicyMap;
use crate::glob::Glob;
use crate::identity::Registry;
use crate::json::{self, quote, show, StrictError};
use crate::limits::{LimitSpec, LimitState, PerPart, MAX_LIMIT, MAX_WINDOW_MS};
use crate::modify::Modify;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Largest policy document accepted, in bytes.
pub(crate) const MAX_POLICY_BYTES: usize = 16 << 20;
/// Most rules a policy may hold.
pub(crate) const MAX_RULES: usize = 10_000;
const MAX_NAME: usize = 128;

// ---- helpers shared by the loaders -------------------------------------------------------

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

thread_local! {
    /// While a policy loads on this thread: each object's keys in document order, so errors
    /// name the first offending key as written (the parsed maps do not keep that order).
    static KEY_ORDER: std::cell::RefCell<json::KeyOrder> = std::cell::RefCell::new(json::KeyOrder::new());
    /// While a policy loads on this thread: regexes compiled for the previous policy (to reuse)
    /// and those this policy uses.
    static REGEXES: std::cell::RefCell<(HashMap<String, regex::Regex>, HashMap<String, regex::Regex>)> =
        std::cell::RefCell::new((HashMap::new(), HashMap::new()));
}

/// Compiles `pattern` with `build`, or reuses the regex the previous policy compiled for it.
pub(crate) fn cached_regex(
    pattern: &str,
    build: impl FnOnce() -> Result<regex::Regex, PolicyError>,
) -> Result<regex::Regex, PolicyError> {
    let found = REGEXES.with(|r| r.borrow().0.get(pattern).cloned());
    let re = match found {
        Some(re) => re,
        None => build()?,
    };
    REGEXES.with(|r| r.borrow_mut().1.insert(pattern.to_owned(), re.clone()));
    Ok(re)
}

/// Clears the loading thread's key order when loading ends, however it ends.
struct KeyOrderScope;

impl KeyOrderScope {
    fn enter(order: json::KeyOrder) -> KeyOrderScope {
        KEY_ORDER.with(|k| *k.borrow_mut() = order);
        KeyOrderScope
    }
}

impl Drop for KeyOrderScope {
    fn drop(&mut self) {
        KEY_ORDER.with(|k| k.borrow_mut().clear());
        REGEXES.with(|r| *r.borrow_mut() = (HashMap::new(), HashMap::new()));
    }
}

/// The keys of the object at `path`, in document order.
pub(crate) fn doc_keys<'a>(obj: &'a Map<String, Value>, path: &str) -> Vec<&'a String> {
    KEY_ORDER.with(|k| match k.borrow().get(path) {
        Some(order) => order
            .iter()
            .filter_map(|key| obj.get_key_value(key).map(|(k, _)| k))
            .collect(),
        None => obj.keys().collect(),
    })
}

/// Unknown keys (first in document order), then missing required keys (in the order given).
pub(crate) fn check_keys(
    obj: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
    required: &[&str],
) -> Result<(), PolicyError> {
    if let Some(k) = doc_keys(obj, path)
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

/// A non-empty JSON array.
pub(crate) fn non_empty_array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, PolicyError> {
    match v {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(err(path, "the list must not be empty")),
        other => Err(err(path, format!("expected a list, found {}", show(other)))),
    }
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, PolicyError> {
    v.as_array()
        .ok_or_else(|| err(path, format!("expected a list, found {}", show(v))))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PolicyError> {
    v.as_object()
        .ok_or_else(|| err(path, format!("expected an object, found {}", show(v))))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, PolicyError> {
    v.as_str()
        .ok_or_else(|| err(path, format!("expected a string, found {}", show(v))))
}

fn boolean(v: &Value, path: &str) -> Result<bool, PolicyError> {
    v.as_bool()
        .ok_or_else(|| err(path, format!("expected true or false, found {}", show(v))))
}

fn one_of<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a str, PolicyError> {
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
fn is_name(s: &str, colon: bool) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_NAME
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') || (colon && c == ':')
        })
}

fn role_name(v: &Value, path: &str) -> Result<String, PolicyError> {
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

// ---- the compiled snapshot -----------------------------------------------------------------

/// Interns rule ids per engine, so that an id handed out in a decision stays valid until the
/// engine is dropped, whatever policy swaps happen.
#[derive(Debug, Default)]
pub(crate) struct Interner(
    Mutex<HashSet<Arc<str>>>,
    Mutex<HashMap<String, regex::Regex>>,
);

impl Interner {
    /// The compiled regexes of the last policy loaded, by pattern, so an update that keeps a
    /// regex does not compile it again.
    fn regexes(&self) -> HashMap<String, regex::Regex> {
        self.1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn keep_regexes(&self, used: HashMap<String, regex::Regex>) {
        *self
            .1
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = used;
    }

    pub(crate) fn intern(&self, s: &str) -> Arc<str> {
        let mut set = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = set.get(s) {
            return found.clone();
        }
        let new: Arc<str> = Arc::from(s);
        set.insert(new.clone());
        new
    }
}

/// A rule's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleEffect {
    Allow,
    Deny,
    RequireApproval,
    RateLimit,
}

impl RuleEffect {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RuleEffect::Allow => "allow",
            RuleEffect::Deny => "deny",
            RuleEffect::RequireApproval => "require_approval",
            RuleEffect::RateLimit => "rate_limit",
        }
    }
    /// Rules that restrict fire when their conditions are unknown (§5.1).
    pub(crate) fn restricts(self) -> bool {
        self != RuleEffect::Allow
    }
}

/// `match`: every present key must match; each list matches when any entry does.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    /// True when the tool index already proves `tool` matches for every rule it yields.
    pub(crate) tool_indexed: bool,
    pub(crate) kind: Option<Vec<Glob>>,
    pub(crate) tool: Option<Vec<Glob>>,
    pub(crate) agent: Option<Vec<Glob>>,
    pub(crate) role: Option<Vec<Arc<str>>>,
    pub(crate) target: Option<Vec<Glob>>,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: Arc<str>,
    pub(crate) effect: RuleEffect,
    pub(crate) reason: Arc<str>,
    pub(crate) shadow: bool,
    pub(crate) priority: i64,
    pub(crate) matcher: Matcher,
    pub(crate) when: Option<Cond>,
    pub(crate) unless: Option<Cond>,
    pub(crate) modify: Option<Modify>,
    pub(crate) limit: Option<LimitSpec>,
    /// Counters (non-shadow rate_limit rules only).
    pub(crate) state: Option<Arc<LimitState>>,
}

/// Rule indexes (into `Snapshot::rules`) for one tool name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    /// allow / deny / require_approval rules, in combining order.
    pub(crate) decide: Vec<u32>,
    /// Non-shadow rate_limit rules, in document order.
    pub(crate) limits: Vec<u32>,
    /// Shadow rules, in document order.
    pub(crate) shadow: Vec<u32>,
}

/// An immutable, compiled policy.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) info: PolicyInfo,
    pub(crate) default_allow: bool,
    pub(crate) first_match: bool,
    pub(crate) require_known_agent: bool,
    pub(crate) registry: Registry,
    /// Enabled rules, in document order.
    pub(crate) rules: Vec<Rule>,
    /// Rules whose `match.tool` holds only exact names and `prefix*` globs.
    pub(crate) by_tool: NameIndex,
    /// Other rules whose `match.agent` holds only exact names and `prefix*` globs.
    pub(crate) by_agent: NameIndex,
    /// Every other rule.
    pub(crate) unindexed: Bucket,
    /// `audit.include_params`: the paths (and their keys below `params`) audit records show.
    pub(crate) audit_params: Vec<(String, Vec<String>)>,
    /// Counters by limit signature, for carrying them over to the next snapshot.
    limit_states: HashMap<String, Arc<LimitState>>,
}

impl Snapshot {
    /// The sort key of a rule in this snapshot's combining order.
    pub(crate) fn order_key(&self, i: u32) -> (i64, u32) {
        order_key(self.first_match, &self.rules, i)
    }
}

/// The sort key of rule `i` in combining order: document order, or with `first_match`
/// priority (higher first) then document order.
fn order_key(first_match: bool, rules: &[Rule], i: u32) -> (i64, u32) {
    if first_match {
        (rules.get(i as usize).map_or(0, |r| -r.priority), i)
    } else {
        (0, i)
    }
}

// ---- loading -------------------------------------------------------------------------------

const ROOT_KEYS: [&str; 10] = [
    "portcullis",
    "name",
    "version",
    "default",
    "combining",
    "require_known_agent",
    "agents",
    "roles",
    "rules",
    "audit",
];
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

/// Loads and compiles a policy document. Counters of `prev`'s limits carry over where a
/// rule's id, max, window and per set are unchanged.
pub(crate) fn load(
    bytes: &[u8],
    prev: Option<&Snapshot>,
    interner: &Interner,
    max_keys: usize,
) -> Result<Snapshot, PolicyError> {
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(err(
            "",
            format!(
                "the policy is {} bytes; the limit is {MAX_POLICY_BYTES} bytes (16 MiB)",
                bytes.len()
            ),
        ));
    }
    let (doc, order) = json::parse_document(bytes).map_err(|e| match e {
        StrictError::Syntax(m) => err("", format!("the policy is not valid JSON: {m}")),
        StrictError::Duplicate { path, key } => {
            err(&path, format!("duplicate key {}", quote(&key)))
        }
        StrictError::TooDeep { limit } => err(
            "",
            format!("the policy is nested deeper than {limit} levels"),
        ),
    })?;
    let _order = KeyOrderScope::enter(order);
    REGEXES.with(|r| *r.borrow_mut() = (interner.regexes(), HashMap::new()));
    let root = doc.as_object().ok_or_else(|| {
        err(
            "",
            format!("the policy must be a JSON object, found {}", show(&doc)),
        )
    })?;
    check_keys(root, "", &ROOT_KEYS, &["portcullis", "name"])?;

    let version_value = root.get("portcullis").unwrap_or(&Value::Null);
    if version_value.as_f64() != Some(1.0) {
        return Err(err(
            "portcullis",
            format!(
                "unsupported format version {}; this engine reads version 1",
                show(version_value)
            ),
        ));
    }
    let name = string(root.get("name").unwrap_or(&Value::Null), "name")?;
    if !is_name(name, false) {
        return Err(err(
            "name",
            format!(
                "invalid name {}: use 1 to 128 of A-Z a-z 0-9 . _ -",
                quote(name)
            ),
        ));
    }
    let version = match root.get("version") {
        None => None,
        Some(v) => {
            let s = string(v, "version")?;
            if s.chars().count() > MAX_NAME {
                return Err(err(
                    "version",
                    format!("the version is longer than {MAX_NAME} characters"),
                ));
            }
            Some(Arc::<str>::from(s))
        }
    };
    let default_allow = match root.get("default") {
        None => false,
        Some(v) => one_of(v, "default", &["deny", "allow"])? == "allow",
    };
    let first_match = match root.get("combining") {
        None => false,
        Some(v) => one_of(v, "combining", &["deny_overrides", "first_match"])? == "first_match",
    };
    let require_known_agent = match root.get("require_known_agent") {
        None => false,
        Some(v) => boolean(v, "require_known_agent")?,
    };

    // agents
    let mut agent_entries: Vec<(Glob, Vec<String>)> = Vec::new();
    if let Some(agents) = root.get("agents") {
        for (i, entry) in array(agents, "agents")?.iter().enumerate() {
            let p = index("agents", i);
            let obj = object(entry, &p)?;
            check_keys(obj, &p, &["id", "roles"], &["id"])?;
            let idp = child(&p, "id");
            let id = string(obj.get("id").unwrap_or(&Value::Null), &idp)?;
            if id.is_empty() {
                return Err(err(&idp, "the agent id must not be empty"));
            }
            let glob = Glob::new(id).map_err(|e| err(&idp, e.0))?;
            let mut roles = Vec::new();
            if let Some(r) = obj.get("roles") {
                let rp = child(&p, "roles");
                for (j, role) in array(r, &rp)?.iter().enumerate() {
                    roles.push(role_name(role, &index(&rp, j))?);
                }
            }
            agent_entries.push((glob, roles));
        }
    }

    // roles
    let mut inherits: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(roles) = root.get("roles") {
        let map = object(roles, "roles")?;
        for (role, spec) in map {
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
            check_keys(obj, &p, &["inherits"], &[])?;
            let mut parents = Vec::new();
            if let Some(list) = obj.get("inherits") {
                let ip = child(&p, "inherits");
                for (j, parent) in array(list, &ip)?.iter().enumerate() {
                    parents.push(role_name(parent, &index(&ip, j))?);
                }
            }
            inherits.push((role.clone(), parents));
        }
    }

    // rules
    let mut raw_rules: Vec<(Rule, bool, Vec<String>)> = Vec::new();
    if let Some(rules) = root.get("rules") {
        let list = array(rules, "rules")?;
        if list.len() > MAX_RULES {
            return Err(err(
                "rules",
                format!(
                    "the policy has {} rules; at most {MAX_RULES} are allowed",
                    list.len()
                ),
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, rule) in list.iter().enumerate() {
            let p = index("rules", i);
            raw_rules.push(compile_rule(rule, &p, interner, &mut seen, i)?);
        }
    }

    // audit
    let mut audit_params = Vec::new();
    if let Some(audit) = root.get("audit") {
        let obj = object(audit, "audit")?;
        check_keys(obj, "audit", &["include_params"], &[])?;
        if let Some(list) = obj.get("include_params") {
            let p = "audit.include_params";
            for (j, item) in array(list, p)?.iter().enumerate() {
                let ip = index(p, j);
                let s = string(item, &ip)?;
                let keys = crate::field::FieldPath::params_keys(s).ok_or_else(|| {
                    err(
                        &ip,
                        format!("{} must be a path starting with \"params.\"", quote(s)),
                    )
                })?;
                audit_params.push((s.to_owned(), keys));
            }
        }
    }

    // Checks across keys: role cycles, then undefined roles named by rules.
    let closure = close_roles(&inherits)?;
    let mut defined: HashSet<&str> = HashSet::new();
    for (_, roles) in &agent_entries {
        defined.extend(roles.iter().map(String::as_str));
    }
    for (role, parents) in &inherits {
        defined.insert(role);
        defined.extend(parents.iter().map(String::as_str));
    }
    for (i, (_, _, roles)) in raw_rules.iter().enumerate() {
        if let Some(j) = roles.iter().position(|r| !defined.contains(r.as_str())) {
            let role = roles.get(j).map_or("", String::as_str);
            return Err(err(
                &format!("rules[{i}].match.role[{j}]"),
                format!(
                    "undefined role {}: no agent entry grants it and no role defines it",
                    quote(role)
                ),
            ));
        }
    }

    let registry = Registry::new(
        agent_entries
            .into_iter()
            .map(|(glob, roles)| {
                let mut set: BTreeSet<Arc<str>> = BTreeSet::new();
                for r in roles {
                    set.insert(Arc::from(r.as_str()));
                    if let Some(up) = closure.get(&r) {
                        set.extend(up.iter().map(|u| Arc::from(u.as_str())));
                    }
                }
                (glob, set)
            })
            .collect(),
    );

    // Counters: reuse the previous snapshot's where the limit is unchanged.
    let mut limit_states = HashMap::new();
    let mut rules = Vec::with_capacity(raw_rules.len());
    for (mut rule, enabled, _) in raw_rules {
        if !enabled {
            continue;
        }
        if let (Some(spec), false) = (&rule.limit, rule.shadow) {
            let sig = spec.signature(&rule.id);
            let state = prev
                .and_then(|p| p.limit_states.get(&sig).cloned())
                .unwrap_or_else(|| Arc::new(LimitState::new(max_keys)));
            limit_states.insert(sig, state.clone());
            rule.state = Some(state);
        }
        rules.push(rule);
    }

    let mut snapshot = Snapshot {
        info: PolicyInfo {
            name: Arc::from(name),
            version,
        },
        default_allow,
        first_match,
        require_known_agent,
        registry,
        rules,
        by_tool: NameIndex::default(),
        by_agent: NameIndex::default(),
        unindexed: Bucket::default(),
        audit_params,
        limit_states,
    };
    build_index(&mut snapshot);
    assign_field_slots(&mut snapshot.rules);
    // Keep this policy's regexes (only these, so the cache never outgrows one policy).
    interner.keep_regexes(REGEXES.with(|r| std::mem::take(&mut r.borrow_mut().1)));
    Ok(snapshot)
}

/// Each role's ancestors (transitively); a cycle is reported at the edge that closes it.
fn close_roles(
    inherits: &[(String, Vec<String>)],
) -> Result<HashMap<String, BTreeSet<String>>, PolicyError> {
    let edges: HashMap<&str, &Vec<String>> =
        inherits.iter().map(|(r, p)| (r.as_str(), p)).collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        role: &'a str,
        edges: &HashMap<&'a str, &'a Vec<String>>,
        marks: &mut HashMap<&'a str, Mark>,
        out: &mut HashMap<String, BTreeSet<String>>,
    ) -> Result<(), PolicyError> {
        marks.insert(role, Mark::Active);
        let mut ancestors = BTreeSet::new();
        if let Some(parents) = edges.get(role) {
            for (j, parent) in parents.iter().enumerate() {
                match marks.get(parent.as_str()) {
                    Some(Mark::Active) => {
                        return Err(err(
                            &format!("roles.{role}.inherits[{j}]"),
                            format!(
                                "role cycle: {} inherits {}, which inherits it back",
                                quote(role),
                                quote(parent)
                            ),
                        ))
                    }
                    Some(Mark::Done) => {}
                    None => visit(parent, edges, marks, out)?,
                }
                ancestors.insert(parent.clone());
                if let Some(up) = out.get(parent) {
                    ancestors.extend(up.iter().cloned());
                }
            }
        }
        marks.insert(role, Mark::Done);
        out.insert(role.to_owned(), ancestors);
        Ok(())
    }
    let mut marks = HashMap::new();
    let mut out = HashMap::new();
    for (role, _) in inherits {
        if !marks.contains_key(role.as_str()) {
            visit(role, &edges, &mut marks, &mut out)?;
        }
    }
    Ok(out)
}

/// Compiles one rule; returns it, whether it is enabled, and the roles its `match` names.
fn compile_rule(
    v: &Value,
    p: &str,
    interner: &Interner,
    seen: &mut HashMap<String, usize>,
    position: usize,
) -> Result<(Rule, bool, Vec<String>), PolicyError> {
    let obj = object(v, p)?;
    let rate_limit = obj.get("effect").and_then(Value::as_str) == Some("rate_limit");
    let required: &[&str] = if rate_limit {
        &["id", "effect", "limit"]
    } else {
        &["id", "effect"]
    };
    check_keys(obj, p, &RULE_KEYS, required)?;
    let get = |k: &str| obj.get(k).unwrap_or(&Value::Null);

    let idp = child(p, "id");
    let id = string(get("id"), &idp)?;
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
    let effect = match one_of(
        get("effect"),
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
    let enabled = obj
        .get("enabled")
        .map(|v| boolean(v, &child(p, "enabled")))
        .transpose()?
        .unwrap_or(true);
    let shadow = obj
        .get("shadow")
        .map(|v| boolean(v, &child(p, "shadow")))
        .transpose()?
        .unwrap_or(false);
    let priority = match obj.get("priority") {
        None => 0,
        Some(v) => integer(v).ok_or_else(|| {
            err(
                &child(p, "priority"),
                format!("priority must be an integer, found {}", show(v)),
            )
        })?,
    };
    let mut roles = Vec::new();
    let matcher = match obj.get("match") {
        None => Matcher::default(),
        Some(m) => compile_match(m, &child(p, "match"), &mut roles)?,
    };
    let when = obj
        .get("when")
        .map(|c| condition::compile(c, &child(p, "when"), 1))
        .transpose()?;
    let unless = obj
        .get("unless")
        .map(|c| condition::compile(c, &child(p, "unless"), 1))
        .transpose()?;
    let modify = obj
        .get("modify")
        .map(|m| Modify::compile(m, &child(p, "modify")))
        .transpose()?;
    let limit = obj
        .get("limit")
        .map(|l| compile_limit(l, &child(p, "limit")))
        .transpose()?;
    if modify.is_some() && effect != RuleEffect::Allow {
        return Err(err(
            &child(p, "modify"),
            format!(
                "\"modify\" is allowed only on rules with effect \"allow\", not {}",
                quote(effect.as_str())
            ),
        ));
    }
    if limit.is_some() && effect != RuleEffect::RateLimit {
        return Err(err(
            &child(p, "limit"),
            format!(
                "\"limit\" is allowed only on rules with effect \"rate_limit\", not {}",
                quote(effect.as_str())
            ),
        ));
    }
    let rule = Rule {
        id: interner.intern(id),
        effect,
        reason,
        shadow,
        priority,
        matcher,
        when,
        unless,
        modify,
        limit,
        state: None,
    };
    Ok((rule, enabled, roles))
}

/// An integer (a JSON number with no fractional part, within ±2^53 when written as a double).
fn integer(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}

fn compile_match(v: &Value, p: &str, roles: &mut Vec<String>) -> Result<Matcher, PolicyError> {
    let obj = object(v, p)?;
    check_keys(obj, p, &["kind", "tool", "agent", "role", "target"], &[])?;
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

fn compile_limit(v: &Value, p: &str) -> Result<LimitSpec, PolicyError> {
    let obj = object(v, p)?;
    check_keys(obj, p, &["max", "window", "per"], &["max", "window"])?;
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
fn assign_field_slots(rules: &mut [Rule]) {
    let mut slots: HashMap<String, usize> = HashMap::new();
    for rule in rules {
        for cond in [rule.when.as_mut(), rule.unless.as_mut()]
            .into_iter()
            .flatten()
        {
            cond.fields_mut(&mut |field| {
                let next = slots.len();
                let slot = *slots.entry(field.canonical()).or_insert(next);
                field.slot = slot;
            });
        }
    }
}

/// Buckets of rules filed under exact names and `prefix*` globs (of tools or agents).
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    exact: PolicyMap<String, Bucket>,
    prefix: PolicyMap<String, Bucket>,
    /// The distinct prefix lengths (bytes) of `prefix`, ascending.
    prefix_lens: Vec<usize>,
}

impl NameIndex {
    /// True when every glob can be filed here.
    fn accepts(globs: &[Glob]) -> bool {
        globs
            .iter()
            .all(|g| matches!(g, Glob::Exact(_) | Glob::Prefix(_)))
    }

    fn file(&mut self, globs: &[Glob], put: &mut dyn FnMut(&mut Bucket)) {
        for g in globs {
            match g {
                Glob::Exact(name) => put(self.exact.entry(name.clone()).or_default()),
                Glob::Prefix(p) => put(self.prefix.entry(p.clone()).or_default()),
                _ => {}
            }
        }
    }

    fn finish(&mut self, order: &dyn Fn(&u32) -> (i64, u32)) {
        for b in self.exact.values_mut().chain(self.prefix.values_mut()) {
            b.decide.sort_by_key(order);
        }
        self.prefix_lens = self.prefix.keys().map(String::len).collect();
        self.prefix_lens.sort_unstable();
        self.prefix_lens.dedup();
    }

    /// Adds the buckets whose names or prefixes match `name`.
    fn lookup<'a>(&'a self, name: &str, out: &mut Vec<&'a Bucket>) {
        out.extend(self.exact.get(name));
        for &len in &self.prefix_lens {
            match name.get(..len) {
                Some(head) => out.extend(self.prefix.get(head)),
                None if len > name.len() => break,
                None => {}
            }
        }
    }
}

/// Fills the indexes: a rule whose `match.tool` holds only exact names and `prefix*` globs is
/// filed under each of them; otherwise, one whose `match.agent` does is filed by agent; every
/// other rule is unindexed. Evaluation merges the buckets that can apply to an action, so a
/// large policy is not scanned rule by rule.
fn build_index(s: &mut Snapshot) {
    let mut by_tool = NameIndex::default();
    let mut by_agent = NameIndex::default();
    let mut unindexed = Bucket::default();
    for (i, rule) in s.rules.iter_mut().enumerate() {
        let i = i as u32;
        let (shadow, limit) = (rule.shadow, rule.effect == RuleEffect::RateLimit);
        let mut put = |b: &mut Bucket| {
            let list = if shadow {
                &mut b.shadow
            } else if limit {
                &mut b.limits
            } else {
                &mut b.decide
            };
            // A rule listing two names of one bucket is filed once.
            if list.last() != Some(&i) {
                list.push(i);
            }
        };
        let m = &mut rule.matcher;
        match (&m.tool, &m.agent) {
            (Some(tools), _) if NameIndex::accepts(tools) => {
                m.tool_indexed = true;
                by_tool.file(tools, &mut put);
            }
            (_, Some(agents)) if NameIndex::accepts(agents) => by_agent.file(agents, &mut put),
            _ => put(&mut unindexed),
        }
    }
    let first_match = s.first_match;
    let rules = &s.rules;
    let order = |i: &u32| order_key(first_match, rules, *i);
    by_tool.finish(&order);
    by_agent.finish(&order);
    unindexed.decide.sort_by_key(order);
    s.by_tool = by_tool;
    s.by_agent = by_agent;
    s.unindexed = unindexed;
}

impl Snapshot {
    /// The buckets whose rules can match an action on `tool` by `agent`.
    pub(crate) fn buckets(&self, tool: &str, agent: &str) -> Vec<&Bucket> {
        let mut out = Vec::with_capacity(4);
        self.by_tool.lookup(tool, &mut out);
        self.by_agent.lookup(agent, &mut out);
        out.push(&self.unindexed);
        out
    }
}
