//! Signed statements weir accepts from outside parties. For now: identity attestations, in which
//! an accredited verifier (whose Ed25519 public key the operator registered) states that an
//! account has an identity level, optionally a country, until an expiry time.
//!
//! Format: `{"payload": "<JSON text>", "signature": "<base64 Ed25519 signature>"}`. The signature
//! covers `weir-attestation-v1\n` followed by the payload bytes exactly as sent, so no JSON
//! canonicalization is needed; the attestation id is the SHA-256 of the payload.

pub mod model_signing;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weir_core::IdentityLevel;

const CONTEXT: &[u8] = b"weir-attestation-v1\n";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    #[error("invalid key: {0}")]
    Key(String),
    #[error("invalid attestation: {0}")]
    Malformed(String),
    #[error("the signature does not verify with verifier {0}'s registered key")]
    BadSignature(String),
}

/// What a verifier states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account name the attestation is about.
    pub subject: String,
    pub level: IdentityLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The verifier's registered name.
    pub verifier: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAttestation {
    pub payload: String,
    pub signature: String,
}

/// A new Ed25519 key pair as hex: `(secret, public)`.
pub fn generate_key() -> (String, String) {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let sk = SigningKey::from_bytes(&seed);
    (
        hex::encode(seed),
        hex::encode(sk.verifying_key().to_bytes()),
    )
}

fn key32(hex_key: &str) -> Result<[u8; 32], SigningError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut out)
        .map_err(|e| SigningError::Key(format!("expected 64 hex digits: {e}")))?;
    Ok(out)
}

pub fn public_key(hex_key: &str) -> Result<VerifyingKey, SigningError> {
    VerifyingKey::from_bytes(&key32(hex_key)?).map_err(|e| SigningError::Key(e.to_string()))
}

pub fn sign(claims: &Claims, secret_hex: &str) -> Result<SignedAttestation, SigningError> {
    let sk = SigningKey::from_bytes(&key32(secret_hex)?);
    let payload =
        serde_json::to_string(claims).map_err(|e| SigningError::Malformed(e.to_string()))?;
    let mut msg = CONTEXT.to_vec();
    msg.extend_from_slice(payload.as_bytes());
    let sig = sk.sign(&msg);
    Ok(SignedAttestation {
        payload,
        signature: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
    })
}

/// Parses the claims without checking the signature (to find which verifier key to use).
pub fn claims(a: &SignedAttestation) -> Result<Claims, SigningError> {
    serde_json::from_str(&a.payload).map_err(|e| SigningError::Malformed(e.to_string()))
}

/// The attestation id: SHA-256 of the payload, hex.
pub fn id(a: &SignedAttestation) -> String {
    hex::encode(Sha256::digest(a.payload.as_bytes()))
}

/// Checks the signature with the verifier's registered key and returns the claims.
pub fn verify(a: &SignedAttestation, public_hex: &str) -> Result<Claims, SigningError> {
    let c = claims(a)?;
    let vk = public_key(public_hex)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(a.signature.trim())
        .map_err(|e| SigningError::Malformed(format!("signature is not base64: {e}")))?;
    let sig = ed25519_dalek::Signature::from_slice(&raw)
        .map_err(|e| SigningError::Malformed(e.to_string()))?;
    let mut msg = CONTEXT.to_vec();
    msg.extend_from_slice(a.payload.as_bytes());
    vk.verify_strict(&msg, &sig)
        .map_err(|_| SigningError::BadSignature(c.verifier.clone()))?;
    if c.expires_at <= c.issued_at {
        return Err(SigningError::Malformed(
            "expires_at must be after issued_at".into(),
        ));
    }
    Ok(c)
}

/// Context of board signatures: a member's signature over a proposal's digest is never valid as
/// any other statement.
const BOARD_CONTEXT: &[u8] = b"weir-board-signature-v1\n";

/// A board member signs a proposal's digest (64 hex digits): the base64 Ed25519 signature over
/// `weir-board-signature-v1\n` + digest.
pub fn sign_board(digest_hex: &str, secret_hex: &str) -> Result<String, SigningError> {
    let sk = SigningKey::from_bytes(&key32(secret_hex)?);
    let mut msg = BOARD_CONTEXT.to_vec();
    msg.extend_from_slice(digest_hex.trim().as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(sk.sign(&msg).to_bytes()))
}

/// Whether `signature_b64` is `public_hex`'s signature over the proposal digest.
pub fn verify_board(digest_hex: &str, signature_b64: &str, public_hex: &str) -> bool {
    let Ok(vk) = public_key(public_hex) else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw) else {
        return false;
    };
    let mut msg = BOARD_CONTEXT.to_vec();
    msg.extend_from_slice(digest_hex.trim().as_bytes());
    vk.verify_strict(&msg, &sig).is_ok()
}

/// Context of evaluation-result signatures: an evaluator's signature over a result payload is
/// never valid as any other statement.
const EVAL_CONTEXT: &[u8] = b"weir-eval-result-v1\n";

/// An evaluator signs a result payload (the JSON text weir derived from the raw log, exactly as
/// served): returns the base64 Ed25519 signature over `weir-eval-result-v1\n` + payload.
pub fn sign_result(payload: &str, secret_hex: &str) -> Result<String, SigningError> {
    let sk = SigningKey::from_bytes(&key32(secret_hex)?);
    let mut msg = EVAL_CONTEXT.to_vec();
    msg.extend_from_slice(payload.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(sk.sign(&msg).to_bytes()))
}

/// Checks an evaluator's signature on a result payload with the evaluator's registered key.
pub fn verify_result(
    payload: &str,
    signature_b64: &str,
    public_hex: &str,
    evaluator: &str,
) -> Result<(), SigningError> {
    let vk = public_key(public_hex)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| SigningError::Malformed(format!("signature is not base64: {e}")))?;
    let sig = ed25519_dalek::Signature::from_slice(&raw)
        .map_err(|e| SigningError::Malformed(e.to_string()))?;
    let mut msg = EVAL_CONTEXT.to_vec();
    msg.extend_from_slice(payload.as_bytes());
    vk.verify_strict(&msg, &sig)
        .map_err(|_| SigningError::BadSignature(evaluator.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            subject: "carol".into(),
            level: IdentityLevel::Identified,
            country: Some("DE".into()),
            issued_at: 100,
            expires_at: 200,
            verifier: "idcheck".into(),
        }
    }

    #[test]
    fn sign_and_verify() {
        let (sk, pk) = generate_key();
        let a = sign(&claims(), &sk).expect("sign");
        assert_eq!(verify(&a, &pk).expect("verify"), claims());
        assert_eq!(id(&a).len(), 64);
    }

    #[test]
    fn result_signatures_bind_the_payload_and_the_context() {
        let (sk, pk) = generate_key();
        let payload = r#"{"type":"weir-eval-result/v1","value":0.25}"#;
        let sig = sign_result(payload, &sk).expect("sign");
        assert_eq!(verify_result(payload, &sig, &pk, "lab"), Ok(()));
        let forged = payload.replace("0.25", "0.24");
        assert_eq!(
            verify_result(&forged, &sig, &pk, "lab"),
            Err(SigningError::BadSignature("lab".into()))
        );
        // An identity attestation signature over the same bytes is not a result signature.
        let a = sign(&claims(), &sk).expect("sign");
        assert!(verify_result(&a.payload, &a.signature, &pk, "lab").is_err());
    }

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let (sk, pk) = generate_key();
        let (_, other) = generate_key();
        let a = sign(&claims(), &sk).expect("sign");
        assert!(matches!(
            verify(&a, &other),
            Err(SigningError::BadSignature(_))
        ));
        let mut forged = a.clone();
        forged.payload = forged.payload.replace("identified", "accredited");
        assert!(matches!(
            verify(&forged, &pk),
            Err(SigningError::BadSignature(_))
        ));
        let mut garbage = a;
        garbage.signature = "!!".into();
        assert!(matches!(
            verify(&garbage, &pk),
            Err(SigningError::Malformed(_))
        ));
        assert!(public_key("zz").is_err());
    }
}
