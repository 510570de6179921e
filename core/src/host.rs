//! `host_in`: hosts taken from WHATWG-parsed URLs or bare hosts, canonicalized (lowercase,
//! IDNA per UTS #46, one trailing dot dropped, IP literals in canonical form).
use url::{Host, Url};

const SPECIAL: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];

/// A canonical host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CanonHost {
    Domain(String),
    /// An IPv4 or IPv6 literal in canonical text form (IPv6 in brackets).
    Ip(String),
}

fn canon(host: Host<&str>) -> Option<CanonHost> {
    match host {
        Host::Domain(d) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            (!d.is_empty()).then(|| CanonHost::Domain(d.to_owned()))
        }
        Host::Ipv4(ip) => Some(CanonHost::Ip(ip.to_string())),
        Host::Ipv6(ip) => Some(CanonHost::Ip(format!("[{ip}]"))),
    }
}

fn has_scheme(value: &str) -> bool {
    let mut chars = value.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    for c in chars {
        if c == ':' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
            return false;
        }
    }
    false
}

/// The canonical host of a URL (special schemes only) or bare host; `None` when no host can
/// be taken from the value.
pub(crate) fn host_of(value: &str) -> Option<CanonHost> {
    if has_scheme(value) {
        let url = Url::parse(value).ok()?;
        if !SPECIAL.contains(&url.scheme()) {
            return None;
        }
        canon(url.host()?)
    } else {
        canon(borrow(&Host::parse(value).ok()?))
    }
}

fn borrow(h: &Host<String>) -> Host<&str> {
    match h {
        Host::Domain(d) => Host::Domain(d.as_str()),
        Host::Ipv4(ip) => Host::Ipv4(*ip),
        Host::Ipv6(ip) => Host::Ipv6(*ip),
    }
}

/// Why a host pattern of `host_in` does not compile; each variant holds the pattern, quoted
/// as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HostPatternError {
    /// A `*` other than a leading `*.`.
    #[error("host pattern {0} has a wildcard that is not a leading \"*.\"")]
    Wildcard(String),
    /// Not a host the WHATWG URL parser accepts.
    #[error("host pattern {0} is not a valid host")]
    Invalid(String),
    /// `*.` in front of an IP literal.
    #[error("host pattern {0} puts a wildcard on an IP literal")]
    WildcardIp(String),
}

/// A host pattern, canonicalized at load.
#[derive(Debug, Clone)]
pub(crate) enum HostPattern {
    /// `*`: any host.
    Any,
    /// `*.example.com`: any subdomain at any depth (stored as `.example.com`).
    Subdomains(String),
    /// An exact host.
    Exact(CanonHost),
}

impl HostPattern {
    /// Compiles a pattern; wildcards other than a leading `*.` on a domain are errors.
    pub(crate) fn new(pattern: &str) -> Result<HostPattern, HostPatternError> {
        let quoted = || crate::json::quote(pattern);
        if pattern == "*" {
            return Ok(HostPattern::Any);
        }
        let (wild, rest) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if rest.contains('*') {
            return Err(HostPatternError::Wildcard(quoted()));
        }
        let host = Host::parse(rest)
            .ok()
            .and_then(|h| canon(borrow(&h)))
            .ok_or_else(|| HostPatternError::Invalid(quoted()))?;
        match (wild, host) {
            (true, CanonHost::Ip(_)) => Err(HostPatternError::WildcardIp(quoted())),
            (true, CanonHost::Domain(d)) => Ok(HostPattern::Subdomains(format!(".{d}"))),
            (false, h) => Ok(HostPattern::Exact(h)),
        }
    }

    /// True when `host` matches this pattern.
    pub(crate) fn matches(&self, host: &CanonHost) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Subdomains(suffix), CanonHost::Domain(d)) => {
                d.len() > suffix.len() && d.ends_with(suffix.as_str())
            }
            (HostPattern::Subdomains(_), CanonHost::Ip(_)) => false,
            (HostPattern::Exact(h), host) => h == host,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(s: &str) -> Option<CanonHost> {
        Some(CanonHost::Domain(s.to_owned()))
    }

    #[test]
    fn hosts_come_from_whatwg_parsing() {
        assert_eq!(
            host_of("https://api.github.com/repos"),
            dom("api.github.com")
        );
        assert_eq!(host_of("http://good.com@evil.com/"), dom("evil.com"));
        assert_eq!(host_of("https://evil.com\\@good.com"), dom("evil.com"));
        assert_eq!(host_of("HTTPS://Example.COM./x"), dom("example.com"));
        assert_eq!(
            host_of("http://bücher.example/"),
            dom("xn--bcher-kva.example")
        );
        assert_eq!(
            host_of("http://0x7f.1/"),
            Some(CanonHost::Ip("127.0.0.1".into()))
        );
        assert_eq!(
            host_of("http://[0:0::1]/"),
            Some(CanonHost::Ip("[::1]".into()))
        );
        assert_eq!(host_of("example.com"), dom("example.com"));
        assert_eq!(host_of("localhost:8080"), None);
        assert_eq!(host_of("file:///etc/passwd"), None);
        assert_eq!(host_of("mailto:a@b.com"), None);
        assert_eq!(host_of("example.com/path"), None);
        assert_eq!(host_of(""), None);
    }

    #[test]
    fn patterns() {
        let p = HostPattern::new("*.Example.com").unwrap();
        assert!(p.matches(&CanonHost::Domain("a.b.example.com".into())));
        assert!(!p.matches(&CanonHost::Domain("example.com".into())));
        assert!(!p.matches(&CanonHost::Domain("badexample.com".into())));
        assert!(HostPattern::new("a*.com").is_err());
        assert!(HostPattern::new("*.10.0.0.1").is_err());
        assert!(HostPattern::new("[::1]").is_ok());
        assert!(HostPattern::new("*")
            .unwrap()
            .matches(&CanonHost::Ip("1.2.3.4".into())));
    }
}
