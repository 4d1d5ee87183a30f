//! `weir-runner KIND --weights DIR --input FILE --params JSON --out DIR [--model NAME --revision SHA]`:
//! one built-in job (generate, mcq, logits) on CPU. Runs inside the research environment's
//! sandbox; `weir job run --local` runs the same binary on the researcher's machine.

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

const RANDOM_USAGE: &str = "usage: weir-runner random-model DIR [--seed N] [--shape tiny|smollm-135m] [--arch llama|mistral|qwen2]";

/// `weir-runner random-model DIR [--seed N] [--shape …] [--arch …]`: a model with random
/// weights (tests, stand-ins, the benchmark).
fn random_model(args: Vec<String>) -> anyhow::Result<()> {
    let mut it = args.into_iter();
    let dir = it.next().ok_or_else(|| anyhow::anyhow!(RANDOM_USAGE))?;
    let (mut seed, mut shape) = (0u64, weir_runner::Shape::TINY);
    let mut arch = weir_runner::Arch::Llama;
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => seed = value.parse()?,
            "--shape" => {
                shape = match value.as_str() {
                    "tiny" => weir_runner::Shape::TINY,
                    "smollm-135m" => weir_runner::Shape::SMOLLM_135M,
                    other => anyhow::bail!("unknown shape {other} (tiny, smollm-135m)"),
                }
            }
            "--arch" => {
                arch = weir_runner::Arch::ALL
                    .into_iter()
                    .find(|a| a.as_str() == value)
                    .ok_or_else(|| {
                        anyhow::anyhow!("unknown arch {value} (llama, mistral, qwen2)")
                    })?
            }
            other => anyhow::bail!("unknown flag {other}; {RANDOM_USAGE}"),
        }
    }
    weir_runner::write_random_model(std::path::Path::new(&dir), arch, shape, seed)
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if std::env::args().nth(1).as_deref() == Some("random-model") {
        return random_model(std::env::args().skip(2).collect());
    }
    let kind = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: weir-runner generate|mcq|logits --weights DIR --input FILE --out DIR [--params JSON] [--model NAME] [--revision SHA]"))?;
    let (mut weights, mut input, mut out) = (None, None, None);
    let mut params = serde_json::Value::Null;
    let (mut model, mut revision) = ("model".to_string(), "unknown".to_string());
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--weights" => weights = Some(PathBuf::from(value)),
            "--input" => input = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            "--params" => params = serde_json::from_str(&value)?,
            "--model" => model = value,
            "--revision" => revision = value,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    let need = |v: Option<PathBuf>, f: &str| v.ok_or_else(|| anyhow::anyhow!("{f} is required"));
    weir_runner::run(
        &kind,
        &need(weights, "--weights")?,
        &need(input, "--input")?,
        &params,
        &need(out, "--out")?,
        &model,
        &revision,
    )
}
