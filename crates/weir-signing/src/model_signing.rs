//! The OpenSSF model-signing v1.0 format, byte-exact with `model_signing` 1.1.1 (see
//! `reference/provenance-formats.md` §9): an in-toto Statement v1 listing every file's SHA-256
//! ("files" serialization), in a DSSE envelope signed with ECDSA over the PAE (DER signature),
//! inside a Sigstore bundle v0.3 with `publicKey.hint` and nothing else.
//!
//! We sign with P-256; we verify P-256 and P-384 bundles (Python's tool makes both).

use std::collections::BTreeMap;

use base64::Engine;
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Paths `model_signing` ignores by default (relative to the model root).
pub const DEFAULT_IGNORES: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelSigningError {
    #[error("invalid key: {0}")]
    Key(String),
    #[error("invalid bundle: {0}")]
    Bundle(String),
    #[error("the bundle's signature does not verify with this public key")]
    Signature,
    #[error("the model does not match its signature: {0}")]
    Mismatch(String),
}

fn bundle_err(e: impl std::fmt::Display) -> ModelSigningError {
    ModelSigningError::Bundle(e.to_string())
}

/// One file of a model: its relative POSIX path and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub sha256: [u8; 32],
}

/// Whether `path` is ignored by default or by one of `extra` (each ignore covers its subtree).
pub fn is_ignored(path: &str, extra: &[String]) -> bool {
    DEFAULT_IGNORES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|i| {
            path == i
                || path
                    .strip_prefix(i)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Python's `PurePosixPath` order: by path components.
pub fn sort_resources(v: &mut [Resource]) {
    v.sort_by(|a, b| a.name.split('/').cmp(b.name.split('/')));
}

/// The in-toto statement for a model named `name` (the directory's basename) with `resources`
/// (sorted here). Compact JSON.
pub fn statement(name: &str, resources: &[Resource]) -> Vec<u8> {
    let mut sorted = resources.to_vec();
    sort_resources(&mut sorted);
    let mut all = Sha256::new();
    for r in &sorted {
        all.update(r.sha256);
    }
    let subject_digest = hex::encode(all.finalize());
    let res: Vec<Value> = sorted
        .iter()
        .map(|r| json!({"name": r.name, "algorithm": "sha256", "digest": hex::encode(r.sha256)}))
        .collect();
    let st = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": subject_digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": DEFAULT_IGNORES},
            "resources": res,
        },
    });
    serde_json::to_vec(&st).unwrap_or_default()
}

/// DSSE pre-authentication encoding.
pub fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        PAYLOAD_TYPE.len(),
        PAYLOAD_TYPE,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A P-256 release-signing key.
pub struct ReleaseKey(p256::ecdsa::SigningKey);

impl ReleaseKey {
    pub fn generate() -> ReleaseKey {
        loop {
            let mut b = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&b) {
                return ReleaseKey(k);
            }
        }
    }

    pub fn from_pkcs8_pem(pem: &str) -> Result<ReleaseKey, ModelSigningError> {
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(ReleaseKey)
            .map_err(|e| ModelSigningError::Key(e.to_string()))
    }

    pub fn to_pkcs8_pem(&self) -> Result<String, ModelSigningError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| ModelSigningError::Key(e.to_string()))
    }

    /// SubjectPublicKeyInfo PEM with LF line endings (what OpenSSL writes).
    pub fn public_pem(&self) -> Result<String, ModelSigningError> {
        self.0
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| ModelSigningError::Key(e.to_string()))
    }

    /// Signs a statement and returns the bundle, compact JSON, exactly the fields `model_signing` accepts.
    pub fn sign(&self, payload: &[u8]) -> Result<String, ModelSigningError> {
        let sig: p256::ecdsa::DerSignature =
            p256::ecdsa::signature::Signer::sign(&self.0, &pae(payload));
        let b = json!({
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": hint(&self.public_pem()?)}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64::engine::general_purpose::STANDARD.encode(payload),
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": base64::engine::general_purpose::STANDARD.encode(sig.as_bytes()), "keyid": ""}],
            },
        });
        serde_json::to_string(&b).map_err(bundle_err)
    }
}

/// The bundle's key hint: hex SHA-256 of the public key's PEM text.
pub fn hint(public_pem: &str) -> String {
    hex::encode(Sha256::digest(public_pem.as_bytes()))
}

/// Checks that a PEM is a P-256 or P-384 public key (the curves `model_signing` signs with here).
pub fn check_public_key(public_pem: &str) -> Result<(), ModelSigningError> {
    if p256::ecdsa::VerifyingKey::from_public_key_pem(public_pem).is_ok()
        || p384::ecdsa::VerifyingKey::from_public_key_pem(public_pem).is_ok()
    {
        Ok(())
    } else {
        Err(ModelSigningError::Key(
            "expected a P-256 or P-384 public key in PEM (SubjectPublicKeyInfo)".into(),
        ))
    }
}

fn verify_sig(public_pem: &str, msg: &[u8], der: &[u8]) -> Result<(), ModelSigningError> {
    use p256::ecdsa::signature::Verifier;
    if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(public_pem) {
        let sig =
            p256::ecdsa::DerSignature::from_bytes(der).map_err(|_| ModelSigningError::Signature)?;
        return k
            .verify(msg, &sig)
            .map_err(|_| ModelSigningError::Signature);
    }
    if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_pem(public_pem) {
        let sig =
            p384::ecdsa::DerSignature::from_bytes(der).map_err(|_| ModelSigningError::Signature)?;
        return k
            .verify(msg, &sig)
            .map_err(|_| ModelSigningError::Signature);
    }
    Err(ModelSigningError::Key(
        "expected a P-256 or P-384 public key in PEM (SubjectPublicKeyInfo)".into(),
    ))
}

/// What a verified bundle states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub subject_name: String,
    pub resources: Vec<Resource>,
    pub ignore_paths: Vec<String>,
    /// The exact payload bytes that were signed.
    pub payload: Vec<u8>,
}

/// Verifies a bundle's signature with the trusted key and returns the signed file list.
pub fn verify_bundle(bundle: &str, public_pem: &str) -> Result<Verified, ModelSigningError> {
    let b: Value = serde_json::from_str(bundle).map_err(bundle_err)?;
    if b["mediaType"] != BUNDLE_MEDIA_TYPE {
        return Err(bundle_err(format!("mediaType must be {BUNDLE_MEDIA_TYPE}")));
    }
    if let Some(h) = b["verificationMaterial"]["publicKey"]["hint"].as_str()
        && !h.is_empty()
        && h != hint(public_pem)
    {
        return Err(bundle_err(
            "the bundle names a different public key (hint mismatch)",
        ));
    }
    let env = &b["dsseEnvelope"];
    if env["payloadType"] != PAYLOAD_TYPE {
        return Err(bundle_err(
            "payloadType must be application/vnd.in-toto+json",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(
            env["payload"]
                .as_str()
                .ok_or_else(|| bundle_err("no payload"))?,
        )
        .map_err(bundle_err)?;
    let sig = b64
        .decode(
            env["signatures"][0]["sig"]
                .as_str()
                .ok_or_else(|| bundle_err("no signature"))?,
        )
        .map_err(bundle_err)?;
    verify_sig(public_pem, &pae(&payload), &sig)?;
    // Only now parse what was signed, without re-serializing it.
    let st: Value = serde_json::from_slice(&payload).map_err(bundle_err)?;
    if st["_type"] != STATEMENT_TYPE || st["predicateType"] != PREDICATE_TYPE {
        return Err(bundle_err(
            "not an in-toto Statement v1 with the model_signing v1.0 predicate",
        ));
    }
    let subjects = st["subject"]
        .as_array()
        .ok_or_else(|| bundle_err("no subject"))?;
    if subjects.len() != 1 {
        return Err(bundle_err("exactly one subject is required"));
    }
    let ser = &st["predicate"]["serialization"];
    if ser["method"] != "files" || ser["hash_type"] != "sha256" {
        return Err(bundle_err(
            "only the files serialization with sha256 is supported",
        ));
    }
    let mut resources = Vec::new();
    let mut all = Sha256::new();
    for r in st["predicate"]["resources"]
        .as_array()
        .ok_or_else(|| bundle_err("no resources"))?
    {
        if r["algorithm"] != "sha256" {
            return Err(bundle_err("resources must use sha256"));
        }
        let name = r["name"]
            .as_str()
            .ok_or_else(|| bundle_err("resource without a name"))?
            .to_string();
        let mut d = [0u8; 32];
        hex::decode_to_slice(r["digest"].as_str().unwrap_or(""), &mut d)
            .map_err(|_| bundle_err("bad resource digest"))?;
        all.update(d);
        resources.push(Resource { name, sha256: d });
    }
    if subjects[0]["digest"]["sha256"].as_str() != Some(hex::encode(all.finalize()).as_str()) {
        return Err(bundle_err(
            "the subject digest does not match the listed resources",
        ));
    }
    let ignore_paths = ser["ignore_paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Verified {
        subject_name: subjects[0]["name"].as_str().unwrap_or("").to_string(),
        resources,
        ignore_paths,
        payload,
    })
}

/// Compares the signed file list with what is on disk (both as name → digest maps).
pub fn compare(signed: &[Resource], actual: &[Resource]) -> Result<(), ModelSigningError> {
    let a: BTreeMap<&str, &[u8; 32]> = signed
        .iter()
        .map(|r| (r.name.as_str(), &r.sha256))
        .collect();
    let b: BTreeMap<&str, &[u8; 32]> = actual
        .iter()
        .map(|r| (r.name.as_str(), &r.sha256))
        .collect();
    let missing: Vec<&str> = a.keys().filter(|k| !b.contains_key(*k)).copied().collect();
    let extra: Vec<&str> = b.keys().filter(|k| !a.contains_key(*k)).copied().collect();
    let changed: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| *k)
        .collect();
    if missing.is_empty() && extra.is_empty() && changed.is_empty() {
        return Ok(());
    }
    Err(ModelSigningError::Mismatch(format!(
        "changed {changed:?}, missing {missing:?}, extra {extra:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(name: &str, content: &[u8]) -> Resource {
        Resource {
            name: name.into(),
            sha256: Sha256::digest(content).into(),
        }
    }

    #[test]
    fn component_order_matches_python() {
        let mut v = vec![
            res("a-b", b"1"),
            res("a/b", b"2"),
            res("config.json", b"3"),
            res("a/a", b"4"),
        ];
        sort_resources(&mut v);
        let names: Vec<&str> = v.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a/a", "a/b", "a-b", "config.json"]);
    }

    #[test]
    fn ignores() {
        assert!(is_ignored(".git/config", &[]));
        assert!(is_ignored(".gitattributes", &[]));
        assert!(!is_ignored("sub/.gitattributes", &[]));
        assert!(!is_ignored(".gitx", &[]));
        assert!(is_ignored("model.sig", &["model.sig".into()]));
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = ReleaseKey::generate();
        let pem = key.public_pem().expect("pem");
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
                && pem.ends_with("-----END PUBLIC KEY-----\n")
        );
        let files = vec![
            res("config.json", b"{}"),
            res("empty.txt", b""),
            res("sub/w.bin", b"weights"),
        ];
        let payload = statement("model", &files);
        let bundle = key.sign(&payload).expect("sign");
        let v = verify_bundle(&bundle, &pem).expect("verify");
        assert_eq!(v.resources.len(), 3);
        compare(&v.resources, &files).expect("same files");
        let mut changed = files.clone();
        changed[2] = res("sub/w.bin", b"weightz");
        assert!(matches!(
            compare(&v.resources, &changed),
            Err(ModelSigningError::Mismatch(_))
        ));
        let other = ReleaseKey::generate().public_pem().expect("pem");
        assert!(verify_bundle(&bundle, &other).is_err());
        // a changed payload breaks the signature
        let mut b: Value = serde_json::from_str(&bundle).expect("json");
        let forged = statement("model", &changed);
        b["dsseEnvelope"]["payload"] =
            json!(base64::engine::general_purpose::STANDARD.encode(forged));
        assert_eq!(
            verify_bundle(&b.to_string(), &pem),
            Err(ModelSigningError::Signature)
        );
        let key2 = ReleaseKey::from_pkcs8_pem(&key.to_pkcs8_pem().expect("pem")).expect("parse");
        assert_eq!(key2.public_pem().expect("pem"), pem);
    }
}
