//! `weir serve --demo`: seeds two publishers, a few users and small models made of real
//! safetensors files, then prints how to use them. Seeding is idempotent; fresh demo tokens are
//! minted on every start because tokens are stored only as hashes.

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use safetensors::tensor::{Dtype, TensorView};
use weir_core::git::CommitSignature;
use weir_core::{Name, RefName, RepoId, RepoPath, Revision, Scope};
use weir_store::{CommitOp, NewCommit, RefKind, Store};

/// Deterministic pseudo-random f32 weights (xorshift), so demo files are reproducible.
fn weights(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n * 4);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.04;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A Llama-style decoder with `layers` layers: real tensor names and shapes, random values.
fn llama_safetensors(
    seed: u64,
    vocab: usize,
    hidden: usize,
    inter: usize,
    layers: usize,
) -> Result<Vec<u8>> {
    let mut specs: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![vocab, hidden]),
        ("model.norm.weight".into(), vec![hidden]),
        ("lm_head.weight".into(), vec![vocab, hidden]),
    ];
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        for (n, shape) in [
            ("self_attn.q_proj.weight", vec![hidden, hidden]),
            ("self_attn.k_proj.weight", vec![hidden / 2, hidden]),
            ("self_attn.v_proj.weight", vec![hidden / 2, hidden]),
            ("self_attn.o_proj.weight", vec![hidden, hidden]),
            ("mlp.gate_proj.weight", vec![inter, hidden]),
            ("mlp.up_proj.weight", vec![inter, hidden]),
            ("mlp.down_proj.weight", vec![hidden, inter]),
            ("input_layernorm.weight", vec![hidden]),
            ("post_attention_layernorm.weight", vec![hidden]),
        ] {
            specs.push((format!("{p}.{n}"), shape));
        }
    }
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = specs
        .into_iter()
        .enumerate()
        .map(|(i, (n, s))| {
            let count = s.iter().product();
            (n, s, weights(seed + i as u64, count))
        })
        .collect();
    let views = data
        .iter()
        .map(|(n, s, d)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), d)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| anyhow!("building demo tensors: {e}"))?;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| anyhow!("serializing demo tensors: {e}"))
}

fn card(repo: &str, title: &str, body: &str) -> String {
    format!(
        "---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-generation\ntags:\n- weir-demo\n---\n\n# {title}\n\n{body}\n\nDemo model seeded by `weir serve --demo`: random weights with a real architecture, for trying\nthe registry. Download it with `weir pull {repo}` or `huggingface_hub.snapshot_download(\"{repo}\")`.\n"
    )
}

fn config(hidden: usize, inter: usize, layers: usize, vocab: usize) -> String {
    serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": vocab,
        "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "torch_dtype": "float32",
    })
    .to_string()
}

struct DemoModel {
    repo: &'static str,
    title: &'static str,
    about: &'static str,
    seed: u64,
    hidden: usize,
    inter: usize,
    layers: usize,
    private: bool,
}

const MODELS: &[DemoModel] = &[
    DemoModel {
        repo: "acme/tiny-llama",
        title: "Tiny Llama",
        about: "A 2-layer Llama-style decoder (about 4 MB).",
        seed: 1,
        hidden: 128,
        inter: 344,
        layers: 2,
        private: false,
    },
    DemoModel {
        repo: "acme/tiny-llama-instruct",
        title: "Tiny Llama Instruct",
        about: "A derivative of acme/tiny-llama (same architecture).",
        seed: 7,
        hidden: 128,
        inter: 344,
        layers: 2,
        private: false,
    },
    DemoModel {
        repo: "openlab/mini-decoder",
        title: "Mini decoder",
        about: "A 4-layer decoder from an open-source group (about 6 MB).",
        seed: 42,
        hidden: 128,
        inter: 256,
        layers: 4,
        private: false,
    },
    DemoModel {
        repo: "openlab/internal-draft",
        title: "Internal draft",
        about: "A private repo: only openlab members see it.",
        seed: 99,
        hidden: 64,
        inter: 128,
        layers: 1,
        private: true,
    },
];

const VOCAB: usize = 2048;

pub async fn seed(store: &Store, public_url: &str) -> Result<()> {
    let name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    let fresh = store.db.account("alice").await?.is_none();
    if fresh {
        store
            .db
            .create_user(&name("alice")?, Some("alice@acme.example"), false)
            .await?;
        store
            .db
            .create_user(&name("bob")?, Some("bob@openlab.example"), false)
            .await?;
        store
            .db
            .create_user(&name("carol")?, Some("carol@university.example"), false)
            .await?;
        store.db.create_org(&name("acme")?).await?;
        store.db.create_org(&name("openlab")?).await?;
        store
            .db
            .add_member(&name("acme")?, &name("alice")?, "owner")
            .await?;
        store
            .db
            .add_member(&name("openlab")?, &name("bob")?, "owner")
            .await?;
        for m in MODELS {
            seed_model(store, m).await?;
        }
    }
    let alice = store
        .db
        .create_token(&name("alice")?, Scope::Write, "demo")
        .await?;
    let bob = store
        .db
        .create_token(&name("bob")?, Scope::Write, "demo")
        .await?;
    let carol = store
        .db
        .create_token(&name("carol")?, Scope::Read, "demo")
        .await?;
    println!(
        "demo data {}:",
        if fresh { "seeded" } else { "already present" }
    );
    println!("  publishers: org acme (owner alice), org openlab (owner bob); user carol (no org)");
    for m in MODELS {
        println!(
            "  model {}{}",
            m.repo,
            if m.private { " (private)" } else { "" }
        );
    }
    println!("  tokens (new on every --demo start):");
    println!("    alice (write): {alice}");
    println!("    bob   (write): {bob}");
    println!("    carol (read):  {carol}");
    println!("  try:");
    println!("    weir pull acme/tiny-llama --server {public_url}");
    println!(
        "    HF_ENDPOINT={public_url} python -c \"import huggingface_hub as h; print(h.snapshot_download('acme/tiny-llama'))\""
    );
    println!("    WEIR_TOKEN={alice} weir push ./my-model acme/my-model --server {public_url}");
    println!();
    Ok(())
}

async fn seed_model(store: &Store, m: &DemoModel) -> Result<()> {
    let id = RepoId::parse(m.repo).map_err(|e| anyhow!("{e}"))?;
    let owner = if id.namespace.as_str() == "acme" {
        "alice"
    } else {
        "bob"
    };
    let sig = || CommitSignature {
        name: owner.to_string(),
        email: format!("{owner}@{}.example", id.namespace),
        time: time_now(),
    };
    let repo = store.create_repo(&id, m.private, sig()).await?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", card(m.repo, m.title, m.about).into_bytes()),
        (
            "config.json",
            config(m.hidden, m.inter, m.layers, VOCAB).into_bytes(),
        ),
        (
            "generation_config.json",
            br#"{"do_sample": false, "max_new_tokens": 32}"#.to_vec(),
        ),
        (
            "model.safetensors",
            llama_safetensors(m.seed, VOCAB, m.hidden, m.inter, m.layers)?,
        ),
    ];
    let mut ops = Vec::new();
    for (path, bytes) in files {
        let (sha256, size) = store.ingest_bytes(bytes.into()).await?;
        ops.push(CommitOp::Add {
            path: RepoPath::parse(path).map_err(|e| anyhow!("{e}"))?,
            sha256,
            size,
        });
    }
    let c = NewCommit {
        branch: RefName::main(),
        expected_parent: None,
        create_branch: false,
        ops,
        author: sig(),
        summary: format!("Add {}", m.title),
        description: String::new(),
    };
    let first = store.commit(&repo, &c).await?;
    store
        .db
        .create_ref(
            &repo,
            RefKind::Tag,
            &RefName::parse("v1.0").map_err(|e| anyhow!("{e}"))?,
            &first,
        )
        .await?;
    if m.repo == "openlab/mini-decoder" {
        // A branch with a slash and a nested file, to show revisions and paths.
        let (sha256, size) = store
            .ingest_bytes(b"Notes on the wide experiment.\n".to_vec().into())
            .await?;
        let exp = NewCommit {
            branch: RefName::parse("experiment/wide").map_err(|e| anyhow!("{e}"))?,
            expected_parent: None,
            create_branch: true,
            ops: vec![CommitOp::Add {
                path: RepoPath::parse("notes/wide run.md").map_err(|e| anyhow!("{e}"))?,
                sha256,
                size,
            }],
            author: sig(),
            summary: "Start the wide experiment".into(),
            description: String::new(),
        };
        store.commit(&repo, &exp).await?;
    }
    debug_assert!(
        store
            .db
            .resolve(&repo, &Revision::parse("v1.0").map_err(|e| anyhow!("{e}"))?)
            .await?
            .is_some()
    );
    Ok(())
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
