//! The server's modules form no import cycle: every `crate::MODULE` a module names is read out of
//! its source, and the graph must be acyclic (handlers depend on lookups, services and views,
//! never back).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn refs(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = src;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn server_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(&src).expect("src").flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        let (module, files) = if p.is_dir() {
            let files: Vec<_> = std::fs::read_dir(&p)
                .expect("dir")
                .flatten()
                .map(|f| f.path())
                .collect();
            (name, files)
        } else if let Some(m) = name.strip_suffix(".rs") {
            (m.to_string(), vec![p])
        } else {
            continue;
        };
        if module == "lib" {
            continue;
        }
        let entry = graph.entry(module.clone()).or_default();
        for f in files {
            for r in refs(&std::fs::read_to_string(&f).expect("read")) {
                if r != module {
                    entry.insert(r);
                }
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "import cycle among weir-server modules: {}",
                cycle.join(" -> ")
            );
        }
    }
    assert!(graph.len() > 15, "{} modules", graph.len());
    // Request metadata comes through the `RequestMeta` extractor, not a `HeaderMap` handed
    // around (the Hub and LFS protocol handlers read protocol headers themselves).
    for h in [
        "access",
        "evals",
        "exports",
        "incidents",
        "publishers",
        "releases",
    ] {
        let path = src.join(h);
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            std::fs::read_dir(&path)
                .expect("dir")
                .flatten()
                .map(|e| e.path())
                .collect()
        } else {
            vec![src.join(format!("{h}.rs"))]
        };
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            assert!(
                !text.contains("HeaderMap"),
                "{} takes a HeaderMap; use the RequestMeta extractor",
                f.display()
            );
        }
    }
    // Handler modules import services, extractors and views, never each other.
    let handlers = [
        "access",
        "evals",
        "exports",
        "hub",
        "incidents",
        "lfs",
        "log",
        "native",
        "openapi",
        "publishers",
        "releases",
    ];
    for h in handlers {
        let deps = graph.get(h).cloned().unwrap_or_default();
        let crossing: Vec<&String> = deps
            .iter()
            .filter(|d| handlers.contains(&d.as_str()))
            .collect();
        assert!(
            crossing.is_empty(),
            "handler module {h} imports handler modules {crossing:?}; move what they share into a service (weir-registry), an extractor or views"
        );
    }
}

/// The test tree mirrors the source tree: every test file is named after the module it tests
/// (`tests/access/requests.rs` tests `src/access/requests.rs`), except the few that check an
/// invariant across all routes; and every handler directory of `src/` has its test directory.
#[test]
fn the_test_tree_mirrors_the_source_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let across = [
        "mod.rs",
        "cache.rs",
        "common.rs",
        "docs.rs",
        "errors.rs",
        "matrix.rs",
        "modules.rs",
        "possession.rs",
    ];
    let mut stray = Vec::new();
    let mut walk = vec![root.join("tests")];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "snapshots") {
                    walk.push(p);
                }
                continue;
            }
            let rel = p.strip_prefix(root.join("tests")).expect("rel");
            let name = rel.to_string_lossy().to_string();
            if !name.ends_with(".rs") || across.contains(&name.as_str()) {
                continue;
            }
            if !root.join("src").join(rel).exists() {
                stray.push(name);
            }
        }
    }
    assert!(
        stray.is_empty(),
        "test files with no module of that name in src/: {stray:?}"
    );
    for e in std::fs::read_dir(root.join("src")).expect("src").flatten() {
        if e.path().is_dir() {
            let dir = e.file_name();
            assert!(
                root.join("tests").join(&dir).join("mod.rs").exists(),
                "src/{} has no tests/{}/",
                dir.to_string_lossy(),
                dir.to_string_lossy()
            );
        }
    }
}
