//! RFC 6962 Merkle tree hashing (SHA-256), tree heads and proofs.
//!
//! Stored hashes are addressed like tiles: the hash of the complete subtree at `level` and
//! `index` covers leaves `index·2^level .. (index+1)·2^level`. Any tree head or proof over a tree
//! of size `n` is computed from those complete-subtree hashes, so a log never rehashes old leaves.

use sha2::{Digest, Sha256};

use crate::TlogError;

pub type Hash = [u8; 32];

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Where proofs and tree heads read complete-subtree hashes from.
pub trait HashSource {
    /// The hash of the complete subtree at `level`, `index` (level 0 = leaf hashes).
    fn hash(&self, level: u8, index: u64) -> Result<Hash, TlogError>;
}

/// An in-memory source: every level of a tree built from leaf hashes (for tests and small logs).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> MemoryTree {
        MemoryTree {
            levels: vec![Vec::new()],
        }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Appends a leaf hash and every complete subtree it finishes.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(h);
            let n = self.levels[level].len();
            if n % 2 == 1 {
                break;
            }
            h = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            level += 1;
        }
    }

    pub fn level(&self, level: u8) -> &[Hash] {
        self.levels
            .get(level as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn root(&self) -> Hash {
        // Sizes are bounded by memory here, so the source never fails.
        tree_hash(self, self.size()).unwrap_or_else(|_| empty_root())
    }
}

impl HashSource for MemoryTree {
    fn hash(&self, level: u8, index: u64) -> Result<Hash, TlogError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or(TlogError::MissingHash { level, index })
    }
}

/// MTH of leaves `[start, end)`, from complete-subtree hashes. `start` must be a multiple of the
/// largest power of two not above `end - start` whenever the range is a complete subtree.
fn range_hash(src: &dyn HashSource, start: u64, end: u64) -> Result<Hash, TlogError> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.hash(n.trailing_zeros() as u8, start / n);
    }
    let k = split(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of the tree of the first `size` leaves.
pub fn tree_hash(src: &dyn HashSource, size: u64) -> Result<Hash, TlogError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// PATH(m, D[size]) (RFC 6962 §2.1.1): the audit path of leaf `index`, sibling first.
pub fn inclusion_proof(
    src: &dyn HashSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TlogError> {
    if index >= size {
        return Err(TlogError::OutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(src, index, 0, size, &mut out)?;
    Ok(out)
}

fn path(
    src: &dyn HashSource,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// PROOF(old, D[new]) (RFC 6962 §2.1.2).
pub fn consistency_proof(src: &dyn HashSource, old: u64, new: u64) -> Result<Vec<Hash>, TlogError> {
    if old > new {
        return Err(TlogError::OutOfRange {
            index: old,
            size: new,
        });
    }
    let mut out = Vec::new();
    if old == 0 || old == new {
        return Ok(out);
    }
    subproof(src, old, 0, new, true, &mut out)?;
    Ok(out)
}

fn subproof(
    src: &dyn HashSource,
    m: u64,
    start: u64,
    end: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    let n = end - start;
    if m == n {
        if !b {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, b, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` with `root`?
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), TlogError> {
    if index >= size {
        return Err(TlogError::OutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(TlogError::BadProof("inclusion proof too long".into()));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 || r != *root {
        return Err(TlogError::BadProof(
            "inclusion proof does not lead to the root".into(),
        ));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2, with the `old == 0` and `old == new` cases handled first.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    if old > new {
        return Err(TlogError::BadProof(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(TlogError::BadProof("same size, different roots".into()))
        };
    }
    if old == 0 {
        return if proof.is_empty() && *old_root == empty_root() {
            Ok(())
        } else {
            Err(TlogError::BadProof("bad proof from the empty tree".into()))
        };
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(TlogError::BadProof("empty consistency proof".into()));
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(TlogError::BadProof("consistency proof too long".into()));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 || fr != *old_root || sr != *new_root {
        return Err(TlogError::BadProof(
            "consistency proof does not connect the two roots".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(format!("entry {i}").as_bytes()));
        }
        t
    }

    /// The textbook recursive definition, to check the stored-hash version against.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn empty_root_vector() {
        assert_eq!(
            empty_root(),
            [
                0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
                0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
                0x78, 0x52, 0xb8, 0x55
            ]
        );
        assert_eq!(MemoryTree::new().root(), empty_root());
    }

    #[test]
    fn roots_match_the_definition() {
        for n in 0..70u64 {
            let t = tree(n);
            let leaves: Vec<Hash> = t.level(0).to_vec();
            assert_eq!(t.root(), mth(&leaves), "size {n}");
        }
    }

    #[test]
    fn agrees_with_tlog_tiles() {
        // An independent implementation (Go sumdb/tlog's lineage) checks our proofs.
        let t = tree(1000);
        let root = tlog_tiles::Hash(t.root());
        for (index, size) in [(0u64, 1u64), (5, 6), (999, 1000), (513, 777), (256, 257)] {
            let root_at = tlog_tiles::Hash(tree_hash(&t, size).expect("root"));
            let proof: Vec<tlog_tiles::Hash> = inclusion_proof(&t, index, size)
                .expect("proof")
                .into_iter()
                .map(tlog_tiles::Hash)
                .collect();
            tlog_tiles::check_record(
                &proof,
                size,
                root_at,
                index,
                tlog_tiles::Hash(t.level(0)[index as usize]),
            )
            .expect("tlog_tiles accepts our inclusion proof");
        }
        for (old, new) in [
            (1u64, 1000u64),
            (256, 1000),
            (700, 1000),
            (999, 1000),
            (3, 7),
        ] {
            let proof: Vec<tlog_tiles::Hash> = consistency_proof(&t, old, new)
                .expect("proof")
                .into_iter()
                .map(tlog_tiles::Hash)
                .collect();
            let old_root = tlog_tiles::Hash(tree_hash(&t, old).expect("root"));
            let new_root = if new == 1000 {
                root
            } else {
                tlog_tiles::Hash(tree_hash(&t, new).expect("root"))
            };
            tlog_tiles::check_tree(&proof, new, new_root, old, old_root)
                .expect("tlog_tiles accepts our consistency proof");
        }
    }

    proptest! {
        #[test]
        fn proofs_verify_and_tampering_fails(size in 1u64..300, a in 0u64..300, b in 0u64..300) {
            let t = tree(size);
            let root = t.root();
            let index = a % size;
            let leaf = t.level(0)[index as usize];
            let proof = inclusion_proof(&t, index, size).expect("proof");
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());
            let mut bad = leaf;
            bad[0] ^= 1;
            prop_assert!(verify_inclusion(&bad, index, size, &proof, &root).is_err());
            if let Some(first) = proof.first() {
                let mut p2 = proof.clone();
                p2[0] = node_hash(first, first);
                prop_assert!(verify_inclusion(&leaf, index, size, &p2, &root).is_err());
            }
            let old = b % (size + 1);
            let old_root = tree_hash(&t, old).expect("root");
            let cp = consistency_proof(&t, old, size).expect("proof");
            prop_assert!(verify_consistency(old, size, &old_root, &root, &cp).is_ok());
            let mut forked = old_root;
            forked[31] ^= 1;
            prop_assert!(verify_consistency(old, size, &forked, &root, &cp).is_err());
        }
    }
}
