//! The loader: one step per section of the document (header, agents, roles, rules, audit),
//! then the checks across sections, then the compiled snapshot with carried-over counters.
use super::index::build_index;
use super::known::{rule_texts, KnownRules, Lookup, RuleSpan};
use super::parse::{parse_policy, Order, ParseError, Parsed};
use super::reader::{
    array, boolean, child, err, index, is_name, object, one_of, role_name, string, Reader, MAX_NAME,
};
use super::roles::{close_roles, read_roles, Inherits};
use super::rules::{
    assign_field_slots, compile_rule, reusable_depth, reuse_rule, reuse_text, CompiledRule,
};
use super::{Interner, NameIndex, RuleCache, Shelf, Snapshot, MAX_POLICY_BYTES, MAX_RULES};
use crate::decision::PolicyInfo;
use crate::error::PolicyError;
use crate::glob::Glob;
use crate::identity::Registry;
use crate::json::{quote, show};
use crate::limits::LimitState;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

pub(super) const ROOT_KEYS: [&str; 10] = [
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

/// The top-level settings.
pub(super) struct Header {
    info: PolicyInfo,
    default_allow: bool,
    first_match: bool,
    require_known_agent: bool,
}

/// One `agents` entry: the id glob and the roles it grants directly.
pub(super) type AgentEntry = (Glob, Vec<String>);

/// Loads and compiles a policy document. Counters of `prev`'s limits carry over where a
/// rule's id, max, window and per set are unchanged.
///
/// The first attempt records only the key order a policy's meaning depends on (`roles`) and
/// steps over rules whose exact text the last load compiled. A document that fails loads
/// again in full, with every object's order and nothing reused: that second load is the
/// reference, and its error is the first in document order, as it always was.
pub(crate) fn load(
    bytes: &[u8],
    prev: Option<&Snapshot>,
    interner: &Interner,
    max_keys: usize,
) -> Result<Snapshot, PolicyError> {
    let previous = interner.take_rules();
    load_recording(bytes, prev, interner, max_keys, Order::Roles, previous).or_else(|_| {
        load_recording(
            bytes,
            prev,
            interner,
            max_keys,
            Order::All,
            RuleCache::default(),
        )
    })
}

fn load_recording(
    bytes: &[u8],
    prev: Option<&Snapshot>,
    interner: &Interner,
    max_keys: usize,
    record: Order,
    mut previous: RuleCache,
) -> Result<Snapshot, PolicyError> {
    let mut lookup = Lookup {
        cache: &previous,
        cursor: 0,
        moved: vec![None; previous.texts.len()],
    };
    let parsed = parse(bytes, record, &mut lookup)?;
    let moved = lookup.moved;
    let (doc, spans) = (parsed.value, parsed.rules);
    let mut rd = Reader::new(parsed.order, interner.regexes());
    let root = root_object(&doc)?;
    rd.check_keys(root, "", &ROOT_KEYS, &["portcullis", "name"])?;
    let header = read_header(root)?;
    let agents = match root.get("agents") {
        Some(v) => read_agents(v, &rd)?,
        None => Vec::new(),
    };
    let inherits = match root.get("roles") {
        Some(v) => read_roles(v, &rd)?,
        None => Vec::new(),
    };
    let (rules, mut carried) = match root.get("rules") {
        Some(v) => read_rules(v, &mut rd, interner, &mut previous, &spans)?,
        None => (Vec::new(), Vec::new()),
    };
    let audit_params = match root.get("audit") {
        Some(v) => read_audit(v, &rd)?,
        None => Vec::new(),
    };
    let closure = close_roles(&inherits)?;
    check_rule_roles(&rules, &agents, &inherits)?;
    let registry = Registry::new(
        agents
            .into_iter()
            .map(|(glob, roles)| (glob, with_ancestors(roles, &closure)))
            .collect(),
    );
    // Only an engine that has been updated once keeps its rules for the next update: an
    // engine that never changes its policy does not pay for the copies.
    let kept = prev.map(|_| reusable(root.get("rules"), &carried, &rules));
    let (rules, limit_states) = carry_over(rules, prev, max_keys);
    let mut snapshot = Snapshot {
        info: header.info,
        default_allow: header.default_allow,
        first_match: header.first_match,
        require_known_agent: header.require_known_agent,
        registry,
        rules,
        by_tool: NameIndex::default(),
        by_agent: NameIndex::default(),
        unindexed: Shelf::default(),
        audit_params,
        limit_states,
    };
    // Slots first: the index tells guard fields apart by slot.
    assign_field_slots(&mut snapshot.rules);
    build_index(&mut snapshot);
    interner.keep_regexes(rd.into_regexes());
    if let Some(kept) = kept {
        let (texts, by_text) = rule_texts(bytes, &spans, &kept, &moved, previous.by_text);
        interner.keep_rules(RuleCache {
            by_id: rules_by_id(doc, &mut carried, kept),
            texts,
            by_text,
        });
    }
    Ok(snapshot)
}

/// A copy of each compiled rule the next load may reuse (`None` for rules nested too deeply).
/// A rule the parser stepped over has its JSON value in `carried`.
fn reusable(
    sources: Option<&Value>,
    carried: &[Option<Value>],
    rules: &[CompiledRule],
) -> Vec<Option<CompiledRule>> {
    let sources = sources
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut scratch = Vec::new();
    sources
        .iter()
        .enumerate()
        .zip(rules)
        .map(|((i, source), rule)| {
            let source = carried.get(i).and_then(Option::as_ref).unwrap_or(source);
            reusable_depth(source, &mut scratch).then(|| rule.clone())
        })
        .collect()
}

/// The document's rules as written, by id, with their compiled forms (in the same order).
fn rules_by_id(
    doc: Value,
    carried: &mut [Option<Value>],
    compiled: Vec<Option<CompiledRule>>,
) -> HashMap<Arc<str>, (Value, CompiledRule)> {
    let sources = match doc {
        Value::Object(mut root) => match root.remove("rules") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut by_id = HashMap::new();
    for (i, (source, rule)) in sources.into_iter().zip(compiled).enumerate() {
        let Some(rule) = rule else { continue };
        let source = carried.get_mut(i).and_then(Option::take).unwrap_or(source);
        by_id.insert(rule.rule.id.clone(), (source, rule));
    }
    by_id
}

/// The size check and the parse.
pub(super) fn parse(
    bytes: &[u8],
    record: Order,
    known: &mut dyn KnownRules,
) -> Result<Parsed, PolicyError> {
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(err(
            "",
            format!(
                "the policy is {} bytes; the limit is {MAX_POLICY_BYTES} bytes (16 MiB)",
                bytes.len()
            ),
        ));
    }
    parse_policy(bytes, record, known).map_err(|e| match e {
        ParseError::Duplicate { path, key } => err(&path, format!("duplicate key {}", quote(&key))),
        ParseError::TooDeep { .. } => err("", e.to_string()),
        ParseError::Syntax { .. } => err("", format!("the policy is not valid JSON: {e}")),
    })
}

/// `portcullis`, `name`, `version`, `default`, `combining`, `require_known_agent`.
pub(super) fn read_header(root: &Map<String, Value>) -> Result<Header, PolicyError> {
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
    let setting = |key: &str, allowed: &[&str]| -> Result<bool, PolicyError> {
        match root.get(key) {
            None => Ok(false),
            Some(v) => Ok(one_of(v, key, allowed)? == allowed.get(1).copied().unwrap_or("")),
        }
    };
    let default_allow = setting("default", &["deny", "allow"])?;
    let first_match = setting("combining", &["deny_overrides", "first_match"])?;
    let require_known_agent = match root.get("require_known_agent") {
        None => false,
        Some(v) => boolean(v, "require_known_agent")?,
    };
    Ok(Header {
        info: PolicyInfo {
            name: Arc::from(name),
            version,
        },
        default_allow,
        first_match,
        require_known_agent,
    })
}

/// The `agents` registry entries, in order.
pub(super) fn read_agents(v: &Value, rd: &Reader) -> Result<Vec<AgentEntry>, PolicyError> {
    let mut out = Vec::new();
    for (i, entry) in array(v, "agents")?.iter().enumerate() {
        let p = index("agents", i);
        let obj = object(entry, &p)?;
        rd.check_keys(obj, &p, &["id", "roles"], &["id"])?;
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
        out.push((glob, roles));
    }
    Ok(out)
}

/// Every rule, enabled or not (ids and errors count disabled rules too), and the JSON value
/// of each rule the parser stepped over (its text was the same as a rule of `previous`).
fn read_rules(
    v: &Value,
    rd: &mut Reader,
    interner: &Interner,
    previous: &mut RuleCache,
    spans: &[RuleSpan],
) -> Result<(Vec<CompiledRule>, Vec<Option<Value>>), PolicyError> {
    let list = rule_list(v)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    let mut carried = Vec::new();
    let mut skipped = spans.iter().filter(|s| s.known.is_some()).peekable();
    for (i, rule) in list.iter().enumerate() {
        if let Some(id) = skipped
            .next_if(|s| s.index == i)
            .and_then(|s| s.known.as_ref())
        {
            // `None`: the id is a duplicate; the full load that follows reports it.
            let (compiled, source) = reuse_text(id, i, previous, &mut seen)
                .ok_or_else(|| err(&index("rules", i), "duplicate rule id"))?;
            carried.resize(i + 1, None);
            if let Some(slot) = carried.get_mut(i) {
                *slot = Some(source);
            }
            out.push(compiled);
            continue;
        }
        out.push(match reuse_rule(rule, i, previous, &mut seen) {
            Some(compiled) => compiled,
            None => compile_rule(rule, i, rd, interner, &mut seen)?,
        });
    }
    Ok((out, carried))
}

/// `audit.include_params`: each path and its keys below `params`.
pub(super) fn read_audit(
    v: &Value,
    rd: &Reader,
) -> Result<Vec<(String, Vec<String>)>, PolicyError> {
    let obj = object(v, "audit")?;
    rd.check_keys(obj, "audit", &["include_params"], &[])?;
    let mut out = Vec::new();
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
            out.push((s.to_owned(), keys));
        }
    }
    Ok(out)
}

/// A role a rule's `match.role` names must be granted by an agent entry or named in `roles`.
fn check_rule_roles(
    rules: &[CompiledRule],
    agents: &[AgentEntry],
    inherits: &Inherits,
) -> Result<(), PolicyError> {
    let defined = defined_roles(agents, inherits);
    for (i, rule) in rules.iter().enumerate() {
        check_rule_role(i, rule, &defined)?;
    }
    Ok(())
}

/// The roles an agent entry grants or `roles` names.
pub(super) fn defined_roles<'a>(
    agents: &'a [AgentEntry],
    inherits: &'a Inherits,
) -> HashSet<&'a str> {
    let mut defined: HashSet<&str> = HashSet::new();
    for (_, roles) in agents {
        defined.extend(roles.iter().map(String::as_str));
    }
    for (role, parents) in inherits {
        defined.insert(role);
        defined.extend(parents.iter().map(String::as_str));
    }
    defined
}

/// Rule `i`'s `match.role` names only defined roles.
pub(super) fn check_rule_role(
    i: usize,
    rule: &CompiledRule,
    defined: &HashSet<&str>,
) -> Result<(), PolicyError> {
    match rule
        .roles
        .iter()
        .enumerate()
        .find(|(_, r)| !defined.contains(r.as_str()))
    {
        Some((j, role)) => Err(err(
            &format!("rules[{i}].match.role[{j}]"),
            format!(
                "undefined role {}: no agent entry grants it and no role defines it",
                quote(role)
            ),
        )),
        None => Ok(()),
    }
}

/// The document's root object.
pub(super) fn root_object(doc: &Value) -> Result<&Map<String, Value>, PolicyError> {
    doc.as_object().ok_or_else(|| {
        err(
            "",
            format!("the policy must be a JSON object, found {}", show(doc)),
        )
    })
}

/// The `rules` list, within the rule count limit.
pub(super) fn rule_list(v: &Value) -> Result<&Vec<Value>, PolicyError> {
    let list = array(v, "rules")?;
    if list.len() > MAX_RULES {
        return Err(err(
            "rules",
            format!(
                "the policy has {} rules; at most {MAX_RULES} are allowed",
                list.len()
            ),
        ));
    }
    Ok(list)
}

/// The roles an agent entry grants, with their ancestors.
fn with_ancestors(
    roles: Vec<String>,
    closure: &HashMap<String, BTreeSet<String>>,
) -> BTreeSet<Arc<str>> {
    let mut set: BTreeSet<Arc<str>> = BTreeSet::new();
    for r in roles {
        if let Some(up) = closure.get(&r) {
            set.extend(up.iter().map(|u| Arc::from(u.as_str())));
        }
        set.insert(Arc::from(r));
    }
    set
}

/// The enabled rules, with counters: the previous snapshot's where a limit is unchanged.
fn carry_over(
    rules: Vec<CompiledRule>,
    prev: Option<&Snapshot>,
    max_keys: usize,
) -> (Vec<super::Rule>, HashMap<String, Arc<LimitState>>) {
    let mut limit_states = HashMap::new();
    let mut out = Vec::with_capacity(rules.len());
    for CompiledRule {
        mut rule, enabled, ..
    } in rules
    {
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
        out.push(rule);
    }
    (out, limit_states)
}
