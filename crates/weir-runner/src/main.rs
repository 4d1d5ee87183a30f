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

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
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
