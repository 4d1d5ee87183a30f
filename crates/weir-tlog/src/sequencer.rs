//! The sequencer's pure core: appending leaves to a tree whose complete-subtree hashes are
//! stored, using only the frontier (the last hash at each level whose count is odd), and the
//! positions of stored hashes any computation needs (so an async store can fetch them first).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::TlogError;
use crate::merkle::{Hash, HashSource, empty_root, node_hash};

/// The stored hashes needed to append to a tree of `size`: one per level whose count is odd.
pub fn frontier_positions(size: u64) -> Vec<(u8, u64)> {
    (0..64u8)
        .filter_map(|l| {
            let count = size >> l;
            (count & 1 == 1).then(|| (l, count - 1))
        })
        .collect()
}

/// What an append produces: every new complete-subtree hash, and the new head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub hashes: Vec<(u8, u64, Hash)>,
    pub size: u64,
    pub root: Hash,
}

/// Appends `leaves` to a tree of `size` whose frontier hashes (level → hash, as listed by
/// [`frontier_positions`]) are given.
pub fn append(
    size: u64,
    frontier: &BTreeMap<u8, Hash>,
    leaves: &[Hash],
) -> Result<Appended, TlogError> {
    let mut stack = BTreeMap::new();
    for (l, i) in frontier_positions(size) {
        let h = frontier
            .get(&l)
            .ok_or(TlogError::MissingHash { level: l, index: i })?;
        stack.insert(l, *h);
    }
    let mut hashes = Vec::new();
    let mut n = size;
    for leaf in leaves {
        let (mut h, mut level, mut index) = (*leaf, 0u8, n);
        loop {
            hashes.push((level, index, h));
            if index & 1 == 1 {
                let left = stack.remove(&level).ok_or(TlogError::MissingHash {
                    level,
                    index: index - 1,
                })?;
                h = node_hash(&left, &h);
                level += 1;
                index >>= 1;
            } else {
                stack.insert(level, h);
                break;
            }
        }
        n += 1;
    }
    let mut root: Option<Hash> = None;
    for h in stack.values() {
        root = Some(match root {
            None => *h,
            Some(acc) => node_hash(h, &acc),
        });
    }
    Ok(Appended {
        hashes,
        size: n,
        root: root.unwrap_or_else(empty_root),
    })
}

/// Runs `f` against a source that records which hashes it reads (the algorithms' control flow
/// does not depend on hash values), so the caller can fetch exactly those.
pub fn needed<T>(f: impl FnOnce(&dyn HashSource) -> Result<T, TlogError>) -> Vec<(u8, u64)> {
    struct Recorder(RefCell<Vec<(u8, u64)>>);
    impl HashSource for Recorder {
        fn hash(&self, level: u8, index: u64) -> Result<Hash, TlogError> {
            self.0.borrow_mut().push((level, index));
            Ok([0; 32])
        }
    }
    let r = Recorder(RefCell::new(Vec::new()));
    let _ = f(&r);
    let mut v = r.0.into_inner();
    v.sort_unstable();
    v.dedup();
    v
}

/// Hashes fetched from a store.
#[derive(Debug, Clone, Default)]
pub struct MapSource(pub HashMap<(u8, u64), Hash>);

impl HashSource for MapSource {
    fn hash(&self, level: u8, index: u64) -> Result<Hash, TlogError> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(TlogError::MissingHash { level, index })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::merkle::{MemoryTree, inclusion_proof, leaf_hash, tree_hash};

    proptest! {
        #[test]
        fn appending_in_batches_matches_the_memory_tree(batches in prop::collection::vec(0usize..40, 1..8)) {
            let mut mem = MemoryTree::new();
            let mut stored: HashMap<(u8, u64), Hash> = HashMap::new();
            let mut size = 0u64;
            for (b, n) in batches.iter().enumerate() {
                let leaves: Vec<Hash> = (0..*n).map(|i| leaf_hash(format!("{b}-{i}").as_bytes())).collect();
                let frontier: BTreeMap<u8, Hash> = frontier_positions(size).into_iter().map(|(l, i)| (l, stored[&(l, i)])).collect();
                let a = append(size, &frontier, &leaves).expect("append");
                for (l, i, h) in &a.hashes {
                    stored.insert((*l, *i), *h);
                }
                for leaf in leaves {
                    mem.push(leaf);
                }
                size = a.size;
                prop_assert_eq!(a.root, mem.root());
            }
            // proofs from fetched hashes equal proofs from the whole tree
            if size > 0 {
                let idx = size / 2;
                let want = needed(|s| inclusion_proof(s, idx, size));
                let src = MapSource(want.iter().map(|k| (*k, stored[k])).collect());
                prop_assert_eq!(inclusion_proof(&src, idx, size).expect("proof"), inclusion_proof(&mem, idx, size).expect("proof"));
                prop_assert_eq!(tree_hash(&src, size).ok().or_else(|| tree_hash(&mem, size).ok()), Some(mem.root()));
            }
        }
    }

    #[test]
    fn frontier_of_small_trees() {
        assert!(frontier_positions(0).is_empty());
        assert_eq!(frontier_positions(1), vec![(0, 0)]);
        assert_eq!(frontier_positions(3), vec![(0, 2), (1, 0)]);
        assert_eq!(frontier_positions(4), vec![(2, 0)]);
    }
}
