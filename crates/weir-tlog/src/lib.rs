//! weir's transparency-log formats, owned here and kept small and exact (DESIGN.md §3,
//! `reference/provenance-formats.md`):
//!
//! - [`merkle`]: RFC 6962 / RFC 9162 SHA-256 hashing, tree heads, inclusion and consistency
//!   proofs (generation over any [`merkle::HashSource`], and verification);
//! - [`note`]: C2SP `signed-note` with Ed25519 (type 0x01) keys, verifier-key strings;
//! - [`checkpoint`]: C2SP `tlog-checkpoint` bodies and Ed25519 cosignatures (type 0x04);
//! - [`tiles`]: C2SP `tlog-tiles` paths, hash tiles and entry bundles;
//! - [`proof`]: `c2sp.org/tlog-proof@v1` offline proof files.
//!
//! Pure: no I/O. Independent implementations (`signed_note`, `tlog_tiles`, tlog-scales, Go's
//! x/mod) check us in tests.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod sequencer;
pub mod tiles;

pub use merkle::Hash;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    #[error("malformed {what}: {why}")]
    Malformed { what: &'static str, why: String },
    #[error("invalid key: {0}")]
    Key(String),
    #[error("no known key verified the note")]
    NoVerifiedSignature,
    #[error("a known key's signature does not verify")]
    BadSignature,
    #[error("proof does not verify: {0}")]
    BadProof(String),
    #[error("index {index} is outside a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("missing hash at level {level} index {index}")]
    MissingHash { level: u8, index: u64 },
}

pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> TlogError {
    TlogError::Malformed {
        what,
        why: why.into(),
    }
}

pub(crate) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}
