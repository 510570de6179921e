//! Percentiles and the common output lines every language's harness prints.
use portcullis::{Code, Decision, Effect};

/// Latency percentiles (nanoseconds) and throughput of one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Evaluations timed.
    pub n: usize,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Evaluations per second of wall time over the timed loop (timer reads included).
    pub ops_per_s: f64,
}

/// The nearest-rank percentile `q` (0 < q ≤ 1) of sorted samples.
fn rank(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // ceil(q * n) - 1, clamped to the last sample.
    let idx = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted.get(idx.min(sorted.len() - 1)).copied().unwrap_or(0)
}

impl Summary {
    /// Summarizes per-call latencies; `wall_ns` is the wall time of the whole timed loop (for
    /// several threads: of the slowest).
    pub fn new(mut samples: Vec<u64>, wall_ns: u64) -> Summary {
        samples.sort_unstable();
        let n = samples.len();
        Summary {
            n,
            p50: rank(&samples, 0.50),
            p90: rank(&samples, 0.90),
            p99: rank(&samples, 0.99),
            p999: rank(&samples, 0.999),
            ops_per_s: if wall_ns == 0 {
                0.0
            } else {
                n as f64 * 1e9 / wall_ns as f64
            },
        }
    }

    /// `BENCH lang=... case=... n=... p50=... p90=... p99=... p999=... ops_per_s=...`
    pub fn line(&self, lang: &str, case: &str) -> String {
        format!(
            "BENCH lang={lang} case={case} n={} p50={} p90={} p99={} p999={} ops_per_s={:.0}",
            self.n, self.p50, self.p90, self.p99, self.p999, self.ops_per_s
        )
    }
}

/// How many decisions of each kind a case made: every harness prints one `MIX` line per
/// case, so runs of the same workload in different languages can be compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mix {
    /// Allowed (by a rule, the default, or an approval).
    pub allow: u64,
    /// Denied by a deny rule or the default.
    pub deny: u64,
    /// Denied by a rate limit.
    pub rate_limited: u64,
    /// Waiting for approval.
    pub approval: u64,
    /// Denied because the registry does not know the agent.
    pub unknown_agent: u64,
    /// `invalid_action` or `engine_error`: never expected from the reference workload.
    pub failed: u64,
}

impl Mix {
    /// Counts one decision.
    pub fn add(&mut self, effect: Effect, code: Code) {
        match (effect, code) {
            (_, Code::InvalidAction | Code::EngineError) => self.failed += 1,
            (_, Code::RateLimited) => self.rate_limited += 1,
            (_, Code::UnknownAgent) => self.unknown_agent += 1,
            (Effect::RequireApproval, _) => self.approval += 1,
            (Effect::Allow, _) => self.allow += 1,
            (Effect::Deny, _) => self.deny += 1,
        }
    }

    /// Counts one decision.
    pub fn add_decision(&mut self, d: &Decision) {
        self.add(d.effect, d.code);
    }

    /// Adds another mix's counts.
    pub fn merge(&mut self, other: &Mix) {
        self.allow += other.allow;
        self.deny += other.deny;
        self.rate_limited += other.rate_limited;
        self.approval += other.approval;
        self.unknown_agent += other.unknown_agent;
        self.failed += other.failed;
    }

    /// `MIX lang=... case=... allow=... deny=... rate_limited=... approval=... unknown_agent=... failed=...`
    pub fn line(&self, lang: &str, case: &str) -> String {
        format!(
            "MIX lang={lang} case={case} allow={} deny={} rate_limited={} approval={} unknown_agent={} failed={}",
            self.allow, self.deny, self.rate_limited, self.approval, self.unknown_agent, self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::new((1..=1000).rev().collect(), 2_000_000);
        assert_eq!((s.p50, s.p90, s.p99, s.p999), (500, 900, 990, 999));
        assert_eq!(s.n, 1000);
        assert_eq!(s.ops_per_s, 500_000.0);
        let one = Summary::new(vec![7], 7);
        assert_eq!((one.p50, one.p999), (7, 7));
    }

    #[test]
    fn line_format() {
        let s = Summary::new(vec![100, 200, 300, 400], 1_000);
        assert_eq!(
            s.line("rust", "ref-value"),
            "BENCH lang=rust case=ref-value n=4 p50=200 p90=400 p99=400 p999=400 ops_per_s=4000000"
        );
    }

    #[test]
    fn mix_buckets() {
        let mut m = Mix::default();
        m.add(Effect::Allow, Code::Approved);
        m.add(Effect::Deny, Code::RateLimited);
        m.add(Effect::RequireApproval, Code::ApprovalRequired);
        m.add(Effect::Deny, Code::Default);
        m.add(Effect::Deny, Code::UnknownAgent);
        m.add(Effect::Deny, Code::EngineError);
        assert_eq!(
            m.line("c", "x"),
            "MIX lang=c case=x allow=1 deny=1 rate_limited=1 approval=1 unknown_agent=1 failed=1"
        );
    }
}
