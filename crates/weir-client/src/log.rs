//! Client side of the transparency log: fetch and verify checkpoints against a pinned key,
//! prove inclusion, check consistency with the last checkpoint this client saw (refusing a
//! rolled-back or forked log), and audit the whole log from its tiles.

use base64::Engine;
use weir_tlog::checkpoint::Checkpoint;
use weir_tlog::merkle::{Hash, MemoryTree, leaf_hash, verify_consistency};
use weir_tlog::note::Verifier;
use weir_tlog::proof::ProofFile;
use weir_tlog::tiles::{entries_path, parse_entry_bundle, tile_data, tiles_for};

use crate::{Client, ClientError, Result};

fn invalid(e: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(e.to_string())
}

/// What `verify_log` concluded.
#[derive(Debug)]
pub struct LogCheck {
    pub checkpoint: Checkpoint,
    pub text: String,
    /// The size of the previously seen checkpoint that the new one was proven consistent with.
    pub consistent_with: Option<u64>,
}

/// What `audit_log` checked.
#[derive(Debug)]
pub struct Audit {
    pub size: u64,
    pub tiles: usize,
    pub entries: u64,
}

impl Client {
    async fn get_text(&self, path: &str) -> Result<String> {
        Ok(self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?
            .text()
            .await?)
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        Ok(self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?
            .bytes()
            .await?
            .to_vec())
    }

    /// The log's verifier key as the server states it (pin it; never trust it per request).
    pub async fn log_vkey(&self) -> Result<String> {
        Ok(self.get_text("/log/vkey").await?.trim().to_string())
    }

    /// The current checkpoint, verified with the pinned key.
    pub async fn log_checkpoint(&self, vkey: &str) -> Result<(Checkpoint, String)> {
        let v = Verifier::parse(vkey).map_err(invalid)?;
        let text = self.get_text("/log/checkpoint").await?;
        let (c, _) = Checkpoint::open(&text, &v).map_err(|e| {
            invalid(format!(
                "the log's checkpoint does not verify with the pinned key: {e}"
            ))
        })?;
        Ok((c, text))
    }

    /// Fetches the proof file for an entry and checks it (signature and inclusion).
    pub async fn log_prove(&self, vkey: &str, index: u64) -> Result<(ProofFile, Vec<u8>)> {
        let v = Verifier::parse(vkey).map_err(invalid)?;
        let proof = ProofFile::parse(&self.get_text(&format!("/api/v1/log/proof/{index}")).await?)
            .map_err(invalid)?;
        let (c, _) = Checkpoint::open(&proof.checkpoint, &v).map_err(invalid)?;
        let tile = index / 256;
        let width = (c.size - tile * 256).min(256);
        let bundle = self
            .get_bytes(&format!("/log/{}", entries_path(tile, width)))
            .await?;
        let entries = parse_entry_bundle(&bundle).map_err(invalid)?;
        let entry = entries
            .get((index % 256) as usize)
            .cloned()
            .ok_or_else(|| invalid("entry missing from its bundle"))?;
        proof
            .verify(&entry, &v)
            .map_err(|e| invalid(format!("inclusion proof for entry {index} fails: {e}")))?;
        Ok((proof, entry))
    }

    /// Verifies the current checkpoint and its consistency with `last_seen` (a checkpoint note
    /// this client verified before). A smaller tree or a failing proof means the log was rolled
    /// back or forked: refused.
    pub async fn verify_log(&self, vkey: &str, last_seen: Option<&str>) -> Result<LogCheck> {
        let v = Verifier::parse(vkey).map_err(invalid)?;
        let (current, text) = self.log_checkpoint(vkey).await?;
        let Some(old_text) = last_seen else {
            return Ok(LogCheck {
                checkpoint: current,
                text,
                consistent_with: None,
            });
        };
        let (old, _) = Checkpoint::open(old_text, &v)
            .map_err(|e| invalid(format!("the stored checkpoint does not verify: {e}")))?;
        if current.size < old.size {
            return Err(invalid(format!(
                "the log was rolled back: it now has {} entries, but this client saw {} before",
                current.size, old.size
            )));
        }
        let body = self
            .get_text(&format!(
                "/api/v1/log/consistency?old={}&new={}",
                old.size, current.size
            ))
            .await?;
        let mut proof: Vec<Hash> = Vec::new();
        for l in body.lines() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(l)
                .map_err(invalid)?;
            proof.push(
                raw.try_into()
                    .map_err(|_| invalid("consistency hashes are 32 bytes"))?,
            );
        }
        verify_consistency(old.size, current.size, &old.root, &current.root, &proof).map_err(|e| {
            invalid(format!("the log forked: checkpoint {} is not consistent with the one seen before ({}): {e}", current.size, old.size))
        })?;
        Ok(LogCheck {
            checkpoint: current,
            text,
            consistent_with: Some(old.size),
        })
    }

    /// Sends a witness's cosignature line for the current checkpoint.
    pub async fn submit_cosignature(&self, line: &str) -> Result<String> {
        let rb = self
            .request(reqwest::Method::POST, &self.url("/api/v1/log/cosignatures"))
            .json(&serde_json::json!({"line": line}));
        Ok(self.send(rb).await?.text().await?)
    }

    /// One round of a witness: checks the current checkpoint is consistent with the last one
    /// this witness saw (kept per registry by [`crate::pins`]), remembers it, cosigns it at
    /// `now` (unix seconds) and submits the cosignature. Returns the server's answer and the
    /// check.
    pub async fn witness_round(
        &self,
        vkey: &str,
        signer: &weir_tlog::note::Signer,
        now: u64,
    ) -> Result<(String, LogCheck)> {
        let seen_name = format!("witness-{}.checkpoint", signer.name().replace('/', "_"));
        let seen = crate::pins::seen(self.server(), &seen_name)?;
        let check = self.verify_log(vkey, seen.as_deref()).await?;
        crate::pins::remember(self.server(), &seen_name, &check.text)?;
        let note = weir_tlog::note::Note::parse(&check.text).map_err(invalid)?;
        let line = weir_tlog::checkpoint::cosign(&note.text, signer, now).line();
        let out = self.submit_cosignature(&line).await?;
        Ok((out, check))
    }

    /// The entries from index `from` to the end of the current checkpoint (verified with
    /// `vkey`), at most `limit`, as the entry bundles serve them: (index, entry bytes). Each
    /// bundle's entries are checked against the served level-0 tile (their leaf hashes), so a
    /// bundle that does not match the tree is refused; `audit_log` checks the tiles themselves.
    pub async fn log_entries(
        &self,
        vkey: &str,
        from: u64,
        limit: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let (c, _) = self.log_checkpoint(vkey).await?;
        let mut out = Vec::new();
        let end = c.size.min(from.saturating_add(limit));
        let mut tile = from / weir_tlog::tiles::TILE_WIDTH;
        while tile * weir_tlog::tiles::TILE_WIDTH < end {
            let first = tile * weir_tlog::tiles::TILE_WIDTH;
            let width = (c.size - first).min(weir_tlog::tiles::TILE_WIDTH);
            let bundle = self
                .get_bytes(&format!("/log/{}", entries_path(tile, width)))
                .await?;
            let entries = parse_entry_bundle(&bundle).map_err(invalid)?;
            let hashes = self
                .get_bytes(&format!(
                    "/log/{}",
                    weir_tlog::tiles::TileId {
                        level: 0,
                        index: tile,
                        width
                    }
                    .path()
                ))
                .await?;
            if entries.len() as u64 != width || hashes.len() as u64 != width * 32 {
                return Err(invalid(format!(
                    "entry bundle {tile} does not match its tile"
                )));
            }
            for (k, e) in entries.into_iter().enumerate() {
                if hashes[k * 32..(k + 1) * 32] != leaf_hash(&e)[..] {
                    return Err(invalid(format!(
                        "entry {} does not hash to its leaf in the tile",
                        first + k as u64
                    )));
                }
                let i = first + k as u64;
                if i >= from && i < end {
                    out.push((i, e));
                }
            }
            tile += 1;
        }
        Ok(out)
    }

    /// Rebuilds the whole tree from the entry bundles and compares the signed root and every tile.
    pub async fn audit_log(&self, vkey: &str) -> Result<Audit> {
        Ok(self.audited_entries(vkey).await?.0)
    }

    /// [`Client::audit_log`], returning the entries it checked (index order) and the signed
    /// checkpoint they rebuild: entries proven to be the log's, not merely served.
    pub async fn audited_entries(&self, vkey: &str) -> Result<(Audit, Vec<Vec<u8>>, String)> {
        let (c, text) = self.log_checkpoint(vkey).await?;
        let tiles = tiles_for(c.size);
        let mut all = Vec::new();
        let mut mem = MemoryTree::new();
        for t in tiles.iter().filter(|t| t.level == 0) {
            let bundle = self
                .get_bytes(&format!("/log/{}", entries_path(t.index, t.width)))
                .await?;
            let entries = parse_entry_bundle(&bundle).map_err(invalid)?;
            if entries.len() as u64 != t.width {
                return Err(invalid(format!(
                    "entry bundle {} has {} entries, expected {}",
                    t.index,
                    entries.len(),
                    t.width
                )));
            }
            for e in entries {
                mem.push(leaf_hash(&e));
                all.push(e);
            }
        }
        if mem.root() != c.root {
            return Err(invalid(
                "the entries do not rebuild the signed root: the log's data was altered",
            ));
        }
        for t in &tiles {
            let served = self.get_bytes(&format!("/log/{}", t.path())).await?;
            let want = tile_data(&mem, *t).map_err(invalid)?;
            if served != want {
                return Err(invalid(format!(
                    "tile {} differs from the rebuilt tree",
                    t.path()
                )));
            }
        }
        Ok((
            Audit {
                size: c.size,
                tiles: tiles.len(),
                entries: mem.size(),
            },
            all,
            text,
        ))
    }
}
