//! `path_within`: lexical path normalization and segment-wise containment. The filesystem is
//! never touched, so symlinks and case-insensitive filesystems are invisible to this check.

/// Splits an absolute path into normalized segments: repeated `/` collapse, `.` drops, `..`
/// removes the previous segment. `None` when the path is relative, contains NUL or `\`, or
/// `..` would climb above `/`.
pub(crate) fn normalize(path: &str) -> Option<Vec<&str>> {
    if !path.starts_with('/') || path.contains(['\0', '\\']) {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out)
}

/// One segment of an allowed directory: literal, or with `{agent}` placeholders.
#[derive(Debug, Clone)]
enum DirSeg {
    Literal(String),
    /// The literal pieces around each `{agent}` (`pieces.len() == placeholders + 1`).
    Template(Vec<String>),
}

/// Why an allowed directory of `path_within` does not compile; each variant holds the
/// directory, quoted as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DirError {
    /// The directory does not start with `/`.
    #[error("directory {0} is not an absolute path")]
    Relative(String),
    /// The directory holds a NUL byte or a backslash.
    #[error("directory {0} contains a NUL byte or a backslash")]
    BadCharacter(String),
    /// `..` climbs above `/`.
    #[error("directory {0} climbs above the root with \"..\"")]
    AboveRoot(String),
}

/// An allowed directory, normalized at load.
#[derive(Debug, Clone)]
pub(crate) struct DirPattern {
    segs: Vec<DirSeg>,
}

impl DirPattern {
    /// Compiles an allowed directory; it must be an absolute path that normalizes.
    pub(crate) fn new(dir: &str) -> Result<DirPattern, DirError> {
        let quoted = || crate::json::quote(dir);
        if !dir.starts_with('/') {
            return Err(DirError::Relative(quoted()));
        }
        if dir.contains(['\0', '\\']) {
            return Err(DirError::BadCharacter(quoted()));
        }
        let segs = normalize(dir).ok_or_else(|| DirError::AboveRoot(quoted()))?;
        Ok(DirPattern {
            segs: segs
                .into_iter()
                .map(|s| {
                    if s.contains("{agent}") {
                        DirSeg::Template(s.split("{agent}").map(str::to_owned).collect())
                    } else {
                        DirSeg::Literal(s.to_owned())
                    }
                })
                .collect(),
        })
    }

    /// True when the normalized `value` segments lie inside this directory for `agent`.
    pub(crate) fn contains(&self, value: &[&str], agent: &str) -> bool {
        if self.segs.len() > value.len() {
            return false;
        }
        self.segs.iter().zip(value).all(|(d, v)| match d {
            DirSeg::Literal(l) => l == v,
            DirSeg::Template(pieces) => agent_is_segment(agent) && template_eq(pieces, agent, v),
        })
    }
}

/// An agent id may stand in for `{agent}` only when it is one ordinary path segment.
fn agent_is_segment(agent: &str) -> bool {
    !(agent.is_empty() || agent == "." || agent == ".." || agent.contains(['/', '\\', '\0']))
}

/// True when `pieces` joined by `agent` equals `v`, without allocating.
fn template_eq(pieces: &[String], agent: &str, mut v: &str) -> bool {
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            match v.strip_prefix(agent) {
                Some(rest) => v = rest,
                None => return false,
            }
        }
        match v.strip_prefix(piece.as_str()) {
            Some(rest) => v = rest,
            None => return false,
        }
    }
    v.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(dir: &str, value: &str, agent: &str) -> Option<bool> {
        let d = DirPattern::new(dir).unwrap();
        normalize(value).map(|v| d.contains(&v, agent))
    }

    #[test]
    fn normalization_and_containment() {
        assert_eq!(within("/tmp/{agent}", "/tmp/a1/x", "a1"), Some(true));
        assert_eq!(within("/tmp/{agent}", "/tmp//a1/./sub/x", "a1"), Some(true));
        assert_eq!(within("/tmp/{agent}", "/tmp/a1/../a2/x", "a1"), Some(false));
        assert_eq!(within("/tmp/agent", "/tmp/agent-1", "a"), Some(false));
        assert_eq!(within("/tmp/agent", "/tmp/agent", "a"), Some(true));
        assert_eq!(within("/tmp", "/../tmp", "a"), None);
        assert_eq!(within("/tmp", "tmp/x", "a"), None);
        assert_eq!(within("/tmp", "/tmp\\x", "a"), None);
        assert_eq!(within("/", "/anything", "a"), Some(true));
        assert_eq!(
            within("/home/u-{agent}-x", "/home/u-bob-x/f", "bob"),
            Some(true)
        );
        assert_eq!(within("/tmp/{agent}", "/tmp/../x", ".."), Some(false));
        assert_eq!(within("/tmp/{agent}", "/tmp/x", ""), Some(false));
        assert!(DirPattern::new("tmp").is_err());
        assert!(DirPattern::new("/..").is_err());
    }
}
