//! `weir login`.

use anyhow::{Context, Result, anyhow};

use weir_client::Client;

use super::{token_file, write_secret};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    token: Option<String>,
    /// Registry URL; remembered with the token, which is only ever sent to it.
    #[arg(long, env = "WEIR_SERVER", default_value = super::DEFAULT_SERVER)]
    server: String,
}

pub async fn run(args: Args) -> Result<()> {
    let Args { token, server } = args;
    let token = match token {
        Some(t) => t,
        None => {
            eprintln!("paste your token and press enter:");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the token from stdin")?;
            line.trim().to_string()
        }
    };
    let client = Client::new(&server, Some(token.clone()))?;
    // Asked of that server with that token: a token for another server is refused here.
    let name = client
        .whoami()
        .await
        .context("the server did not accept this token")?;
    let path =
        token_file().ok_or_else(|| anyhow!("cannot find a config dir; set WEIR_CONFIG_DIR"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let saved = super::Saved {
        server: server.trim_end_matches('/').to_string(),
        token,
    };
    write_secret(&path, serde_json::to_string(&saved)?.as_bytes())?;
    println!(
        "logged in to {server} as {name}; token saved to {}",
        path.display()
    );
    Ok(())
}
