//! The unsafe-serialization scan: which Python callables a pickle-based file would import when
//! loaded, read at the opcode level without running anything (the Hub's picklescan behaviour).
//!
//! A pickle names code to run through `GLOBAL`, `INST` and `STACK_GLOBAL`; `REDUCE` then calls
//! it. Loading a file whose pickle imports `os.system` runs a shell command. The scan walks every
//! opcode, keeps just enough of the stack and memo to resolve `STACK_GLOBAL`'s two strings, and
//! grades each import: **innocuous** (the safe list: tensor and array rebuilding, containers),
//! **dangerous** (process, file, network, import and evaluation machinery), **suspicious**
//! (anything else, and whatever the scan cannot resolve or finish). Files: a plain pickle, a
//! legacy PyTorch file (several pickles in a row, then raw storage bytes) and a zip archive (the
//! PyTorch format: every `*.pkl` member, nested archives to depth [`MAX_ZIP_DEPTH`]).
//!
//! Guarantees (every input is hostile): time is bounded by [`MAX_OPS`] opcodes per pickle and
//! by the file's length (large arguments are skipped, never held); memory by [`MAX_STACK`],
//! [`MAX_MEMO`], [`MAX_KEPT_STRINGS`] bytes of kept strings, [`MAX_LINE`] per text argument and
//! the archive limits. A scan that stops early says why, and is never graded innocuous: an
//! unfinished scan cannot vouch for the bytes it did not read. An import whose strings could not
//! be resolved is graded dangerous.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};

/// Bumped whenever a verdict could change; stored verdicts of older scanners are redone.
pub const SCANNER_VERSION: i64 = 1;
/// Opcodes read from one file (all its pickles and archive members) before the scan stops.
pub const MAX_OPS: u64 = 50_000_000;
/// Stack entries (marks included).
pub const MAX_STACK: usize = 1_000_000;
/// Memo entries.
pub const MAX_MEMO: usize = 1_000_000;
/// Bytes of string values kept to resolve `STACK_GLOBAL`; past it strings are forgotten (and an
/// import built from a forgotten string is unresolved, hence dangerous).
pub const MAX_KEPT_STRINGS: usize = 16 << 20;
/// Longest string kept (a module or attribute name is far shorter).
pub const MAX_KEPT_STRING: usize = 1024;
/// Longest text argument (protocol 0 lines).
pub const MAX_LINE: usize = 64 << 10;
/// Pickles read from one stream (legacy PyTorch files hold five; raw data follows).
pub const MAX_PICKLES: usize = 5;
/// Distinct imports reported per file.
pub const MAX_IMPORTS: usize = 256;
/// Archive members and central-directory size.
pub const MAX_ZIP_MEMBERS: u64 = 100_000;
pub const MAX_ZIP_DIRECTORY: u64 = 64 << 20;
/// Bytes read (decompressed) from all the members of one file's archives together.
pub const MAX_MEMBER: u64 = 1 << 30;
/// Largest nested archive scanned (it is read into memory to be opened).
pub const MAX_NESTED_ZIP: u64 = 64 << 20;
pub const MAX_ZIP_DEPTH: u32 = 2;

/// How dangerous an import is; ordered, so the highest is the file's grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    Innocuous,
    Suspicious,
    Dangerous,
}

impl Safety {
    pub fn as_str(self) -> &'static str {
        match self {
            Safety::Innocuous => "innocuous",
            Safety::Suspicious => "suspicious",
            Safety::Dangerous => "dangerous",
        }
    }
    /// The Hub's file status for this grade.
    pub fn status(self) -> &'static str {
        match self {
            Safety::Innocuous => "safe",
            Safety::Suspicious => "suspicious",
            Safety::Dangerous => "unsafe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub safety: Safety,
}

/// What a scan found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Report {
    /// Distinct imports, sorted (at most [`MAX_IMPORTS`]).
    pub imports: Vec<Import>,
    /// Why the scan stopped before the end, if it did (the grade is then at least suspicious).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Pickles read.
    pub pickles: u32,
}

impl Report {
    /// The file's grade: the most dangerous import, at least suspicious when unfinished.
    pub fn safety(&self) -> Safety {
        let top = self
            .imports
            .iter()
            .map(|i| i.safety)
            .max()
            .unwrap_or(Safety::Innocuous);
        if self.incomplete.is_some() {
            top.max(Safety::Suspicious)
        } else {
            top
        }
    }
}

/// Extensions of pickle-based formats (PyTorch, joblib, plain pickle, zip archives of them).
const PICKLE_EXTENSIONS: &[&str] = &[
    "bin", "pt", "pth", "ckpt", "pkl", "pickle", "joblib", "dat", "data", "zip", "npz", "npy",
    "mar", "sav", "tar",
];

/// Whether a file is scanned: by its extension, or by its first bytes (a pickle `PROTO` opcode
/// or a zip signature), so a renamed pickle is scanned too.
pub fn wants_scan(path: &str, head: &[u8]) -> bool {
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    ext.is_some_and(|e| PICKLE_EXTENSIONS.contains(&e.as_str()))
        || matches!(sniff(head), Some(Kind::Pickle | Kind::Zip | Kind::Npy))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pickle,
    Zip,
    /// A NumPy `.npy` array (an object array is a pickle after its header).
    Npy,
    Gzip,
    Zlib,
    /// A container the scan cannot open (another compression, a tar).
    Opaque(&'static str),
}

/// What the first bytes say (up to 512: a tar header).
fn sniff(head: &[u8]) -> Option<Kind> {
    Some(match head {
        [0x80, 2..=5, ..] => Kind::Pickle,
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Kind::Zip,
        [0x93, b'N', b'U', b'M', b'P', b'Y', ..] => Kind::Npy,
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x78, b, ..] if (0x78u16 * 256 + *b as u16).is_multiple_of(31) => Kind::Zlib,
        [b'B', b'Z', b'h', ..] => Kind::Opaque("bzip2-compressed"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Kind::Opaque("xz-compressed"),
        [0x5d, 0, 0, ..] => Kind::Opaque("lzma-compressed"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Kind::Opaque("lz4-compressed"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Kind::Opaque("zstd-compressed"),
        _ if is_tar(head) => Kind::Opaque("a tar archive (the legacy PyTorch format)"),
        _ => return None,
    })
}

/// A tar header: its checksum (bytes 148..156, octal) is the sum of the header's bytes with
/// that field read as spaces (old tars have no `ustar` magic, and Python's tarfile reads them).
fn is_tar(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    let field = &head[148..156];
    let digits: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| c.is_ascii_digit())
        .collect();
    let Ok(want) = u64::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u64
            }
        })
        .sum();
    !digits.is_empty() && sum == want
}

/// Scans a whole file (a pickle stream, a legacy PyTorch file, a zip archive, a NumPy array, a
/// gzip or zlib stream of any of these).
pub fn scan_file<R: Read + Seek>(mut file: R) -> Report {
    let mut out = Findings::default();
    let mut head = [0u8; 512];
    let n = match read_head(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => {
            out.stop(format!("reading the file: {e}"));
            return out.report();
        }
    };
    if let Err(e) = file.seek(SeekFrom::Start(0)) {
        out.stop(format!("reading the file: {e}"));
        return out.report();
    }
    match sniff(&head[..n]) {
        Some(Kind::Zip) => scan_zip(file, 0, &mut out),
        Some(Kind::Npy) => scan_npy(&mut Seeking(BufReader::new(file)), &mut out),
        Some(k) => scan_stream_of(k, file, 0, &mut out),
        None => scan_stream(&mut Seeking(BufReader::new(file)), &mut out),
    }
    out.report()
}

/// A stream of kind `k` that is read forward only (a decompressed stream, an archive member).
fn scan_stream_of<R: Read>(k: Kind, r: R, depth: u32, out: &mut Findings) {
    let left = MAX_MEMBER.saturating_sub(out.unpacked);
    match k {
        Kind::Pickle => scan_stream(&mut Streaming(BufReader::new(r.take(left)), 0), out),
        Kind::Npy => scan_npy(&mut Streaming(BufReader::new(r.take(left)), 0), out),
        Kind::Gzip | Kind::Zlib if depth >= MAX_ZIP_DEPTH => {
            out.stop(format!("compressed more than {MAX_ZIP_DEPTH} levels deep"))
        }
        Kind::Gzip | Kind::Zlib => {
            let mut inner: Box<dyn Read> = if k == Kind::Gzip {
                Box::new(flate2::read::MultiGzDecoder::new(r))
            } else {
                Box::new(flate2::read::ZlibDecoder::new(r))
            };
            let mut head = [0u8; 512];
            let n = match read_head(&mut inner, &mut head) {
                Ok(n) => n,
                Err(e) => return out.stop(format!("decompressing: {e}")),
            };
            let rest = io::Cursor::new(head[..n].to_vec()).chain(inner);
            match sniff(&head[..n]) {
                Some(Kind::Zip) => out.stop("a zip archive inside a compressed stream".into()),
                Some(k) => scan_stream_of(k, rest, depth + 1, out),
                None => scan_stream(&mut Streaming(BufReader::new(rest.take(left)), 0), out),
            }
        }
        Kind::Opaque(what) => out.stop(format!("{what}: not scanned")),
        Kind::Zip => out.stop("a zip archive inside a stream".into()),
    }
}

/// A NumPy array: an object array's data is a pickle after the header.
fn scan_npy<S: Source>(src: &mut S, out: &mut Findings) {
    let mut pre = [0u8; 8];
    if src.read_exact(&mut pre).is_err() {
        return out.stop("a truncated NumPy header".into());
    }
    let len = match pre[6] {
        1 => le(src, 2),
        2 | 3 => le(src, 4),
        v => return out.stop(format!("NumPy format version {v}")),
    };
    let len = match len {
        Ok(l) if l <= MAX_LINE as u64 * 16 => l as usize,
        _ => return out.stop("a NumPy header too long or truncated".into()),
    };
    let mut header = vec![0u8; len];
    if src.read_exact(&mut header).is_err() {
        return out.stop("a truncated NumPy header".into());
    }
    let text = String::from_utf8_lossy(&header);
    if text.contains("O'") || text.contains("O\"") {
        scan_stream(src, out);
        if out.pickles == 0 && out.incomplete.is_none() {
            out.stop("an object array whose data is not a pickle".into());
        }
    }
}

fn read_head<R: Read + ?Sized>(r: &mut R, head: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// What a scan has found so far, across pickles and archive members.
#[derive(Default)]
struct Findings {
    /// Opcodes read so far (the budget is per file).
    ops: u64,
    /// Decompressed archive bytes read so far (the budget is per file).
    unpacked: u64,
    imports: BTreeSet<Import>,
    incomplete: Option<String>,
    pickles: u32,
}

impl Findings {
    fn import(&mut self, module: &str, name: &str) {
        let i = Import {
            module: module.to_string(),
            name: name.to_string(),
            safety: grade(module, name),
        };
        if self.imports.len() < MAX_IMPORTS {
            self.imports.insert(i);
        } else if !self.imports.contains(&i) {
            // Past the cap, the grade still counts: keep the most dangerous seen.
            if i.safety == Safety::Dangerous
                && let Some(weakest) = self
                    .imports
                    .iter()
                    .find(|x| x.safety != Safety::Dangerous)
                    .cloned()
            {
                self.imports.remove(&weakest);
                self.imports.insert(i);
            }
        }
    }
    fn unresolved(&mut self, what: &str) {
        self.import("?", &format!("? ({what} with unresolved operands)"));
    }
    fn stop(&mut self, why: String) {
        if self.incomplete.is_none() {
            self.incomplete = Some(why);
        }
    }
    fn report(self) -> Report {
        Report {
            imports: self.imports.into_iter().collect(),
            incomplete: self.incomplete,
            pickles: self.pickles,
        }
    }
}

/// A byte source the pickle reader can skip over: by seeking in a file, by reading and
/// discarding in an archive member.
trait Source: BufRead {
    /// Skips `n` bytes; false if the stream ended first.
    fn skip(&mut self, n: u64) -> io::Result<bool>;
}

struct Seeking<R>(BufReader<R>);

impl<R: Read> Read for Seeking<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
impl<R: Read> BufRead for Seeking<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.0.consume(amt)
    }
}
impl<R: Read + Seek> Source for Seeking<R> {
    fn skip(&mut self, n: u64) -> io::Result<bool> {
        let buffered = self.0.buffer().len() as u64;
        if n <= buffered {
            self.0.consume(n as usize);
            return Ok(true);
        }
        let here = self.0.stream_position()?;
        let end = self.0.seek(SeekFrom::End(0))?;
        let Some(target) = here.checked_add(n).filter(|t| *t <= end) else {
            return Ok(false);
        };
        self.0.seek(SeekFrom::Start(target))?;
        Ok(true)
    }
}

/// A forward-only source; `.1` counts the bytes it consumed (for the per-file budget).
struct Streaming<R>(BufReader<R>, u64);

impl<R: Read> Read for Streaming<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1 += n as u64;
        Ok(n)
    }
}
impl<R: Read> BufRead for Streaming<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.1 += amt as u64;
        self.0.consume(amt)
    }
}
impl<R: Read> Source for Streaming<R> {
    fn skip(&mut self, n: u64) -> io::Result<bool> {
        let k = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        self.1 += k;
        Ok(k == n)
    }
}

/// Reads the pickles of one stream, as many as a loader reads: `pickle.load` reads one, a
/// legacy PyTorch file holds five (magic number, protocol, system info, the object, the storage
/// keys) followed by raw storage bytes, which are never parsed. Where a pickle could start,
/// the end of the stream or a byte that is no opcode ends the walk (no loader runs anything
/// there); a pickle that starts and does not parse to its end makes the scan incomplete.
fn scan_stream<S: Source>(src: &mut S, out: &mut Findings) {
    for _ in 0..MAX_PICKLES {
        match src.fill_buf() {
            Ok([]) => return,
            Ok(_) => {}
            Err(e) => return out.stop(format!("reading: {e}")),
        }
        let mut vm = Machine {
            ops: out.ops,
            ..Machine::default()
        };
        let result = vm.run(src);
        out.ops = vm.ops;
        // Imports count even from a pickle that fails part way: Python runs what it has
        // read before it fails.
        vm.flush(out);
        match result {
            Ok(()) => out.pickles += 1,
            Err(Stop::NotPickle) => return,
            Err(Stop::Format(why)) | Err(Stop::Limit(why)) => return out.stop(why),
        }
    }
}

enum Stop {
    /// The first byte is not an opcode: not a pickle (nothing would run).
    NotPickle,
    /// The bytes are not a well-formed pickle (truncated, unknown opcode, bad argument).
    Format(String),
    /// A scan limit was reached.
    Limit(String),
}

fn bad(why: impl Into<String>) -> Stop {
    Stop::Format(why.into())
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad("truncated")
        } else {
            bad(format!("reading: {e}"))
        }
    }
}

#[derive(Debug, Clone)]
enum Val {
    Mark,
    /// Shared, so a copy (DUP, memo) costs no memory: only distinct strings count against
    /// [`MAX_KEPT_STRINGS`].
    Str(std::rc::Rc<str>),
    Other,
}

/// Just enough of the pickle machine to resolve `STACK_GLOBAL`.
#[derive(Default)]
struct Machine {
    stack: Vec<Val>,
    memo: HashMap<u64, Val>,
    kept: usize,
    ops: u64,
    found: Vec<(String, String)>,
    unresolved: u32,
    implausible: u32,
}

impl Machine {
    fn flush(&mut self, out: &mut Findings) {
        for (m, n) in self.found.drain(..) {
            out.import(&m, &n);
        }
        if self.unresolved > 0 {
            out.unresolved("STACK_GLOBAL");
        }
        if self.implausible > 0 {
            out.unresolved("an import with a name outside Python's identifiers");
        }
    }

    fn push(&mut self, v: Val) -> Result<(), Stop> {
        if self.stack.len() >= MAX_STACK {
            return Err(Stop::Limit(format!("more than {MAX_STACK} stack entries")));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Val, Stop> {
        match self.stack.pop() {
            Some(Val::Mark) | None => Err(bad("stack underflow")),
            Some(v) => Ok(v),
        }
    }

    fn pop_n(&mut self, n: usize) -> Result<(), Stop> {
        for _ in 0..n {
            self.pop()?;
        }
        Ok(())
    }

    fn pop_mark(&mut self) -> Result<(), Stop> {
        loop {
            match self.stack.pop() {
                Some(Val::Mark) => return Ok(()),
                Some(_) => {}
                None => return Err(bad("no mark on the stack")),
            }
        }
    }

    fn top(&self) -> Result<Val, Stop> {
        match self.stack.last() {
            Some(Val::Mark) | None => Err(bad("empty stack")),
            Some(v) => Ok(v.clone()),
        }
    }

    fn memo_put(&mut self, key: u64) -> Result<(), Stop> {
        let v = self.top()?;
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return Err(Stop::Limit(format!("more than {MAX_MEMO} memo entries")));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), Stop> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| bad(format!("memo entry {key} is not set")))?;
        self.push(v)
    }

    /// A string value, kept if small and within the budget.
    fn string(&mut self, bytes: Vec<u8>) -> Val {
        match String::from_utf8(bytes) {
            Ok(s) if s.len() <= MAX_KEPT_STRING && self.kept + s.len() <= MAX_KEPT_STRINGS => {
                self.kept += s.len();
                Val::Str(std::rc::Rc::from(s))
            }
            _ => Val::Other,
        }
    }

    /// A string argument of `len` bytes: read when it could be a name, skipped otherwise.
    fn string_arg<S: Source>(&mut self, src: &mut S, len: u64) -> Result<(), Stop> {
        let v = if len <= MAX_KEPT_STRING as u64 {
            let mut b = vec![0u8; len as usize];
            src.read_exact(&mut b)?;
            self.string(b)
        } else {
            skip(src, len)?;
            Val::Other
        };
        self.push(v)
    }

    /// An import. A name Python could not import is still recorded, as unresolved (graded
    /// dangerous), so no name is ever dropped; only a pickle after the first may be raw data,
    /// and there an implausible name means the bytes are not a pickle.
    fn record(&mut self, module: &str, name: &str) {
        if plausible(module) && plausible(name) {
            self.found.push((module.to_string(), name.to_string()));
        } else {
            self.implausible += 1;
        }
    }

    fn run<S: Source>(&mut self, src: &mut S) -> Result<(), Stop> {
        loop {
            self.ops += 1;
            if self.ops > MAX_OPS {
                return Err(Stop::Limit(format!("more than {MAX_OPS} opcodes")));
            }
            let op = byte(src)?;
            match op {
                b'.' => return Ok(()),         // STOP
                b'(' => self.push(Val::Mark)?, // MARK
                b'0' => {
                    // POP: with a mark on top, Python pops the mark.
                    if matches!(self.stack.last(), Some(Val::Mark)) {
                        self.stack.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => self.pop_mark()?, // POP_MARK
                b'2' => {
                    let v = self.top()?; // DUP
                    self.push(v)?;
                }
                b'F' | b'I' | b'L' => {
                    line(src)?; // FLOAT, INT, LONG
                    self.push(Val::Other)?;
                }
                b'J' => fixed(src, 4, self)?, // BININT
                b'K' => fixed(src, 1, self)?, // BININT1
                b'M' => fixed(src, 2, self)?, // BININT2
                b'G' => fixed(src, 8, self)?, // BINFLOAT
                b'N' | b'}' | b']' | b')' | 0x88 | 0x89 | 0x8f => self.push(Val::Other)?,
                b'P' => {
                    line(src)?; // PERSID
                    self.push(Val::Other)?;
                }
                b'Q' | 0x98 => {
                    self.pop()?; // BINPERSID, READONLY_BUFFER
                    self.push(Val::Other)?;
                }
                b'R' | 0x81 => {
                    self.pop_n(2)?; // REDUCE, NEWOBJ
                    self.push(Val::Other)?;
                }
                0x92 => {
                    self.pop_n(3)?; // NEWOBJ_EX
                    self.push(Val::Other)?;
                }
                b'S' => {
                    // STRING: a quoted repr.
                    let l = line(src)?;
                    let v = unquote(&l).map(|s| self.string(s)).unwrap_or(Val::Other);
                    self.push(v)?;
                }
                b'V' => {
                    // UNICODE: raw-unicode-escape; names never need an escape.
                    let l = line(src)?;
                    let v = if l.contains(&b'\\') {
                        Val::Other
                    } else {
                        self.string(l)
                    };
                    self.push(v)?;
                }
                b'T' | b'X' => {
                    let n = le(src, 4)?; // BINSTRING, BINUNICODE
                    self.string_arg(src, n)?;
                }
                b'U' | 0x8c => {
                    let n = le(src, 1)?; // SHORT_BINSTRING, SHORT_BINUNICODE
                    self.string_arg(src, n)?;
                }
                0x8d => {
                    let n = le(src, 8)?; // BINUNICODE8
                    self.string_arg(src, n)?;
                }
                0x8a => bytes_arg(src, 1, self)?,        // LONG1
                0x8b => bytes_arg(src, 4, self)?,        // LONG4
                b'B' => bytes_arg(src, 4, self)?,        // BINBYTES
                b'C' => bytes_arg(src, 1, self)?,        // SHORT_BINBYTES
                0x8e | 0x96 => bytes_arg(src, 8, self)?, // BINBYTES8, BYTEARRAY8
                0x97 => self.push(Val::Other)?,          // NEXT_BUFFER
                b'a' | b'b' => self.pop_n(1)?,           // APPEND, BUILD
                b's' => self.pop_n(2)?,                  // SETITEM
                b'e' | b'u' | 0x90 => self.pop_mark()?,  // APPENDS, SETITEMS, ADDITEMS
                b'd' | b'l' | b't' | b'o' | 0x91 => {
                    self.pop_mark()?; // DICT, LIST, TUPLE, OBJ, FROZENSET
                    self.push(Val::Other)?;
                }
                0x85 => {
                    self.pop_n(1)?; // TUPLE1
                    self.push(Val::Other)?;
                }
                0x86 => {
                    self.pop_n(2)?; // TUPLE2
                    self.push(Val::Other)?;
                }
                0x87 => {
                    self.pop_n(3)?; // TUPLE3
                    self.push(Val::Other)?;
                }
                b'c' => {
                    // GLOBAL module\nname\n
                    let (m, n) = (text_line(src)?, text_line(src)?);
                    self.record(&m, &n);
                    self.push(Val::Other)?;
                }
                b'i' => {
                    // INST module\nname\n, then the arguments down to the mark
                    let (m, n) = (text_line(src)?, text_line(src)?);
                    self.record(&m, &n);
                    self.pop_mark()?;
                    self.push(Val::Other)?;
                }
                0x93 => {
                    // STACK_GLOBAL: module and name are the two topmost values.
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Val::Str(m), Val::Str(n)) => self.record(&m, &n),
                        _ => self.unresolved += 1,
                    }
                    self.push(Val::Other)?;
                }
                0x82..=0x84 => {
                    // EXT1, EXT2, EXT4: a callable from the copyreg extension registry.
                    le(src, [1, 2, 4][(op - 0x82) as usize])?;
                    self.found
                        .push(("copyreg".into(), "extension registry".into()));
                    self.push(Val::Other)?;
                }
                b'g' => {
                    let k = number_line(src)?; // GET
                    self.memo_get(k)?;
                }
                b'h' => {
                    let k = le(src, 1)?; // BINGET
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = le(src, 4)?; // LONG_BINGET
                    self.memo_get(k)?;
                }
                b'p' => {
                    let k = number_line(src)?; // PUT
                    self.memo_put(k)?;
                }
                b'q' => {
                    let k = le(src, 1)?; // BINPUT
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = le(src, 4)?; // LONG_BINPUT
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64; // MEMOIZE
                    self.memo_put(k)?;
                }
                0x80 => {
                    let p = byte(src)?; // PROTO
                    if p > 5 {
                        return Err(bad(format!("unknown protocol {p}")));
                    }
                }
                0x95 => {
                    le(src, 8)?; // FRAME: a length hint only
                }
                // Not an opcode at all where a pickle starts: `pickle.load` refuses the first
                // byte and runs nothing.
                _ if self.ops == 1 => return Err(Stop::NotPickle),
                _ => return Err(bad(format!("unknown opcode 0x{op:02x}"))),
            }
        }
    }
}

fn byte<S: Source>(src: &mut S) -> Result<u8, Stop> {
    let mut b = [0u8; 1];
    src.read_exact(&mut b)?;
    Ok(b[0])
}

fn le<S: Source>(src: &mut S, n: usize) -> Result<u64, Stop> {
    let mut b = [0u8; 8];
    src.read_exact(&mut b[..n])?;
    Ok(u64::from_le_bytes(b))
}

fn skip<S: Source>(src: &mut S, n: u64) -> Result<(), Stop> {
    if src.skip(n)? {
        Ok(())
    } else {
        Err(bad("truncated"))
    }
}

fn fixed<S: Source>(src: &mut S, n: u64, vm: &mut Machine) -> Result<(), Stop> {
    skip(src, n)?;
    vm.push(Val::Other)
}

fn bytes_arg<S: Source>(src: &mut S, width: usize, vm: &mut Machine) -> Result<(), Stop> {
    let n = le(src, width)?;
    skip(src, n)?;
    vm.push(Val::Other)
}

/// A newline-terminated argument, at most [`MAX_LINE`] bytes.
fn line<S: Source>(src: &mut S) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    let n = (&mut *src)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut out)?;
    if out.last() != Some(&b'\n') {
        return Err(if n > MAX_LINE {
            bad(format!("a text argument longer than {MAX_LINE} bytes"))
        } else {
            bad("truncated")
        });
    }
    out.pop();
    Ok(out)
}

fn text_line<S: Source>(src: &mut S) -> Result<String, Stop> {
    String::from_utf8(line(src)?).map_err(|_| bad("a module or name that is not UTF-8"))
}

/// A memo index as Python's `int()` reads it: surrounding whitespace, a sign, and single
/// underscores between digits. Negative keys are distinct keys (the memo is a dict).
fn number_line<S: Source>(src: &mut S) -> Result<u64, Stop> {
    let l = line(src)?;
    let text = std::str::from_utf8(&l).map_err(|_| bad("a memo index that is not text"))?;
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let ok = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    let n: i128 = ok
        .then(|| digits.replace('_', "").parse().ok())
        .flatten()
        .ok_or_else(|| bad("a memo index that is not a number"))?;
    let n = if neg { -n } else { n };
    Ok(n as u64)
}

/// `'text'` or `"text"` without escapes (a name never needs one).
fn unquote(l: &[u8]) -> Option<Vec<u8>> {
    let (q, rest) = l.split_first()?;
    let (last, body) = rest.split_last()?;
    ((*q == b'\'' || *q == b'"') && last == q && !body.contains(&b'\\')).then(|| body.to_vec())
}

/// A module or attribute name Python could import: dotted identifiers, no spaces or controls.
/// Bytes that merely happen to parse (raw data after the last pickle) are not names.
fn plausible(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut c = part.chars();
            c.next().is_some_and(|f| f == '_' || f.is_alphabetic())
                && c.all(|ch| ch == '_' || ch.is_alphanumeric())
        })
}

/// Modules whose every member is dangerous (processes, files, network, import and evaluation).
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "pydoc",
    "platform",
    "uuid",
    "sqlite3",
    "ssl",
    "tarfile",
    "zipfile",
    "logging",
    "ensurepip",
    "venv",
    "idlelib",
    "doctest",
    "unittest",
    "inspect",
    "gc",
    "weakref",
    "builtins.__import__",
    "torch.utils.collect_env",
    "torch._dynamo",
    "torch._inductor",
    "torch.fx",
    "torch.package",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "socket",
    "shutil",
    "runpy",
    "webbrowser",
    "pty",
    "commands",
    "pickle",
    "_pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "joblib",
    "marshal",
    "importlib",
    "imp",
    "ctypes",
    "code",
    "codeop",
    "pdb",
    "bdb",
    "timeit",
    "profile",
    "cProfile",
    "trace",
    "multiprocessing",
    "asyncio",
    "threading",
    "_thread",
    "signal",
    "requests",
    "httplib",
    "http",
    "urllib",
    "urllib2",
    "urllib3",
    "aiohttp",
    "httpx",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "socketserver",
    "pip",
    "setuptools",
    "distutils",
    "site",
    "sysconfig",
    "types",
    "io",
    "_io",
    "tempfile",
    "glob",
    "pathlib",
    "zipimport",
    "torch.hub",
    "torch.serialization",
    "torch.jit",
    "torch.ops",
    "torch._ops",
    "torch.utils.cpp_extension",
    "numpy.testing",
    "numpy.distutils",
    "numpy.f2py",
    "functools",
];

/// Builtins that evaluate, import, open or reach attributes.
const DANGEROUS_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "execfile",
    "compile",
    "open",
    "getattr",
    "setattr",
    "delattr",
    "__import__",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "exit",
    "quit",
    "help",
    "apply",
    "reload",
    "memoryview",
    "type",
    "super",
    "classmethod",
    "staticmethod",
    "property",
];

/// The safe list: what tensor, array and container rebuilding needs.
fn innocuous(module: &str, name: &str) -> bool {
    match module {
        "collections" => matches!(name, "OrderedDict" | "defaultdict" | "deque" | "Counter"),
        "builtins" | "__builtin__" => matches!(
            name,
            "set"
                | "frozenset"
                | "slice"
                | "range"
                | "complex"
                | "bytearray"
                | "bytes"
                | "dict"
                | "list"
                | "tuple"
                | "int"
                | "float"
                | "str"
                | "bool"
                | "object"
        ),
        "_codecs" => name == "encode",
        "copyreg" | "copy_reg" => name == "_reconstructor",
        "argparse" => name == "Namespace",
        "torch" => {
            name.ends_with("Storage")
                || matches!(
                    name,
                    "Size"
                        | "device"
                        | "dtype"
                        | "float32"
                        | "float"
                        | "float16"
                        | "half"
                        | "bfloat16"
                        | "float64"
                        | "double"
                        | "int64"
                        | "long"
                        | "int32"
                        | "int"
                        | "int16"
                        | "short"
                        | "int8"
                        | "uint8"
                        | "uint16"
                        | "uint32"
                        | "uint64"
                        | "bool"
                        | "complex64"
                        | "complex128"
                        | "float8_e4m3fn"
                        | "float8_e5m2"
                        | "float8_e4m3fnuz"
                        | "float8_e5m2fnuz"
                        | "contiguous_format"
                        | "channels_last"
                        | "channels_last_3d"
                        | "preserve_format"
                        | "per_tensor_affine"
                        | "per_channel_affine"
                        | "strided"
                        | "sparse_coo"
                )
        }
        "torch._utils" => matches!(
            name,
            "_rebuild_tensor"
                | "_rebuild_tensor_v2"
                | "_rebuild_tensor_v3"
                | "_rebuild_parameter"
                | "_rebuild_parameter_with_state"
                | "_rebuild_qtensor"
                | "_rebuild_sparse_tensor"
                | "_rebuild_meta_tensor_no_storage"
                | "_rebuild_nested_tensor"
                | "_rebuild_wrapper_subclass"
        ),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch.nn.parameter" => name == "Parameter",
        "numpy.core.multiarray" | "numpy._core.multiarray" => {
            matches!(name, "_reconstruct" | "scalar")
        }
        "numpy.core.numeric" | "numpy._core.numeric" => name == "_frombuffer",
        "numpy" => matches!(name, "ndarray" | "dtype"),
        "numpy.dtypes" => name.ends_with("DType"),
        _ => false,
    }
}

/// Grades one import.
pub fn grade(module: &str, name: &str) -> Safety {
    if innocuous(module, name) {
        return Safety::Innocuous;
    }
    let dangerous_module = DANGEROUS_MODULES.iter().any(|d| {
        module == *d
            || module
                .strip_prefix(d)
                .is_some_and(|rest| rest.starts_with('.'))
    });
    let builtin = matches!(module, "builtins" | "__builtin__" | "__builtins__");
    // A dotted name walks attributes from the module (protocol 4 and later): `argparse` +
    // `_os.system` reaches `os.system`. Only the safe list's exact names are trusted.
    let dangerous = dangerous_module
        || name.contains('.')
        || module == "?"
        || (builtin && DANGEROUS_BUILTINS.contains(&name))
        || (module == "operator" && matches!(name, "attrgetter" | "itemgetter" | "methodcaller"))
        || (module.starts_with("numpy") && name == "load")
        || (module == "torch" && matches!(name, "load" | "save" | "compile"));
    if dangerous {
        Safety::Dangerous
    } else {
        Safety::Suspicious
    }
}

fn scan_zip<R: Read + Seek>(mut file: R, depth: u32, out: &mut Findings) {
    if let Err(why) = directory_bounds(&mut file) {
        return out.stop(why);
    }
    let mut z = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => return out.stop(format!("the archive does not open: {e}")),
    };
    for i in 0..z.len() {
        if out.unpacked >= MAX_MEMBER {
            return out.stop(format!(
                "the archives hold more than {MAX_MEMBER} bytes to scan"
            ));
        }
        let mut member = match z.by_index(i) {
            Ok(m) => m,
            Err(e) => return out.stop(format!("archive member {i}: {e}")),
        };
        let mut two_names = false;
        // PyTorch's reader (miniz) reads the raw name and ignores an Info-ZIP Unicode-path
        // field; this reader replaces the name with it. A member carrying one could be named
        // two ways, so the archive is not vouched for.
        if member
            .extra_data_fields()
            .any(|f| matches!(f, zip::extra_fields::ExtraField::UnicodePath(_)))
            || member
                .extra_data()
                .is_some_and(|raw| has_unicode_path(&raw))
        {
            out.stop(format!(
                "archive member {i} carries a second name (a Unicode-path field)"
            ));
            two_names = true;
        }
        let shown = String::from_utf8_lossy(member.name_raw()).into_owned();
        let name = shown.to_ascii_lowercase();
        let size = member.size();
        let mut head = [0u8; 8];
        let n = match read_head(&mut member, &mut head) {
            Ok(n) => n,
            Err(e) => {
                out.stop(format!("archive member {shown}: {e}"));
                continue;
            }
        };
        out.unpacked += n as u64;
        let kind = sniff(&head[..n]);
        // A member with two names is read as a pickle whatever it is called.
        let by_name_pickle = name.ends_with(".pkl") || name.ends_with(".pickle") || two_names;
        if kind == Some(Kind::Zip) || is_nested_archive(&name) {
            if depth + 1 > MAX_ZIP_DEPTH {
                out.stop(format!(
                    "archive member {shown} nests archives deeper than {MAX_ZIP_DEPTH}"
                ));
                continue;
            }
            if size > MAX_NESTED_ZIP {
                out.stop(format!(
                    "nested archive {shown} is larger than {MAX_NESTED_ZIP} bytes"
                ));
                continue;
            }
            let mut bytes = head[..n].to_vec();
            if let Err(e) = (&mut member).take(MAX_NESTED_ZIP).read_to_end(&mut bytes) {
                out.stop(format!("archive member {shown}: {e}"));
                continue;
            }
            out.unpacked += bytes.len() as u64;
            match sniff(&bytes) {
                Some(Kind::Zip) => scan_zip(io::Cursor::new(bytes), depth + 1, out),
                Some(Kind::Npy) => {
                    scan_npy(&mut Seeking(BufReader::new(io::Cursor::new(bytes))), out)
                }
                Some(k) => scan_stream_of(k, io::Cursor::new(bytes), depth + 1, out),
                None => scan_stream(&mut Seeking(BufReader::new(io::Cursor::new(bytes))), out),
            }
        } else if by_name_pickle
            || kind == Some(Kind::Npy)
            || matches!(kind, Some(Kind::Gzip | Kind::Zlib))
        {
            // Pickles by name (a tensor's raw bytes may look like anything), arrays and
            // compressed streams by their signature.
            let left = MAX_MEMBER.saturating_sub(out.unpacked);
            let mut src = Streaming(
                BufReader::new(
                    io::Cursor::new(head[..n].to_vec())
                        .chain(&mut member)
                        .take(left),
                ),
                0,
            );
            match kind {
                Some(Kind::Npy) => scan_npy(&mut src, out),
                Some(k @ (Kind::Gzip | Kind::Zlib)) if !by_name_pickle => {
                    scan_stream_of(k, &mut src, depth + 1, out)
                }
                _ => scan_stream(&mut src, out),
            }
            out.unpacked += src.1.saturating_sub(n as u64);
            if size > left {
                out.stop(format!(
                    "archive member {shown} is larger than the {MAX_MEMBER} bytes scanned"
                ));
            }
        }
    }
}

/// Whether extra-field data holds an Info-ZIP Unicode-path field (0x7075).
fn has_unicode_path(mut extra: &[u8]) -> bool {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = u16::from_le_bytes([extra[2], extra[3]]) as usize;
        if id == 0x7075 {
            return true;
        }
        extra = extra.get(4 + len..).unwrap_or_default();
    }
    false
}

fn is_nested_archive(name: &str) -> bool {
    [".zip", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".mar"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// Refuses an archive whose central directory is larger than [`MAX_ZIP_DIRECTORY`] or lists
/// more than [`MAX_ZIP_MEMBERS`], before a reader holds the directory in memory.
fn directory_bounds<R: Read + Seek>(file: &mut R) -> Result<(), String> {
    let io = |e: io::Error| format!("reading the archive: {e}");
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    let tail_len = len.min(22 + 65_535);
    file.seek(SeekFrom::Start(len - tail_len)).map_err(io)?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
    else {
        return Err("the archive has no end-of-directory record".into());
    };
    let u16_at = |o: usize| u16::from_le_bytes([tail[at + o], tail[at + o + 1]]) as u64;
    let u32_at = |o: usize| {
        u32::from_le_bytes([
            tail[at + o],
            tail[at + o + 1],
            tail[at + o + 2],
            tail[at + o + 3],
        ]) as u64
    };
    let (mut entries, mut size) = (u16_at(10), u32_at(12));
    if entries == 0xffff || size == 0xffff_ffff {
        // Zip64: the locator sits just before the record and points at the zip64 record.
        let loc = (len - tail_len) + at as u64;
        if loc < 20 {
            return Err("a zip64 archive without its locator".into());
        }
        let mut l = [0u8; 20];
        file.seek(SeekFrom::Start(loc - 20)).map_err(io)?;
        file.read_exact(&mut l).map_err(io)?;
        if &l[..4] != b"PK\x06\x07" {
            return Err("a zip64 archive without its locator".into());
        }
        let rec = u64::from_le_bytes(l[8..16].try_into().map_err(|_| "locator")?);
        let mut r = [0u8; 56];
        file.seek(SeekFrom::Start(rec)).map_err(io)?;
        file.read_exact(&mut r).map_err(io)?;
        if &r[..4] != b"PK\x06\x06" {
            return Err("the zip64 end-of-directory record is missing".into());
        }
        entries = u64::from_le_bytes(r[32..40].try_into().map_err(|_| "record")?);
        size = u64::from_le_bytes(r[40..48].try_into().map_err(|_| "record")?);
        file.seek(SeekFrom::Start(0)).map_err(io)?;
    }
    if entries > MAX_ZIP_MEMBERS {
        return Err(format!(
            "the archive lists {entries} members; at most {MAX_ZIP_MEMBERS} are scanned"
        ));
    }
    if size > MAX_ZIP_DIRECTORY {
        return Err(format!(
            "the archive's directory is {size} bytes; at most {MAX_ZIP_DIRECTORY} are scanned"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
