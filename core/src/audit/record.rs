//! What a record holds, and the chain that seals records in order.
//!
//! Each record shape is a serde struct; its fields are listed in RFC 8785 key order, and the
//! sealed line is always written through the RFC 8785 writer, so the canonical form does not
//! depend on the field order (the tests pin it byte for byte).
use super::GENESIS;
use crate::decision::{Code, Decision, Effect, PolicyInfo};
use crate::digest::sha256_tag;
use crate::json::write_jcs;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What a decision was about, copied from the action for its audit record.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) agent: String,
    pub(crate) kind: &'static str,
    pub(crate) tool: String,
    pub(crate) target: Option<String>,
    /// Only the values of `audit.include_params` paths, keyed by path.
    pub(crate) params: Option<Map<String, Value>>,
}

/// A decision waiting in the queue to be sealed.
#[derive(Debug)]
pub(crate) struct Record {
    time_ms: i64,
    subject: Option<Subject>,
    effect: Effect,
    code: Code,
    rule: Option<Arc<str>>,
    reason: Arc<str>,
    policy: PolicyInfo,
    action_hash: Option<String>,
    eval_ns: u64,
}

impl Record {
    pub(crate) fn new(d: &Decision, subject: Option<Subject>, time_ms: i64) -> Record {
        Record {
            time_ms,
            subject,
            effect: d.effect,
            code: d.code,
            rule: d.rule.clone(),
            reason: d.reason.clone(),
            policy: d.policy.clone(),
            action_hash: d.action_hash.clone(),
            eval_ns: d.eval_ns,
        }
    }
}

#[derive(Serialize)]
struct PolicyRef<'a> {
    name: &'a str,
    version: Option<&'a str>,
}

/// `"type": "decision"`.
#[derive(Serialize)]
struct DecisionBody<'a> {
    action_hash: Option<&'a str>,
    agent: Option<&'a str>,
    code: &'a str,
    effect: &'a str,
    eval_ns: u64,
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a Map<String, Value>>,
    policy: PolicyRef<'a>,
    reason: &'a str,
    rule: Option<&'a str>,
    target: Option<&'a str>,
    time: String,
    tool: Option<&'a str>,
    #[serde(rename = "type")]
    kind_of_record: &'static str,
}

/// `"type": "dropped"`: decision records dropped since the previous such record.
#[derive(Serialize)]
struct DroppedBody {
    dropped: u64,
    dropped_total: u64,
    time: String,
    #[serde(rename = "type")]
    kind_of_record: &'static str,
}

/// `"type": "recovered"`: an incomplete last line was cut off when the trail was reopened.
#[derive(Serialize)]
struct RecoveredBody {
    time: String,
    truncated_bytes: u64,
    #[serde(rename = "type")]
    kind_of_record: &'static str,
}

/// The chain fields every record carries besides its body.
#[derive(Serialize)]
struct Sealed<'a, B: Serialize> {
    #[serde(flatten)]
    body: B,
    prev: &'a str,
    seq: u64,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The hash of a record: SHA-256 over the RFC 8785 form of the object without `hash`.
pub(crate) fn seal_hash(record: &Value) -> String {
    let mut text = String::with_capacity(512);
    write_jcs(record, &mut text);
    sha256_tag(text.as_bytes())
}

/// The chain's head: the last sequence number and the last record's hash.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) seq: u64,
    pub(crate) prev: String,
    dropped_written: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::after(0, GENESIS.to_owned())
    }
}

impl Chain {
    /// A chain whose last record has sequence number `seq` and hash `prev`.
    pub(crate) fn after(seq: u64, prev: String) -> Chain {
        Chain {
            seq,
            prev,
            dropped_written: 0,
        }
    }

    /// Seals `body` as the next record and returns its line (with the trailing newline).
    fn seal(&mut self, body: impl Serialize) -> String {
        let seq = self.seq + 1;
        let sealed = Sealed {
            body,
            prev: &self.prev,
            seq,
        };
        // Serializing these plain structs into a `Value` cannot fail (string keys, no maps
        // with other keys); an empty object would still be sealed and chained.
        let mut value = serde_json::to_value(&sealed).unwrap_or_default();
        let hash = seal_hash(&value);
        if let Value::Object(fields) = &mut value {
            fields.insert("hash".into(), Value::String(hash.clone()));
        }
        self.seq = seq;
        self.prev = hash;
        let mut line = String::with_capacity(640);
        write_jcs(&value, &mut line);
        line.push('\n');
        line
    }

    pub(crate) fn decision(&mut self, r: &Record) -> String {
        let s = r.subject.as_ref();
        self.seal(DecisionBody {
            action_hash: r.action_hash.as_deref(),
            agent: s.map(|s| s.agent.as_str()),
            code: r.code.as_str(),
            effect: r.effect.as_str(),
            eval_ns: r.eval_ns,
            kind: s.map(|s| s.kind),
            params: s.and_then(|s| s.params.as_ref()),
            policy: PolicyRef {
                name: &r.policy.name,
                version: r.policy.version.as_deref(),
            },
            reason: &r.reason,
            rule: r.rule.as_deref(),
            target: s.and_then(|s| s.target.as_deref()),
            time: rfc3339(r.time_ms),
            tool: s.map(|s| s.tool.as_str()),
            kind_of_record: "decision",
        })
    }

    /// A record of how many decision records were dropped since the last such record.
    pub(crate) fn dropped(&mut self, total: u64, now_ms: i64) -> Option<String> {
        let count = total.checked_sub(self.dropped_written).filter(|c| *c > 0)?;
        self.dropped_written = total;
        Some(self.seal(DroppedBody {
            dropped: count,
            dropped_total: total,
            time: rfc3339(now_ms),
            kind_of_record: "dropped",
        }))
    }

    pub(crate) fn recovered(&mut self, truncated_bytes: u64, now_ms: i64) -> String {
        self.seal(RecoveredBody {
            time: rfc3339(now_ms),
            truncated_bytes,
            kind_of_record: "recovered",
        })
    }
}
