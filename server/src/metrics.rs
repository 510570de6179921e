//! Prometheus counters, written by hand in the text exposition format.
use portcullis::{AuditStats, Code, Decision, Effect, PolicyInfo};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const EFFECTS: [Effect; 3] = [Effect::Allow, Effect::Deny, Effect::RequireApproval];
const CODES: [Code; 9] = [
    Code::Rule,
    Code::Default,
    Code::Approved,
    Code::RateLimited,
    Code::ApprovalRequired,
    Code::UnknownAgent,
    Code::InvalidAction,
    Code::EngineError,
    Code::Unavailable,
];
/// Upper bounds of the decision-latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.01, 0.1, 1.0, 10.0,
];

/// Server counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    decisions: [[AtomicU64; 9]; 3],
    buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
    pub(crate) reloads: AtomicU64,
    pub(crate) reload_failures: AtomicU64,
    pub(crate) http_errors: AtomicU64,
    pub(crate) in_flight: AtomicU64,
}

fn pos<T: PartialEq>(list: &[T], x: &T) -> usize {
    list.iter().position(|y| y == x).unwrap_or(0)
}

impl Metrics {
    /// Counts a decision and the time the server spent on its request.
    pub(crate) fn decision(&self, d: &Decision, elapsed: Duration) {
        if let Some(c) = self
            .decisions
            .get(pos(&EFFECTS, &d.effect))
            .and_then(|row| row.get(pos(&CODES, &d.code)))
        {
            c.fetch_add(1, Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        if let Some(b) = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .and_then(|i| self.buckets.get(i))
        {
            b.fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// The exposition text.
    pub(crate) fn render(
        &self,
        info: &PolicyInfo,
        audit: AuditStats,
        reload_failing: bool,
    ) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str("# HELP portcullis_decisions_total Decisions taken, by effect and code.\n# TYPE portcullis_decisions_total counter\n");
        for (e, row) in EFFECTS.iter().zip(&self.decisions) {
            for (c, n) in CODES.iter().zip(row) {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        o,
                        "portcullis_decisions_total{{effect=\"{}\",code=\"{}\"}} {n}",
                        e.as_str(),
                        c.as_str()
                    );
                }
            }
        }
        o.push_str("# HELP portcullis_decision_duration_seconds Time to answer a decision request (body read to response).\n# TYPE portcullis_decision_duration_seconds histogram\n");
        let mut cumulative = 0u64;
        for (le, b) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += b.load(Relaxed);
            let _ = writeln!(
                o,
                "portcullis_decision_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            o,
            "portcullis_decision_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "portcullis_decision_duration_seconds_sum {}",
            self.latency_sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(o, "portcullis_decision_duration_seconds_count {count}");
        let _ = writeln!(
            o,
            "# HELP portcullis_policy_info The policy in force.\n# TYPE portcullis_policy_info gauge\nportcullis_policy_info{{name={},version={}}} 1",
            label(&info.name),
            label(info.version.as_deref().unwrap_or(""))
        );
        let gauges: [(&str, &str, &str, u64); 7] = [
            (
                "portcullis_policy_reloads_total",
                "counter",
                "Policy reloads that loaded.",
                self.reloads.load(Relaxed),
            ),
            (
                "portcullis_policy_reload_failures_total",
                "counter",
                "Policy reloads that failed (the previous policy stayed).",
                self.reload_failures.load(Relaxed),
            ),
            (
                "portcullis_policy_reload_failing",
                "gauge",
                "1 while the policy file on disk fails to load.",
                u64::from(reload_failing),
            ),
            (
                "portcullis_audit_records_total",
                "counter",
                "Audit records written.",
                audit.recorded,
            ),
            (
                "portcullis_audit_dropped_total",
                "counter",
                "Audit records dropped because the queue was full.",
                audit.dropped,
            ),
            (
                "portcullis_http_errors_total",
                "counter",
                "Requests answered with an error status.",
                self.http_errors.load(Relaxed),
            ),
            (
                "portcullis_http_requests_in_flight",
                "gauge",
                "Requests being handled.",
                self.in_flight.load(Relaxed),
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        o
    }
}

/// A quoted, escaped Prometheus label value.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
