//! The transparency log's sequencer step: integrate pending entries, then sign a checkpoint of
//! the new head if it has none. Run periodically by the server and before a release answers
//! with its proof.

use weir_store::{Store, StoreError};
use weir_tlog::checkpoint::Checkpoint;
use weir_tlog::note::Signer;

/// How many pending entries one step integrates at most.
pub const BATCH: i64 = 100_000;

/// Integrates and signs once. Returns the signed size.
pub async fn sequence_once(store: &Store, signer: &Signer) -> Result<u64, StoreError> {
    sequence_as(store, signer, None).await
}

/// [`sequence_once`] as the holder of the sequencer lease (fenced: nothing is integrated once
/// the lease is lost).
pub async fn sequence_as(
    store: &Store,
    signer: &Signer,
    fence: Option<weir_store::tlog::Fence>,
) -> Result<u64, StoreError> {
    store.db.integrate_fenced(BATCH, fence).await?;
    let head = store.db.log_state().await?;
    if head.checkpoint.is_none() {
        let c = Checkpoint {
            origin: signer.name().to_string(),
            size: head.size,
            root: head.root,
        };
        let note = c
            .sign(signer)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .to_text();
        store
            .db
            .store_checkpoint(head.size, &head.root, &note)
            .await?;
    }
    Ok(head.size)
}

/// The signed head, its cosignature lines and, for `index` in it, the entry's inclusion proof
/// (a `c2sp.org/tlog-proof@v1` file against that head). `None` before the first checkpoint.
pub async fn signed_proof(
    store: &Store,
    index: Option<u64>,
) -> Result<Option<SignedHead>, StoreError> {
    let head = store.db.log_state().await?;
    let Some(note) = head.checkpoint else {
        return Ok(None);
    };
    let cosignatures = store.db.cosignatures(head.size).await?;
    let proof = match index {
        Some(i) if i < head.size => {
            let want = weir_tlog::sequencer::needed(|s| {
                weir_tlog::merkle::inclusion_proof(s, i, head.size)
            });
            let src = store.db.log_hashes(&want).await?;
            let path = weir_tlog::merkle::inclusion_proof(&src, i, head.size)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Some(weir_tlog::proof::ProofFile {
                extra: None,
                index: i,
                path,
                checkpoint: note.clone(),
            })
        }
        _ => None,
    };
    Ok(Some(SignedHead {
        size: head.size,
        root: head.root,
        note,
        cosignatures,
        proof,
    }))
}

/// What [`signed_proof`] returns.
pub struct SignedHead {
    pub size: u64,
    pub root: weir_tlog::merkle::Hash,
    /// The checkpoint note as the log signed it (without cosignatures).
    pub note: String,
    pub cosignatures: Vec<String>,
    pub proof: Option<weir_tlog::proof::ProofFile>,
}
