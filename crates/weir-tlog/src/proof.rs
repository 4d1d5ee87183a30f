//! `c2sp.org/tlog-proof@v1` offline proof files (extension `.tlog-proof`):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <leaf index>
//! <base64 hash>            (the inclusion path, leaf's sibling first)
//!
//! <checkpoint note, verbatim>
//! ```

use base64::Engine;

use crate::checkpoint::Checkpoint;
use crate::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::note::Verifier;
use crate::{TlogError, b64, malformed};

const HEADER: &str = "c2sp.org/tlog-proof@v1\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFile {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl ProofFile {
    pub fn to_text(&self) -> String {
        let mut out = HEADER.to_string();
        if let Some(e) = &self.extra {
            out.push_str(&format!("extra {}\n", b64().encode(e)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.path {
            out.push_str(&b64().encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<ProofFile, TlogError> {
        let rest = text
            .strip_prefix(HEADER)
            .ok_or_else(|| malformed("tlog-proof", "missing c2sp.org/tlog-proof@v1 header"))?;
        let (head, checkpoint) = rest
            .split_once("\n\n")
            .ok_or_else(|| malformed("tlog-proof", "no blank line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        let mut extra = None;
        if let Some(l) = lines.peek()
            && let Some(e) = l.strip_prefix("extra ")
        {
            extra = Some(
                b64()
                    .decode(e)
                    .map_err(|_| malformed("tlog-proof", "extra is not base64"))?,
            );
            lines.next();
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| malformed("tlog-proof", "missing index line"))?;
        let index: u64 = index
            .parse()
            .map_err(|_| malformed("tlog-proof", "bad index"))?;
        let mut path = Vec::new();
        for l in lines {
            let raw = b64()
                .decode(l)
                .map_err(|_| malformed("tlog-proof", "hash is not base64"))?;
            path.push(
                raw.try_into()
                    .map_err(|_| malformed("tlog-proof", "hashes are 32 bytes"))?,
            );
        }
        if path.len() > 64 {
            return Err(malformed("tlog-proof", "too many hashes"));
        }
        Ok(ProofFile {
            extra,
            index,
            path,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Checks that `entry` is at `index` in the checkpoint signed by the pinned log key.
    pub fn verify(&self, entry: &[u8], log: &Verifier) -> Result<Checkpoint, TlogError> {
        let (c, _) = Checkpoint::open(&self.checkpoint, log)?;
        verify_inclusion(&leaf_hash(entry), self.index, c.size, &self.path, &c.root)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, inclusion_proof};
    use crate::note::Signer;

    #[test]
    fn round_trip_and_verify() {
        let log = Signer::from_seed("registry.example/log", [7; 32]).expect("log");
        let mut t = MemoryTree::new();
        let entries: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("event {i}").into_bytes())
            .collect();
        for e in &entries {
            t.push(leaf_hash(e));
        }
        let c = Checkpoint {
            origin: "registry.example/log".into(),
            size: 300,
            root: t.root(),
        };
        let note = c.sign(&log).expect("sign").to_text();
        let p = ProofFile {
            extra: None,
            index: 257,
            path: inclusion_proof(&t, 257, 300).expect("proof"),
            checkpoint: note,
        };
        let text = p.to_text();
        let parsed = ProofFile::parse(&text).expect("parse");
        assert_eq!(parsed, p);
        assert_eq!(
            parsed
                .verify(&entries[257], &log.verifier())
                .expect("verify")
                .size,
            300
        );
        assert!(parsed.verify(&entries[256], &log.verifier()).is_err());
        let with_extra = ProofFile {
            extra: Some(b"x".to_vec()),
            ..p
        };
        assert_eq!(
            ProofFile::parse(&with_extra.to_text()).expect("parse"),
            with_extra
        );
        assert!(ProofFile::parse("nope").is_err());
    }
}
