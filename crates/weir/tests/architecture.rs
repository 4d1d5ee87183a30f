//! ARCHITECTURE.md stays true: it names every crate, every module of the server and every CLI
//! verb, so a new one cannot land without its place on the map.

use std::path::Path;

fn arch() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md")
}

#[test]
fn architecture_names_every_crate_module_and_verb() {
    let doc = arch();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&root).expect("crates").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().join("Cargo.toml").exists() && !doc.contains(&name) {
            missing.push(format!("crate {name}"));
        }
    }
    let src = root.join("weir-server/src");
    let mut modules = Vec::new();
    for e in std::fs::read_dir(&src).expect("src").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(m) = name.strip_suffix(".rs") {
            if m != "lib" {
                modules.push(m.to_string());
            }
        } else if e.path().is_dir() {
            modules.push(name.clone());
            for f in std::fs::read_dir(e.path()).expect("dir").flatten() {
                let f = f.file_name().to_string_lossy().to_string();
                if let Some(m) = f.strip_suffix(".rs")
                    && m != "mod"
                {
                    modules.push(format!("{name}::{m}"));
                }
            }
        }
    }
    for m in modules {
        if !doc.contains(&format!("`{m}`")) && !doc.contains(&format!("`{m} ")) {
            missing.push(format!("weir-server module {m}"));
        }
    }
    for e in std::fs::read_dir(root.join("weir-registry/src"))
        .expect("registry src")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(m) = name.strip_suffix(".rs")
            && m != "lib"
            && !doc.contains(&format!("`{m}`"))
        {
            missing.push(format!("weir-registry module {m}"));
        }
    }
    // Every verb `weir --help` lists.
    let verbs = verbs_of(&["--help"]);
    assert!(verbs.len() > 10, "{verbs:?}");
    for v in verbs {
        if !doc.contains(&format!("`{v}`")) && !doc.contains(&format!("`{v} ")) {
            missing.push(format!("verb {v}"));
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name: {missing:?}"
    );
    assert!(
        !doc.contains("../shared/"),
        "ARCHITECTURE.md cites a document that is not in this repo"
    );
}

fn verbs_of(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new(crate::harness::WEIR)
        .args(args)
        .output()
        .expect("weir --help");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .map(str::to_string)
        .collect()
}

/// A thin binary: `main.rs` only parses and dispatches, and every command has its own file
/// (`cli/<verb>.rs`, `admin/<verb>.rs`) with its `Args` and `run`.
#[test]
fn one_file_per_command_and_a_thin_main() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = std::fs::read_to_string(src.join("main.rs")).expect("main.rs");
    assert!(
        main.lines().count() < 150,
        "main.rs has {} lines; verbs belong in cli/ and admin/",
        main.lines().count()
    );
    assert!(
        !main.contains("weir_server::") && !main.contains("weir_store::"),
        "main.rs only parses and dispatches"
    );
    let mut missing = Vec::new();
    for v in verbs_of(&["--help"]) {
        let file = if v == "admin" {
            src.join("admin/mod.rs")
        } else {
            src.join(format!("cli/{}.rs", v.replace('-', "_")))
        };
        if !file.exists() {
            missing.push(file.display().to_string());
        }
    }
    let admin = verbs_of(&["admin", "--help"]);
    assert!(admin.len() > 5, "{admin:?}");
    for v in admin {
        let file = src.join(format!("admin/{}.rs", v.replace('-', "_")));
        if !file.exists() {
            missing.push(file.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "commands without their own file: {missing:?}"
    );
    // Only `serve` builds and serves the router; no other command reaches into the server.
    for dir in ["cli", "admin"] {
        for e in std::fs::read_dir(src.join(dir)).expect("dir").flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let text = std::fs::read_to_string(e.path()).expect("read");
            if name != "serve.rs" {
                assert!(
                    !text.contains("weir_server::"),
                    "{dir}/{name} calls the server's internals; use weir_registry"
                );
            }
        }
    }
}

/// The wire is typed on the client's side: no public method of `weir-client` takes or returns
/// an untyped `serde_json::Value` (the request and response types live in `weir-wire`).
#[test]
fn client_methods_are_typed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weir-client/src");
    let mut untyped = Vec::new();
    for e in std::fs::read_dir(&src).expect("client src").flatten() {
        let text = std::fs::read_to_string(e.path()).expect("read");
        let mut rest = text.as_str();
        while let Some(i) = rest.find("pub ") {
            rest = &rest[i + 4..];
            let sig_start = rest.trim_start_matches("async ");
            if !sig_start.starts_with("fn ") {
                continue;
            }
            let end = rest.find('{').unwrap_or(rest.len());
            let sig = &rest[..end];
            if sig.contains("Value") {
                untyped.push(format!(
                    "{}: {}",
                    e.file_name().to_string_lossy(),
                    sig.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
        }
    }
    assert!(untyped.is_empty(), "untyped client methods: {untyped:#?}");
}
