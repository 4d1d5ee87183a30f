//! Reading a safetensors file's header without reading the file: the 8-byte little-endian
//! header length, then the JSON header, validated against the file's size.
//!
//! Guarantees (every input is hostile): the header length is capped at [`MAX_HEADER`] and must
//! fit in the file; every
//! tensor's dtype is known, its element count times the dtype size is its byte length (checked
//! arithmetic), its offsets lie inside the data section, and no two tensors overlap. The header is
//! read into typed entries (unknown members refused), bounded by the cap.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Largest header read (the format's own readers refuse more than 100 MB).
pub const MAX_HEADER: u64 = 100 * 1000 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    #[error("the file is shorter than the 8-byte header length")]
    TooShort,
    #[error("the header is {0} bytes; at most {MAX_HEADER}")]
    HeaderTooLarge(u64),
    #[error("the header of {len} bytes does not fit in a file of {file_len}")]
    HeaderPastEnd { len: u64, file_len: u64 },
    #[error("invalid header: {0}")]
    Invalid(String),
    #[error("tensor {name}: {problem}")]
    Tensor { name: String, problem: String },
}

/// One tensor as the header describes it. Offsets are relative to the data section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorInfo {
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data_offsets: [u64; 2],
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Tensors by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// `__metadata__` (string to string).
    pub metadata: BTreeMap<String, String>,
    /// Where the data section starts in the file (8 + header length).
    pub data_start: u64,
}

impl Header {
    /// Total number of parameters (elements) of all tensors.
    pub fn parameters(&self) -> u64 {
        self.tensors
            .values()
            .map(|t| t.shape.iter().product::<u64>())
            .sum()
    }
}

/// Bytes per element of a dtype, or `None` for one we do not read.
pub fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// The header's length from the file's first 8 bytes, checked against the file's size.
pub fn header_len(first8: &[u8], file_len: u64) -> Result<u64, SafetensorsError> {
    let b: [u8; 8] = first8
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or(SafetensorsError::TooShort)?;
    let len = u64::from_le_bytes(b);
    if len > MAX_HEADER {
        return Err(SafetensorsError::HeaderTooLarge(len));
    }
    if len.checked_add(8).is_none_or(|end| end > file_len) {
        return Err(SafetensorsError::HeaderPastEnd { len, file_len });
    }
    Ok(len)
}

/// The raw map: tensors and `__metadata__` side by side.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Tensor(TensorInfo),
    Metadata(BTreeMap<String, String>),
}

/// Parses and validates the header bytes (what follows the length) of a file of `file_len`.
pub fn parse_header(header: &[u8], file_len: u64) -> Result<Header, SafetensorsError> {
    let invalid = |e: String| SafetensorsError::Invalid(e);
    if header.len() as u64 > MAX_HEADER {
        return Err(SafetensorsError::HeaderTooLarge(header.len() as u64));
    }
    let data_start = 8 + header.len() as u64;
    let data_len = file_len
        .checked_sub(data_start)
        .ok_or(SafetensorsError::HeaderPastEnd {
            len: header.len() as u64,
            file_len,
        })?;
    // Padding after the JSON is allowed (spaces), as the format's writer pads to 8 bytes.
    let text = std::str::from_utf8(header).map_err(|e| invalid(e.to_string()))?;
    if !text.trim_start().starts_with('{') {
        return Err(invalid("the header is not a JSON object".into()));
    }
    let raw: BTreeMap<String, Entry> =
        serde_json::from_str(text.trim_end()).map_err(|e| invalid(e.to_string()))?;
    let mut out = Header {
        data_start,
        ..Header::default()
    };
    for (name, e) in raw {
        match (name.as_str(), e) {
            ("__metadata__", Entry::Metadata(m)) => out.metadata = m,
            ("__metadata__", Entry::Tensor(_)) => {
                return Err(invalid("__metadata__ must map strings to strings".into()));
            }
            (_, Entry::Metadata(_)) => {
                return Err(SafetensorsError::Tensor {
                    name,
                    problem: "not a tensor entry (dtype, shape, data_offsets)".into(),
                });
            }
            (_, Entry::Tensor(t)) => {
                out.tensors.insert(name, t);
            }
        }
    }
    let mut spans: Vec<(u64, u64, &str)> = Vec::with_capacity(out.tensors.len());
    for (name, t) in &out.tensors {
        let bad = |problem: String| SafetensorsError::Tensor {
            name: name.clone(),
            problem,
        };
        let size =
            dtype_size(&t.dtype).ok_or_else(|| bad(format!("unknown dtype {:?}", t.dtype)))?;
        let [begin, end] = t.data_offsets;
        if begin > end || end > data_len {
            return Err(bad(format!(
                "data offsets [{begin}, {end}] outside the data section of {data_len} bytes"
            )));
        }
        let bytes = t
            .shape
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(*d))
            .and_then(|n| n.checked_mul(size))
            .ok_or_else(|| bad("the shape overflows".into()))?;
        if bytes != end - begin {
            return Err(bad(format!(
                "shape {:?} of {} needs {bytes} bytes, the offsets give {}",
                t.shape,
                t.dtype,
                end - begin
            )));
        }
        spans.push((begin, end, name));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(SafetensorsError::Tensor {
                name: w[1].2.to_string(),
                problem: format!("overlaps {}", w[0].2),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header.as_bytes());
        f.extend(std::iter::repeat_n(0u8, data));
        f
    }

    fn read(f: &[u8]) -> Result<Header, SafetensorsError> {
        let len = header_len(f, f.len() as u64)?;
        parse_header(&f[8..8 + len as usize], f.len() as u64)
    }

    #[test]
    fn reads_a_valid_header() {
        let f = file(
            r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}  "#,
            32,
        );
        let h = read(&f).expect("valid");
        assert_eq!(h.tensors.len(), 2);
        assert_eq!(h.parameters(), 10);
        assert_eq!(h.metadata["format"], "pt");
    }

    #[test]
    fn refuses_hostile_headers() {
        let cases = [
            (
                file(
                    r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}}"#,
                    8,
                ),
                "outside",
            ),
            (
                file(
                    r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                    8,
                ),
                "needs 12 bytes",
            ),
            (
                file(
                    r#"{"a":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,8]}}"#,
                    8,
                ),
                "overflows",
            ),
            (
                file(
                    r#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#,
                    8,
                ),
                "unknown dtype",
            ),
            (
                file(
                    r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
                    8,
                ),
                "overlaps",
            ),
            (
                file(
                    r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}"#,
                    8,
                ),
                "invalid",
            ),
            (file(r#"[1,2]"#, 8), "not a JSON object"),
        ];
        for (f, want) in cases {
            let e = read(&f).expect_err("must fail").to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
        let mut huge = (MAX_HEADER + 1).to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(
            header_len(&huge, u64::MAX),
            Err(SafetensorsError::HeaderTooLarge(_))
        ));
        assert!(matches!(
            header_len(&100u64.to_le_bytes(), 50),
            Err(SafetensorsError::HeaderPastEnd { .. })
        ));
        assert!(matches!(
            header_len(&u64::MAX.to_le_bytes(), u64::MAX),
            Err(SafetensorsError::HeaderTooLarge(_))
        ));
        assert_eq!(header_len(b"short", 5), Err(SafetensorsError::TooShort));
    }
}
