//! Keyed checkpoints: an HMAC-SHA256 over a chain's head (`seq`, `hash`), made with a key the
//! host keeps away from the trail. A checkpoint stored elsewhere anchors the chain: a trail
//! that was cut short, or rewritten from genesis by someone who can write the files, no longer
//! matches it, and a checkpoint cannot be forged without the key.
use super::verify::{verify_chain, VerifyFailure, VerifyReport};
use crate::digest::hex;
use crate::json::write_jcs;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::path::{Path, PathBuf};

const MIN_KEY_BYTES: usize = Checkpoint::MIN_KEY_BYTES;

const MAC_PREFIX: &str = "hmac-sha256:";
const DOMAIN: &str = "portcullis audit checkpoint v1";

/// Why a checkpoint cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The key is shorter than [`Checkpoint::MIN_KEY_BYTES`].
    #[error("the checkpoint key has {0} bytes; at least {MIN_KEY_BYTES} are required")]
    ShortKey(usize),
    /// The checkpoint text is not a checkpoint line.
    #[error("not a checkpoint: {0}")]
    Malformed(String),
}

/// A keyed anchor of a chain's head: record `seq` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The anchored record's hash (`"sha256:"` + hex).
    pub hash: String,
    /// `"hmac-sha256:"` + hex HMAC-SHA256 of the domain line, `seq` and `hash`.
    pub mac: String,
    /// The anchored record's sequence number.
    pub seq: u64,
}

fn keyed(key: &[u8], seq: u64, hash: &str) -> Result<Hmac<Sha256>, CheckpointError> {
    if key.len() < MIN_KEY_BYTES {
        return Err(CheckpointError::ShortKey(key.len()));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| CheckpointError::ShortKey(key.len()))?;
    mac.update(format!("{DOMAIN}\n{seq}\n{hash}\n").as_bytes());
    Ok(mac)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .filter(|_| !b.is_ascii_uppercase())
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(u8::try_from(digit(*hi)? * 16 + digit(*lo)?).ok()?),
            _ => None,
        })
        .collect()
}

impl Checkpoint {
    /// The shortest key accepted, in bytes.
    pub const MIN_KEY_BYTES: usize = 32;

    /// Signs the head of a verified trail: its last record's `seq` and hash.
    pub fn sign(seq: u64, hash: &str, key: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let tag = keyed(key, seq, hash)?.finalize().into_bytes();
        Ok(Checkpoint {
            hash: hash.to_owned(),
            mac: format!("{MAC_PREFIX}{}", hex(&tag)),
            seq,
        })
    }

    /// The checkpoint as one canonical JSON line (without a newline).
    pub fn to_line(&self) -> String {
        let mut out = String::new();
        write_jcs(&serde_json::to_value(self).unwrap_or_default(), &mut out);
        out
    }

    /// Reads a checkpoint line (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        serde_json::from_str(text.trim()).map_err(|e| CheckpointError::Malformed(e.to_string()))
    }

    /// Whether `mac` was made with `key` over `seq` and `hash` (constant-time comparison).
    pub fn is_authentic(&self, key: &[u8]) -> Result<bool, CheckpointError> {
        let mac = keyed(key, self.seq, &self.hash)?;
        let Some(tag) = self.mac.strip_prefix(MAC_PREFIX).and_then(unhex) else {
            return Ok(false);
        };
        Ok(mac.verify_slice(&tag).is_ok())
    }

    /// Verifies `files` (see [`super::verify_files`]) and requires the chain to reach this
    /// checkpoint's record with this checkpoint's hash; an inauthentic checkpoint, a chain
    /// cut before it or a chain rewritten under it is a failure.
    pub fn verify<P: AsRef<Path>>(
        &self,
        files: &[P],
        key: &[u8],
    ) -> Result<VerifyReport, CheckpointError> {
        let fail = |problem: String| {
            Some(VerifyFailure {
                file: files
                    .last()
                    .map_or_else(PathBuf::new, |p| p.as_ref().to_owned()),
                line: 0,
                problem,
            })
        };
        if !self.is_authentic(key)? {
            let mut report = verify_chain::<P>(&[], None);
            report.failure = fail("the checkpoint's mac does not match this key".into());
            return Ok(report);
        }
        let mut report = verify_chain(files, Some((self.seq, &self.hash)));
        if report.failure.is_none() && report.valid_records < self.seq {
            report.failure = fail(format!(
                "the trail ends at record {} but the checkpoint anchors record {}: records \
                 were cut off",
                report.valid_records, self.seq
            ));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_parse_and_check() {
        let key = [7u8; 32];
        let cp = Checkpoint::sign(5, "sha256:ab", &key).unwrap();
        let back = Checkpoint::parse(&cp.to_line()).unwrap();
        assert_eq!(back, cp);
        assert!(back.is_authentic(&key).unwrap());
        assert!(!back.is_authentic(&[8u8; 32]).unwrap());
        let forged = Checkpoint { seq: 6, ..back };
        assert!(!forged.is_authentic(&key).unwrap());
        assert_eq!(
            Checkpoint::sign(1, "x", b"short"),
            Err(CheckpointError::ShortKey(5))
        );
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
        assert_eq!(unhex("0AFF"), None);
    }
}
