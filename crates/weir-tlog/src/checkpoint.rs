//! C2SP `tlog-checkpoint` bodies and `tlog-cosignature` Ed25519 cosignatures (type 0x04).
//!
//! Body: `<origin>\n<size>\n<base64 root>\n`, no extension lines (tlog-scales and Go cannot parse
//! them). The log signs it as a signed note whose key name is the origin.

use base64::Engine;

use crate::merkle::Hash;
use crate::note::{Note, Signature, Signer, Verifier, check_name, key_id};
use crate::{TlogError, b64, malformed};

pub const COSIGNATURE: u8 = 0x04;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64().encode(self.root)
        )
    }

    pub fn parse_body(text: &str) -> Result<Checkpoint, TlogError> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(malformed(
                "checkpoint",
                "expected exactly origin, size and root lines",
            ));
        };
        check_name(origin).map_err(|_| malformed("checkpoint", "bad origin"))?;
        if size.is_empty()
            || (size.len() > 1 && size.starts_with('0'))
            || !size.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(malformed(
                "checkpoint",
                "size must be decimal without leading zeros",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| malformed("checkpoint", "size out of range"))?;
        let raw = b64()
            .decode(root)
            .map_err(|_| malformed("checkpoint", "root is not base64"))?;
        let root: Hash = raw
            .try_into()
            .map_err(|_| malformed("checkpoint", "root must be 32 bytes"))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// Signs the checkpoint with the log key (whose name must be the origin).
    pub fn sign(&self, log: &Signer) -> Result<Note, TlogError> {
        if log.name() != self.origin {
            return Err(TlogError::Key(format!(
                "the log key is named {}, the origin is {}",
                log.name(),
                self.origin
            )));
        }
        Note::sign(&self.body(), &[log])
    }

    /// Opens a signed checkpoint with the pinned log key.
    pub fn open(note: &str, log: &Verifier) -> Result<(Checkpoint, Note), TlogError> {
        let n = Note::open(note, std::slice::from_ref(log))?;
        let c = Checkpoint::parse_body(&n.text)?;
        if c.origin != log.name() {
            return Err(malformed(
                "checkpoint",
                format!("origin {} is not the log {}", c.origin, log.name()),
            ));
        }
        Ok((c, n))
    }
}

fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's cosignature over a checkpoint body at `timestamp` (unix seconds).
pub fn cosign(body: &str, witness: &Signer, timestamp: u64) -> Signature {
    let msg = cosigned_message(body, timestamp);
    let mut sig = timestamp.to_be_bytes().to_vec();
    sig.extend_from_slice(&witness.raw_sign(msg.as_bytes()));
    Signature {
        name: witness.name().to_string(),
        id: key_id(witness.name(), COSIGNATURE, &witness.public_key()),
        sig,
    }
}

/// A witness's public key for cosignatures (the same Ed25519 key, key ID with type 0x04).
#[derive(Debug, Clone)]
pub struct Cosigner {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Cosigner {
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<Cosigner, TlogError> {
        check_name(name)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public_key)
            .map_err(|e| TlogError::Key(e.to_string()))?;
        Ok(Cosigner {
            name: name.to_string(),
            id: key_id(name, COSIGNATURE, &public_key),
            key,
        })
    }

    /// Parses a C2SP vkey string with type 0x04.
    pub fn parse(vkey: &str) -> Result<Cosigner, TlogError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(_id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TlogError::Key("expected name+id+key".into()));
        };
        let raw = b64()
            .decode(key)
            .map_err(|_| TlogError::Key("key is not base64".into()))?;
        if raw.len() != 33 || raw[0] != COSIGNATURE {
            return Err(TlogError::Key(
                "not an Ed25519 cosignature (type 0x04) key".into(),
            ));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let c = Cosigner::new(name, pk)?;
        if format!("{:08x}", c.id) != _id {
            return Err(TlogError::Key("key id does not match the key".into()));
        }
        Ok(c)
    }

    pub fn vkey(&self) -> String {
        let mut raw = vec![COSIGNATURE];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, b64().encode(raw))
    }

    /// Finds and checks this witness's cosignature in a signed checkpoint; returns its timestamp.
    pub fn verify(&self, note: &Note) -> Result<u64, TlogError> {
        let s = note
            .signatures
            .iter()
            .find(|s| s.name == self.name && s.id == self.id)
            .ok_or(TlogError::NoVerifiedSignature)?;
        if s.sig.len() != 72 {
            return Err(malformed(
                "cosignature",
                "expected 8 timestamp bytes and a 64-byte signature",
            ));
        }
        let ts = u64::from_be_bytes(
            s.sig[..8]
                .try_into()
                .map_err(|_| malformed("cosignature", "timestamp"))?,
        );
        let sig = ed25519_dalek::Signature::from_slice(&s.sig[8..])
            .map_err(|_| malformed("cosignature", "signature"))?;
        self.key
            .verify_strict(cosigned_message(&note.text, ts).as_bytes(), &sig)
            .map_err(|_| TlogError::BadSignature)?;
        Ok(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str =
        "registry.example/log\n70000\nys4G8CIs3myKJoIohX+amNe4krecNbsYn+x2RVMI7CM=\n";

    /// The reference's golden checkpoint: log key from seed [7; 32], witness from [9; 32].
    #[test]
    fn golden_checkpoint_and_cosignature() {
        let log = Signer::from_seed("registry.example/log", [7; 32]).expect("log");
        let c = Checkpoint::parse_body(BODY).expect("body");
        assert_eq!(c.size, 70000);
        let note = c.sign(&log).expect("sign");
        assert_eq!(
            note.signatures[0].line(),
            "\u{2014} registry.example/log j4QwjcLNY0l9Zn4AU873izw0lQ8mt4Z/faP+nuUWl0i9Uu8WpHtxTPr2f3TIIi/Ak0FkUy/DCQa4WgENdWGfrEREQQM=\n"
        );
        let witness = Signer::from_seed("witness.example/w1", [9; 32]).expect("witness");
        let golden = "\u{2014} witness.example/w1 JLXZ/gAAAABlU/EAKVli5rp/lcTigV8FvFFfcV1nHgkLf8VxBMHW5r4dl8oUwtnsj8fJeZpSq9BiXgH05MhBY8QXkMyNEuBPmo3HAA==\n";
        let parsed = Note::parse(&format!("{BODY}\n{golden}")).expect("parse");
        let ts = u64::from_be_bytes(parsed.signatures[0].sig[..8].try_into().expect("8 bytes"));
        assert_eq!(cosign(BODY, &witness, ts).line(), golden);
        let mut full = note.clone();
        full.signatures.push(cosign(BODY, &witness, ts));
        let text = full.to_text();
        let (opened, n) = Checkpoint::open(&text, &log.verifier()).expect("open");
        assert_eq!(opened, c);
        let cosigner =
            Cosigner::new("witness.example/w1", witness.verifier_public()).expect("cosigner");
        assert_eq!(cosigner.verify(&n).expect("cosignature"), ts);
        assert_eq!(
            Cosigner::parse(&cosigner.vkey()).expect("vkey").vkey(),
            cosigner.vkey()
        );
        // signed_note and tlog_tiles accept the checkpoint
        let v = signed_note::StandardVerifier::new(&log.verifier().vkey()).expect("vkey");
        let sn = signed_note::Note::from_bytes(text.as_bytes()).expect("note");
        let (verified, _) = sn
            .verify(&signed_note::VerifierList::new(vec![Box::new(v)]))
            .expect("verifies");
        assert_eq!(verified.len(), 1);
        let tc = tlog_tiles::Checkpoint::from_bytes(sn.text()).expect("checkpoint");
        assert_eq!(tc.size(), 70000);
    }

    #[test]
    fn tampering_and_wrong_keys_are_refused() {
        let log = Signer::from_seed("registry.example/log", [7; 32]).expect("log");
        let text = Checkpoint::parse_body(BODY)
            .expect("body")
            .sign(&log)
            .expect("sign")
            .to_text();
        let tampered = text.replace("70000", "70001");
        assert_eq!(
            Checkpoint::open(&tampered, &log.verifier()).map(|_| ()),
            Err(TlogError::BadSignature)
        );
        let other = Signer::from_seed("registry.example/log", [8; 32]).expect("other");
        assert!(Checkpoint::open(&text, &other.verifier()).is_err());
        for bad in [
            "o\n01\nAAAA\n",
            "o\n1\n",
            "o\n1\nAAAA\n",
            "o\nx\nys4G8CIs3myKJoIohX+amNe4krecNbsYn+x2RVMI7CM=\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }
}
