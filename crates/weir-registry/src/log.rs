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
    store.db.integrate(BATCH).await?;
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
