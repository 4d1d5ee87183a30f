use std::io::{Cursor, Write};

use proptest::prelude::*;

use super::*;

fn scan(bytes: &[u8]) -> Report {
    scan_file(Cursor::new(bytes.to_vec()))
}

fn names(r: &Report) -> Vec<String> {
    r.imports
        .iter()
        .map(|i| format!("{}.{}:{}", i.module, i.name, i.safety.as_str()))
        .collect()
}

/// What `torch.save` writes as `data.pkl` for `{"weight": tensor([1., 2., 3., 4.])}` (protocol 2,
/// the storage as a persistent id), byte for byte.
fn torch_data_pkl() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x06\x00\x00\x00weightq\x02",
    );
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04");
    p.extend_from_slice(
        b"ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08Q",
    );
    p.extend_from_slice(b"K\x00K\x04\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0btq\x0cRq\x0du");
    p.extend_from_slice(b"}q\x0eX\t\x00\x00\x00_metadataq\x0fh\x00)Rq\x10X\x00\x00\x00\x00q\x11}q\x12X\x07\x00\x00\x00versionq\x13K\x01ssb.");
    p
}

/// A protocol-4 pickle of a numpy array, as `pickle.dumps(np.zeros(2), 4)` writes it.
fn numpy_pickle() -> Vec<u8> {
    let mut p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    p.extend_from_slice(b"\x8c\x15numpy.core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94");
    p.extend_from_slice(
        b"\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94",
    );
    p.extend_from_slice(
        b"(K\x01K\x02\x85\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f8\x94\x89\x88\x87\x94R\x94",
    );
    p.extend_from_slice(
        b"(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89C\x10",
    );
    p.extend_from_slice(&[0u8; 16]);
    p.extend_from_slice(b"\x94t\x94b.");
    p
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        w.start_file(*name, o).expect("member");
        w.write_all(bytes).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn torch_zip(data_pkl: &[u8]) -> Vec<u8> {
    zip_of(&[
        ("archive/data.pkl", data_pkl),
        ("archive/byteorder", b"little"),
        ("archive/data/0", &[0u8; 16]),
        ("archive/version", b"3\n"),
    ])
}

/// `os.system("id")` by `GLOBAL` (what `pickle.dumps` of a `__reduce__` returning
/// `(os.system, ("id",))` writes at protocol 2).
fn global_os_system() -> Vec<u8> {
    b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.".to_vec()
}

/// The same by `STACK_GLOBAL` (protocol 4).
fn stack_global_os_system() -> Vec<u8> {
    b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.".to_vec()
}

#[test]
fn benign_pytorch_and_numpy_files_are_innocuous() {
    for (what, bytes) in [
        ("torch zip", torch_zip(&torch_data_pkl())),
        ("numpy pickle", numpy_pickle()),
        ("plain data.pkl", torch_data_pkl()),
    ] {
        let r = scan(&bytes);
        assert_eq!(r.safety(), Safety::Innocuous, "{what}: {r:?}");
        assert!(r.incomplete.is_none(), "{what}: {r:?}");
        assert!(r.pickles >= 1, "{what}");
    }
    assert_eq!(
        names(&scan(&torch_data_pkl())),
        [
            "collections.OrderedDict:innocuous",
            "torch.FloatStorage:innocuous",
            "torch._utils._rebuild_tensor_v2:innocuous"
        ]
    );
}

#[test]
fn a_legacy_pytorch_file_is_read_pickle_after_pickle_then_its_raw_data_ends_the_walk() {
    // Magic number, protocol version, sys info, the state dict, the storage keys, raw data.
    let mut f = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.".to_vec();
    f.extend_from_slice(b"\x80\x02}q\x00X\x10\x00\x00\x00protocol_versionq\x01M\xe9\x03s.");
    f.extend_from_slice(&torch_data_pkl());
    f.extend_from_slice(b"\x80\x02]q\x00X\x01\x00\x00\x000q\x01a.");
    f.extend_from_slice(&[0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, 0xde, 0xad]);
    let r = scan(&f);
    assert_eq!(r.pickles, 5, "{r:?}");
    assert_eq!(r.safety(), Safety::Innocuous, "{r:?}");
    // A hostile pickle in the middle of the same layout is found.
    let mut g = b"\x80\x02M\xe9\x03.".to_vec();
    g.extend_from_slice(&global_os_system());
    g.extend_from_slice(&[0x3f, 0x80, 0, 0]);
    assert_eq!(scan(&g).safety(), Safety::Dangerous);
}

#[test]
fn os_system_is_dangerous_by_global_stack_global_inst_and_through_the_memo() {
    let inst = b"(S'id'\nios\nsystem\n.".to_vec();
    // STACK_GLOBAL whose strings come back from the memo after being popped.
    let memo = b"\x80\x04\x8c\x05posix\x94\x30\x8c\x06system\x94\x30h\x00h\x01\x93\x94.".to_vec();
    let eval = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x02id\x85R.".to_vec();
    let text = b"\x80\x02V__builtin__\nVexec\n\x93.".to_vec();
    for (what, bytes) in [
        ("GLOBAL", global_os_system()),
        ("STACK_GLOBAL", stack_global_os_system()),
        ("INST", inst),
        ("memo", memo),
        ("builtins.eval", eval),
        ("unicode lines", text),
        ("torch zip", torch_zip(&stack_global_os_system())),
        ("renamed", stack_global_os_system()),
    ] {
        let r = scan(&bytes);
        assert_eq!(r.safety(), Safety::Dangerous, "{what}: {r:?}");
    }
}

#[test]
fn an_import_the_scan_cannot_resolve_is_dangerous_and_an_unknown_one_suspicious() {
    // STACK_GLOBAL over two integers: Python would fail, but the scan cannot know the
    // operands in general, so it never vouches.
    let r = scan(b"\x80\x04K\x01K\x02\x93.");
    assert_eq!(r.safety(), Safety::Dangerous, "{r:?}");
    let r = scan(b"\x80\x02cmylib.models\nNet\n).");
    assert_eq!(r.safety(), Safety::Suspicious);
    assert_eq!(names(&r), ["mylib.models.Net:suspicious"]);
    // The copyreg extension registry names code by number.
    assert_eq!(scan(b"\x80\x02\x82\x01).").safety(), Safety::Suspicious);
}

#[test]
fn nested_archives_are_opened_to_their_depth_limit() {
    let inner = torch_zip(&global_os_system());
    let outer = zip_of(&[("model/inner.pt", &inner), ("README", b"hi")]);
    assert_eq!(scan(&outer).safety(), Safety::Dangerous);
    let deeper = zip_of(&[("a.zip", &zip_of(&[("b.zip", &outer)]))]);
    let r = scan(&deeper);
    assert!(r.incomplete.is_some(), "{r:?}");
    assert!(r.safety() >= Safety::Suspicious);
}

#[test]
fn every_truncation_of_a_hostile_pickle_is_never_innocuous() {
    for bytes in [global_os_system(), stack_global_os_system()] {
        for n in 1..bytes.len() {
            let r = scan(&bytes[..n]);
            assert!(r.safety() >= Safety::Suspicious, "prefix {n}: {r:?}");
            assert!(r.incomplete.is_some(), "prefix {n}: {r:?}");
        }
    }
    let z = torch_zip(&global_os_system());
    for n in [4, 30, z.len() / 2, z.len() - 1] {
        assert!(
            scan(&z[..n]).safety() >= Safety::Suspicious,
            "zip prefix {n}"
        );
    }
}

#[test]
fn hostile_sizes_stop_the_scan_within_its_limits() {
    // A huge memo index is just a key.
    let r = scan(b"\x80\x02Nr\xff\xff\xff\xffj\xff\xff\xff\xff0.");
    assert_eq!(r.safety(), Safety::Innocuous, "{r:?}");
    // Memo entries past the cap.
    let mut m = b"\x80\x04N".to_vec();
    m.extend(std::iter::repeat_n(0x94, MAX_MEMO + 1));
    m.push(b'.');
    assert!(scan(&m).incomplete.unwrap_or_default().contains("memo"));
    // A stack of marks past the cap.
    let mut s = b"\x80\x02".to_vec();
    s.resize(MAX_STACK + 10, b'(');
    assert!(scan(&s).incomplete.unwrap_or_default().contains("stack"));
    // An argument length past the end of the file, and an 8-byte one.
    assert!(
        scan(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff.")
            .incomplete
            .is_some()
    );
    assert!(
        scan(b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x80.")
            .incomplete
            .is_some()
    );
    // A text argument with no end.
    let mut t = b"\x80\x02c".to_vec();
    t.resize(MAX_LINE * 2, b'a');
    assert!(scan(&t).incomplete.is_some());
    // An archive claiming more members than the scan reads.
    let mut z = zip_of(&[("a.pkl", b"N.")]);
    let eocd = z.len() - 22;
    z[eocd + 10] = 0xfe;
    z[eocd + 11] = 0xff;
    z[eocd + 8] = 0xfe;
    z[eocd + 9] = 0xff;
    let r = scan(&z);
    assert!(r.incomplete.is_some(), "{r:?}");
}

#[test]
fn bytes_that_are_not_a_pickle_are_innocuous_and_say_so() {
    // `pickle.load` refuses the first byte of these: nothing can run.
    for bytes in [&b"weights"[..], b"\x00\x01\x02", b"{\"a\": 1}"] {
        let r = scan(bytes);
        assert_eq!(r, Report::default(), "{bytes:?}");
    }
}

#[test]
fn grading_rules() {
    assert_eq!(grade("os", "system"), Safety::Dangerous);
    assert_eq!(grade("os.path", "join"), Safety::Dangerous);
    assert_eq!(grade("osmosis", "x"), Safety::Suspicious);
    assert_eq!(grade("builtins", "getattr"), Safety::Dangerous);
    assert_eq!(grade("builtins", "set"), Safety::Innocuous);
    assert_eq!(grade("torch", "BFloat16Storage"), Safety::Innocuous);
    assert_eq!(grade("torch", "load"), Safety::Dangerous);
    assert_eq!(grade("torch.hub", "load"), Safety::Dangerous);
    assert_eq!(grade("operator", "attrgetter"), Safety::Dangerous);
    assert!(wants_scan("pytorch_model.bin", b""));
    assert!(wants_scan("x/Model.PT", b""));
    assert!(wants_scan("weights.safetensors", b"\x80\x04\x95"));
    assert!(!wants_scan("model.safetensors", b"{\"__"));
    assert!(!wants_scan("README.md", b"---\n"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = scan(&bytes);
    }

    #[test]
    fn a_dangerous_import_is_found_whatever_precedes_it(
        noise in proptest::collection::vec(prop_oneof![Just(b'N'), Just(b'('), Just(b't'), Just(b'0'), Just(0x94u8)], 0..64)
    ) {
        let mut p = b"\x80\x04".to_vec();
        p.extend_from_slice(&noise);
        p.extend_from_slice(b"\x8c\x02os\x8c\x06system\x93.");
        prop_assert!(scan(&p).safety() >= Safety::Suspicious);
    }
}

#[test]
fn the_attack_corpus_is_never_innocuous() {
    for (name, bytes) in [
        ("zlib.joblib", &include_bytes!("attacks/zlib.joblib")[..]),
        ("gzip.joblib", include_bytes!("attacks/gzip.joblib")),
        ("legacy-tar.pt", include_bytes!("attacks/legacy-tar.pt")),
        (
            "legacy-mark-pop.bin",
            include_bytes!("attacks/legacy-mark-pop.bin"),
        ),
        ("upath.pt", include_bytes!("attacks/upath.pt")),
        ("w.npz", include_bytes!("attacks/w.npz")),
    ] {
        let r = scan(bytes);
        assert_ne!(r.safety(), Safety::Innocuous, "{name}: {r:?}");
        if name != "legacy-tar.pt" {
            // A tar is not opened (it is unscannable); the others are read to the payload.
            assert_eq!(r.safety(), Safety::Dangerous, "{name}: {r:?}");
        } else {
            assert!(r.incomplete.is_some(), "{name}: {r:?}");
        }
    }
}

#[test]
fn long_and_dotted_names_are_never_dropped() {
    let mut p = b"\x80\x04cos\n".to_vec();
    p.extend_from_slice(&b"path.os.".repeat(40));
    p.extend_from_slice(b"system\n(S'id'\ntR.");
    assert_eq!(scan(&p).safety(), Safety::Dangerous);
    // argparse._os.system through STACK_GLOBAL: an attribute walk from a harmless module.
    let x = |s: &[u8]| {
        let mut v = b"X".to_vec();
        v.extend_from_slice(&(s.len() as u32).to_le_bytes());
        v.extend_from_slice(s);
        v
    };
    let mut p = b"\x80\x04".to_vec();
    p.extend(x(b"argparse"));
    p.extend(x(b"_os.system"));
    p.extend_from_slice(b"\x93");
    p.extend(x(b"id"));
    p.extend_from_slice(b"\x85R.");
    assert_eq!(scan(&p).safety(), Safety::Dangerous);
    // A name Python could not import still counts (unresolved).
    assert_eq!(scan(b"\x80\x02cos\nsys tem\n.").safety(), Safety::Dangerous);
}

#[test]
fn opcode_details_python_accepts() {
    // POP with a mark on top pops the mark; a memo index as int() reads it.
    let r = scan(b"(0cos\nsystem\n.");
    assert_eq!(r.safety(), Safety::Dangerous, "{r:?}");
    let r = scan(b"\x80\x02Np1_0\n0g1_0\n.");
    assert_eq!(
        r,
        Report {
            pickles: 1,
            ..Default::default()
        }
    );
}

#[test]
fn numpy_arrays_are_scanned_when_they_hold_objects() {
    let mut plain = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    let mut h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".to_vec();
    h.resize(0x75, b' ');
    h.push(b'\n');
    plain.extend_from_slice(&h);
    plain.extend_from_slice(&[0x80, 0x02, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        scan(&plain),
        Report::default(),
        "raw floats are not a pickle"
    );
    let mut object = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    let mut h = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".to_vec();
    h.resize(0x75, b' ');
    h.push(b'\n');
    object.extend_from_slice(&h);
    object.extend_from_slice(&stack_global_os_system());
    assert_eq!(scan(&object).safety(), Safety::Dangerous);
    assert!(wants_scan("arr.npy", b""));
    assert!(wants_scan("renamed.dat2", b"\x93NUMPY\x01\x00"));
}

#[test]
fn compression_the_scan_cannot_open_is_unscannable_and_never_selected_by_itself() {
    for head in [
        &b"BZh91AY"[..],
        b"\xfd7zXZ\x00\x00",
        b"\x28\xb5\x2f\xfd\x00",
    ] {
        let r = scan(head);
        assert!(r.incomplete.is_some(), "{head:?}: {r:?}");
        assert!(
            !wants_scan("dataset.bz2", head),
            "only by a pickle extension"
        );
    }
}

#[test]
fn copies_of_a_kept_string_cost_no_memory() {
    // One 1 KiB string duplicated and memoized 499,000 times (1000x amplification if copied).
    let mut p = b"\x80\x04X\x00\x04\x00\x00".to_vec();
    p.extend_from_slice(&[b'A'; 1024]);
    p.extend_from_slice(&b"2\x94".repeat(499_000));
    p.push(b'.');
    let r = scan(&p);
    assert_eq!(r.safety(), Safety::Innocuous, "{r:?}");
}
