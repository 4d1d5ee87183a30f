//! C2SP `tlog-tiles`: paths, hash tiles and entry bundles.
//!
//! A tile at level `l`, index `n` holds the hashes of tree level `8·l`, indices
//! `256·n .. 256·n + w`; full tiles have `w = 256`, partial ones are served at `.p/<w>`. Level-0
//! tiles hold leaf hashes; entry bundles hold the entries themselves, each prefixed with its
//! big-endian u16 length (so entries are at most 65,535 bytes).

use crate::merkle::{Hash, HashSource};
use crate::{TlogError, malformed};

pub const TILE_WIDTH: u64 = 256;
pub const MAX_ENTRY: usize = u16::MAX as usize;

/// `1234067` → `x001/x234/067`.
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn width_suffix(width: u64) -> String {
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// `tile/<L>/<N>[.p/<W>]`.
pub fn tile_path(level: u8, index: u64, width: u64) -> String {
    format!("tile/{level}/{}{}", index_path(index), width_suffix(width))
}

/// `tile/entries/<N>[.p/<W>]`.
pub fn entries_path(index: u64, width: u64) -> String {
    format!("tile/entries/{}{}", index_path(index), width_suffix(width))
}

/// A tile that exists for a tree size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
    pub width: u64,
}

impl TileId {
    pub fn path(&self) -> String {
        tile_path(self.level, self.index, self.width)
    }
}

/// Parses a tile path relative to the log prefix: `tile/<L>/<N>[.p/<W>]` or
/// `tile/entries/<N>[.p/<W>]` (level `None` for entries).
pub fn parse_path(path: &str) -> Result<(Option<u8>, u64, u64), TlogError> {
    let bad = |why: &str| malformed("tile path", format!("{path:?}: {why}"));
    let rest = path
        .strip_prefix("tile/")
        .ok_or_else(|| bad("must start with tile/"))?;
    let (kind, rest) = rest.split_once('/').ok_or_else(|| bad("missing level"))?;
    let level = if kind == "entries" {
        None
    } else {
        if kind.is_empty()
            || (kind.len() > 1 && kind.starts_with('0'))
            || !kind.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("level must be decimal without leading zeros"));
        }
        let l: u8 = kind.parse().map_err(|_| bad("level out of range"))?;
        if l > 63 {
            return Err(bad("level out of range"));
        }
        Some(l)
    };
    let (index_part, width) = match rest.split_once(".p/") {
        Some((i, w)) => {
            let w: u64 = w.parse().map_err(|_| bad("bad width"))?;
            if !(1..TILE_WIDTH).contains(&w) || w.to_string().len() != rest.len() - i.len() - 3 {
                return Err(bad("width must be 1..255 without leading zeros"));
            }
            (i, w)
        }
        None => (rest, TILE_WIDTH),
    };
    let groups: Vec<&str> = index_part.split('/').collect();
    let mut index: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            *g
        } else {
            g.strip_prefix('x')
                .ok_or_else(|| bad("inner groups need an x prefix"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("groups are three digits"));
        }
        index = index
            .checked_mul(1000)
            .and_then(|v| v.checked_add(digits.parse::<u64>().unwrap_or(0)))
            .ok_or_else(|| bad("index out of range"))?;
    }
    Ok((level, index, width))
}

/// Number of hashes stored at tile level `level` for tree size `size`.
fn hashes_at(level: u8, size: u64) -> u64 {
    if u32::from(level) * 8 >= 64 {
        0
    } else {
        size >> (8 * u32::from(level))
    }
}

/// Every tile (full and the one partial per level, if any) of a tree of `size`.
pub fn tiles_for(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0..=63u8 {
        let n = hashes_at(level, size);
        if n == 0 {
            break;
        }
        for index in 0..n / TILE_WIDTH {
            out.push(TileId {
                level,
                index,
                width: TILE_WIDTH,
            });
        }
        if !n.is_multiple_of(TILE_WIDTH) {
            out.push(TileId {
                level,
                index: n / TILE_WIDTH,
                width: n % TILE_WIDTH,
            });
        }
    }
    out
}

/// The tiles that change when the tree grows from `old` to `new` (new full tiles and new partials).
pub fn new_tiles(old: u64, new: u64) -> Vec<TileId> {
    let before = tiles_for(old);
    tiles_for(new)
        .into_iter()
        .filter(|t| !before.contains(t))
        .collect()
}

/// The bytes of a hash tile: `width` hashes of tree level `8·level`.
pub fn tile_data(src: &dyn HashSource, tile: TileId) -> Result<Vec<u8>, TlogError> {
    let mut out = Vec::with_capacity(tile.width as usize * 32);
    let tree_level = tile.level.checked_mul(8).ok_or(TlogError::MissingHash {
        level: 255,
        index: tile.index,
    })?;
    for i in 0..tile.width {
        out.extend_from_slice(&src.hash(tree_level, tile.index * TILE_WIDTH + i)?);
    }
    Ok(out)
}

/// Parses a hash tile into its hashes.
pub fn parse_tile(bytes: &[u8]) -> Result<Vec<Hash>, TlogError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(32) || bytes.len() > 256 * 32 {
        return Err(malformed(
            "tile",
            "length must be a non-zero multiple of 32, at most 8192",
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0u8; 32]))
        .collect())
}

/// An entry bundle: each entry as big-endian u16 length + bytes.
pub fn entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TlogError> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len =
            u16::try_from(e.len()).map_err(|_| malformed("entry", "larger than 65,535 bytes"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

pub fn parse_entry_bundle(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, TlogError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 2 {
            return Err(malformed("entry bundle", "truncated length"));
        }
        let len = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
        if bytes.len() < 2 + len {
            return Err(malformed("entry bundle", "truncated entry"));
        }
        out.push(bytes[2..2 + len].to_vec());
        bytes = &bytes[2 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::merkle::{MemoryTree, leaf_hash, node_hash};

    #[test]
    fn index_paths() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(273), "273");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1_234_067), "x001/x234/067");
        assert_eq!(tile_path(0, 273, 112), "tile/0/273.p/112");
        assert_eq!(tile_path(1, 0, 256), "tile/1/000");
        assert_eq!(entries_path(1001, 44), "tile/entries/x001/001.p/44");
    }

    #[test]
    fn tiles_of_70000_match_the_spec_example() {
        let t = tiles_for(70_000);
        let paths: Vec<String> = t.iter().map(TileId::path).collect();
        assert_eq!(
            paths
                .iter()
                .filter(|p| p.starts_with("tile/0/") && !p.contains(".p/"))
                .count(),
            273
        );
        assert!(paths.contains(&"tile/0/273.p/112".to_string()));
        assert!(paths.contains(&"tile/1/000".to_string()));
        assert!(paths.contains(&"tile/1/001.p/17".to_string()));
        assert!(paths.contains(&"tile/2/000.p/1".to_string()));
        assert_eq!(paths.len(), 273 + 1 + 1 + 1 + 1);
        let big: Vec<String> = tiles_for(256_300).iter().map(TileId::path).collect();
        assert!(big.contains(&"tile/0/x001/000".to_string()));
        assert!(big.contains(&"tile/0/x001/001.p/44".to_string()));
        assert!(tiles_for(0).is_empty());
    }

    #[test]
    fn level_one_hashes_are_roots_of_full_level_zero_tiles() {
        let mut t = MemoryTree::new();
        for i in 0..600u32 {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        let tile1 = tile_data(
            &t,
            TileId {
                level: 1,
                index: 0,
                width: 2,
            },
        )
        .expect("tile");
        let mut level: Vec<Hash> = t.level(0)[..256].to_vec();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
        }
        assert_eq!(&tile1[..32], &level[0]);
        assert_eq!(parse_tile(&tile1).expect("parse").len(), 2);
    }

    #[test]
    fn paths_round_trip_and_bad_paths_fail() {
        for (l, i, w) in [(0u8, 0u64, 256u64), (3, 1_234_067, 12), (63, 999, 255)] {
            assert_eq!(
                parse_path(&tile_path(l, i, w)).expect("parse"),
                (Some(l), i, w)
            );
            assert_eq!(
                parse_path(&entries_path(i, w)).expect("parse"),
                (None, i, w)
            );
        }
        for bad in [
            "tile/0/1",
            "tile/01/000",
            "tile/0/001/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/012",
            "x/0/000",
            "tile/64/000",
            "tile/0/x01/000",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let b = entry_bundle(&entries).expect("bundle");
            prop_assert_eq!(parse_entry_bundle(&b).expect("parse"), entries);
        }

        #[test]
        fn index_paths_parse_back(n in 0u64..u64::MAX / 2) {
            prop_assert_eq!(parse_path(&tile_path(0, n, 256)).expect("parse"), (Some(0), n, 256));
        }
    }

    #[test]
    fn oversized_entries_are_refused() {
        assert!(entry_bundle(&[vec![0u8; 65_536]]).is_err());
        assert!(parse_entry_bundle(&[0, 5, 1]).is_err());
    }
}
