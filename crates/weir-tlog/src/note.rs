//! C2SP `signed-note` (v1.0.0) with Ed25519 keys (signature type 0x01).
//!
//! A note is its text (one or more lines, each ending in `\n`), a blank line, then signature
//! lines `— <name> base64(keyID[4] || signature)`. The key ID is the first four bytes of
//! `SHA-256(name || "\n" || type || public key)`, big-endian.

use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{TlogError, b64, malformed};

pub const ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// `SHA-256(name || "\n" || type || key)[0..4]` as a big-endian integer.
pub fn key_id(name: &str, kind: u8, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([kind]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names: non-empty, no whitespace, no `+`.
pub fn check_name(name: &str) -> Result<(), TlogError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(TlogError::Key(format!(
            "invalid key name {name:?}: it must be non-empty, without spaces or '+'"
        )));
    }
    Ok(())
}

/// A log or witness signing key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key: SigningKey,
    id: u32,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Signer({}+{:08x})", self.name, self.id)
    }
}

impl Signer {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, TlogError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, ED25519, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_string(),
            key,
            id,
        })
    }

    /// Parses Go's signer-key string `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || seed)`.
    pub fn parse(skey: &str) -> Result<Signer, TlogError> {
        let bad = |why: &str| TlogError::Key(format!("signer key: {why}"));
        let rest = skey
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("expected PRIVATE+KEY+ prefix"))?;
        // Names never contain '+', base64 may: split from the left.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        let raw = b64().decode(key).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519 {
            return Err(bad("only Ed25519 (type 0x01) keys are supported"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let s = Signer::from_seed(name, seed)?;
        if format!("{:08x}", s.id) != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(s)
    }

    /// Go's signer-key string (a secret: store it with 0600 permissions).
    pub fn skey(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            b64().encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line for `text`.
    pub fn sign_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{DASH}{} {}\n", self.name, b64().encode(blob))
    }

    pub(crate) fn raw_sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    pub(crate) fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The raw Ed25519 public key (for registering the same key as a cosigner).
    pub fn verifier_public(&self) -> [u8; 32] {
        self.public_key()
    }
}

/// A verifier key: `<name>+<hex id>+base64(0x01 || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier {
    pub fn parse(vkey: &str) -> Result<Verifier, TlogError> {
        let bad = |why: &str| TlogError::Key(format!("verifier key {vkey:?}: {why}"));
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        check_name(name)?;
        let raw = b64().decode(key).map_err(|_| bad("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519 {
            return Err(bad("only Ed25519 (type 0x01) keys are supported"));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|_| bad("not a valid Ed25519 public key"))?;
        let want = key_id(name, ED25519, &pk);
        if format!("{want:08x}") != id {
            return Err(bad("key id does not match the key"));
        }
        Ok(Verifier {
            name: name.to_string(),
            id: want,
            key,
        })
    }

    pub fn vkey(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, b64().encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text.as_bytes(), &sig).is_ok()
    }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub id: u32,
    /// The bytes after the key ID (an Ed25519 signature, or a cosignature's timestamp + signature).
    pub sig: Vec<u8>,
}

impl Signature {
    pub fn line(&self) -> String {
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&self.sig);
        format!("{DASH}{} {}\n", self.name, b64().encode(blob))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<Signature>,
}

fn check_text(text: &str) -> Result<(), TlogError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(malformed(
            "note",
            "the text must be non-empty and end with a newline",
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(malformed("note", "control characters other than newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(malformed("note", "the text must not contain blank lines"));
    }
    Ok(())
}

impl Note {
    /// Signs `text` with each signer.
    pub fn sign(text: &str, signers: &[&Signer]) -> Result<Note, TlogError> {
        check_text(text)?;
        let signatures = signers
            .iter()
            .map(|s| Signature {
                name: s.name.clone(),
                id: s.id,
                sig: s.raw_sign(text.as_bytes()).to_vec(),
            })
            .collect();
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    pub fn parse(note: &str) -> Result<Note, TlogError> {
        if note.len() > 1 << 20 {
            return Err(malformed("note", "larger than 1 MiB"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("note", "no blank line before the signatures"))?;
        let text = &note[..split + 1];
        check_text(text)?;
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(malformed(
                "note",
                "the last signature line must end with a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs.trim_end_matches('\n').split('\n') {
            let rest = line
                .strip_prefix(DASH)
                .ok_or_else(|| malformed("note", "a signature line must start with an em dash"))?;
            let (name, b) = rest
                .split_once(' ')
                .ok_or_else(|| malformed("note", "signature line without a key name"))?;
            check_name(name)?;
            let blob = b64()
                .decode(b)
                .map_err(|_| malformed("note", "signature is not base64"))?;
            if blob.len() < 5 {
                return Err(malformed("note", "signature too short"));
            }
            signatures.push(Signature {
                name: name.to_string(),
                id: u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]),
                sig: blob[4..].to_vec(),
            });
        }
        if signatures.is_empty() || signatures.len() > 100 {
            return Err(malformed("note", "between 1 and 100 signatures"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Parses and checks the signatures of known keys: any known key whose signature fails
    /// rejects the note; at least one known key must verify.
    pub fn open(note: &str, verifiers: &[Verifier]) -> Result<Note, TlogError> {
        let n = Note::parse(note)?;
        let mut verified = 0;
        for s in &n.signatures {
            if let Some(v) = verifiers.iter().find(|v| v.name == s.name && v.id == s.id) {
                if !v.verify(&n.text, &s.sig) {
                    return Err(TlogError::BadSignature);
                }
                verified += 1;
            }
        }
        if verified == 0 {
            return Err(TlogError::NoVerifiedSignature);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2sp_example_note_verifies() {
        let v = Verifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .expect("vkey");
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let n = Note::open(note, std::slice::from_ref(&v)).expect("verifies");
        assert_eq!(n.text, "This is an example message.\n");
        assert_eq!(n.to_text(), note);
        let tampered = note.replace("example message", "exampel message");
        assert_eq!(Note::open(&tampered, &[v]), Err(TlogError::BadSignature));
    }

    #[test]
    fn go_peter_neumann_vector() {
        let s = Signer::parse(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .expect("skey");
        assert_eq!(
            s.verifier().vkey(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        assert_eq!(
            s.sign_line(text),
            "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(
            Signer::parse(&s.skey()).expect("round trip").verifier(),
            s.verifier()
        );
    }

    #[test]
    fn unknown_keys_are_ignored_and_needed_keys_required() {
        let a = Signer::from_seed("a.example/log", [1; 32]).expect("a");
        let b = Signer::from_seed("b.example/w", [2; 32]).expect("b");
        let note = Note::sign("hello\n", &[&a, &b]).expect("sign").to_text();
        assert!(Note::open(&note, &[a.verifier()]).is_ok());
        assert_eq!(Note::open(&note, &[]), Err(TlogError::NoVerifiedSignature));
        // the signed_note crate (an independent port of Go's note) accepts ours
        let v = signed_note::StandardVerifier::new(&a.verifier().vkey()).expect("vkey");
        let parsed = signed_note::Note::from_bytes(note.as_bytes()).expect("parse");
        parsed
            .verify(&signed_note::VerifierList::new(vec![Box::new(v)]))
            .expect("signed_note verifies our note");
    }

    #[test]
    fn malformed_notes_are_rejected() {
        for bad in [
            "",
            "no sigs\n",
            "text\n\nnot a sig\n",
            "text\n\n\u{2014} name !!!\n",
            "a\u{7}b\n\n\u{2014} n AAAAAAA=\n",
        ] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Signer::from_seed("bad name", [0; 32]).is_err());
        assert!(
            Verifier::parse("x+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").is_err()
        );
    }
}
