//! Splitting a streamed NDJSON body into lines, in linear time and bounded memory.
//!
//! Each byte is scanned for a newline once, however the body is chunked: a 13 MiB line sent in
//! 4 KiB chunks costs 13 MiB of scanning, not 13 MiB per chunk. A line longer than the limit is
//! refused as soon as the buffer passes it.

use bytes::{Buf, BytesMut};

/// A line longer than the limit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

#[derive(Debug)]
pub struct LineBuffer {
    buf: BytesMut,
    /// Bytes at the front of `buf` already known to hold no newline.
    scanned: usize,
    max_line: usize,
    /// Bytes scanned so far (the linear-time guarantee, checked by tests).
    pub scanned_total: u64,
}

impl LineBuffer {
    pub fn new(max_line: usize) -> LineBuffer {
        LineBuffer {
            buf: BytesMut::new(),
            scanned: 0,
            max_line,
            scanned_total: 0,
        }
    }

    /// The next complete line (without its newline), if the buffer holds one.
    pub fn next_line(&mut self) -> Option<BytesMut> {
        let rest = &self.buf[self.scanned..];
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.scanned_total += i as u64 + 1;
                let line = self.buf.split_to(self.scanned + i);
                self.buf.advance(1);
                self.scanned = 0;
                Some(line)
            }
            None => {
                self.scanned_total += rest.len() as u64;
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// Appends a chunk. Call [`LineBuffer::next_line`] until it returns `None` before pushing
    /// more. Fails when the unfinished line is already longer than the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), LineTooLong> {
        // After `next_line` returned `None`, the buffer holds no newline: the first line runs
        // on from it; every line the chunk completes or starts must fit.
        let mut run = self.buf.len();
        for b in chunk {
            if *b == b'\n' {
                if run > self.max_line {
                    return Err(LineTooLong);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        if run > self.max_line {
            return Err(LineTooLong);
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// What is left at the end of the body (a last line without a newline).
    pub fn finish(&mut self) -> BytesMut {
        self.scanned = 0;
        self.buf.split()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut b = LineBuffer::new(16);
        let mut out = Vec::new();
        for c in chunks {
            b.push(c)?;
            while let Some(l) = b.next_line() {
                out.push(l.to_vec());
            }
        }
        out.push(b.finish().to_vec());
        Ok(out)
    }

    #[test]
    fn splits_however_the_body_is_chunked() {
        let want = vec![b"ab".to_vec(), b"".to_vec(), b"cde".to_vec(), b"f".to_vec()];
        assert_eq!(lines(&[b"ab\n\ncde\nf"]).expect("ok"), want);
        assert_eq!(
            lines(&[b"a", b"b\n", b"\nc", b"d", b"e\nf"]).expect("ok"),
            want
        );
        assert_eq!(lines(&[b"0123456789abcdefXYZ"]), Err(LineTooLong));
        assert_eq!(
            lines(&[b"0123456789", b"abcdefXYZ"]),
            Err(LineTooLong),
            "a long line across chunks"
        );
        assert!(lines(&[b"0123456789abcdef\n0123456789abcdef"]).is_ok());
        assert_eq!(
            lines(&[b"ab\n0123456789abcdefXYZ\ncd"]),
            Err(LineTooLong),
            "a long line in the middle of a chunk"
        );
    }

    #[test]
    fn a_long_line_in_small_chunks_is_scanned_once() {
        // F13: 4 MiB arriving in 1 KiB chunks.
        let mut b = LineBuffer::new(8 << 20);
        let chunk = vec![b'x'; 1024];
        for _ in 0..4096 {
            b.push(&chunk).expect("push");
            assert!(b.next_line().is_none());
        }
        b.push(b"\n").expect("push");
        assert_eq!(b.next_line().map(|l| l.len()), Some(4 << 20));
        assert!(
            b.scanned_total <= (4 << 20) + 1,
            "scanned {} bytes for a 4 MiB line",
            b.scanned_total
        );
    }
}
