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
    // Every verb `weir --help` lists.
    let out = std::process::Command::new(crate::harness::WEIR)
        .arg("--help")
        .output()
        .expect("weir --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let verbs: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .collect();
    assert!(verbs.len() > 10, "{help}");
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
