//! `weir serve`: opens the store, makes the keys and the first operator token on first start,
//! seeds `--demo`, serves until SIGINT/SIGTERM.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use weir_core::{Name, Scope};
use weir_server::{AppState, ServerConfig};

use super::{open_store, write_secret};

#[derive(clap::Args)]
pub struct Args {
    /// Seed demo publishers, users and models.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
}

pub async fn run(serve_args: Args) -> Result<()> {
    let args = crate::config::load(&serve_args.config)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "weir=info,weir_server=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let store = open_store(&args.data).await?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    if store.db.count_admin_tokens().await? == 0 {
        let admin = Name::parse("admin").map_err(|e| anyhow!("{e}"))?;
        if store.db.account("admin").await?.is_none() {
            store.db.create_user(&admin, None, true).await?;
        }
        let token = store
            .db
            .create_token(&admin, Scope::Admin, "initial admin")
            .await?;
        println!(
            "created the operator account 'admin'. Its token is shown only now; keep it safe:\n  {token}\n"
        );
    }
    if !weir_registry::settings::valid_osv_prefix(&args.osv_prefix) {
        bail!(
            "--osv-prefix {:?} is not a local OSV prefix; use x_ followed by letters, digits or underscores (e.g. x_WEIR)",
            args.osv_prefix
        );
    }
    let release_key = release_key(&args.data)?;
    let log_signer = log_key(
        &args.data,
        &weir_registry::settings::log_origin(&public_url),
    )?;
    if serve_args.demo {
        crate::demo::seed(
            &store,
            &args.data,
            &public_url,
            &release_key,
            &log_signer,
            &args.osv_prefix,
        )
        .await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another address with --listen",
                args.listen
            )
        })?;
    let state = AppState::new(
        store,
        ServerConfig {
            public_url: public_url.clone(),
            upload_key: upload_key(&args.data)?,
            upload_link_ttl_secs: args.upload_link_ttl_secs,
            log_signer,
            log_interval_ms: args.log_interval_ms,
            release_key,
            osv_prefix: args.osv_prefix.clone(),
            allow_private_webhooks: args.allow_private_webhooks,
            limits: weir_server::conn::ServeLimits {
                max_connections: args.max_connections,
                header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
                idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
                max_connections_per_address: args.max_connections_per_address,
                stall_timeout: std::time::Duration::from_secs(args.stall_timeout),
                ..Default::default()
            },
        },
    );
    println!(
        "weir is serving {} on {} (data: {})",
        public_url,
        args.listen,
        args.data.display()
    );
    println!(
        "  Hugging Face clients: export HF_ENDPOINT={public_url}  (uploads also need HF_HUB_DISABLE_XET=1)"
    );
    let shutdown = async {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    };
    weir_server::serve(listener, state, shutdown).await?;
    Ok(())
}

/// The upload-link key: 32 random bytes in `DATA/secrets/upload.key` (0600), made on first start.
fn upload_key(data: &Path) -> Result<Vec<u8>> {
    let dir = data.join("secrets");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("upload.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() == 32 => Ok(k),
        Ok(_) => bail!(
            "{} is not a 32-byte key; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
            write_secret(&path, &k)?;
            Ok(k)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The log's signed-note key in `DATA/secrets/log.key` (Go's signer-key format, 0600), made on
/// first start for the origin. A log's origin never changes.
fn log_key(data: &Path, origin: &str) -> Result<weir_tlog::note::Signer> {
    let path = data.join("secrets").join("log.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let signer = weir_tlog::note::Signer::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if signer.name() != origin {
                bail!(
                    "the log key in {} is for origin {}, but --public-url gives {origin}; a log's origin never changes, so serve under the same public URL",
                    path.display(),
                    signer.name()
                );
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            let signer =
                weir_tlog::note::Signer::from_seed(origin, seed).map_err(|e| anyhow!("{e}"))?;
            std::fs::create_dir_all(data.join("secrets"))?;
            write_secret(&path, signer.skey().as_bytes())?;
            Ok(signer)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The P-256 release-signing key in `DATA/secrets/release.key` (PKCS#8 PEM, 0600).
fn release_key(data: &Path) -> Result<weir_signing::model_signing::ReleaseKey> {
    use weir_signing::model_signing::ReleaseKey;
    let path = data.join("secrets").join("release.key");
    match std::fs::read_to_string(&path) {
        Ok(pem) => ReleaseKey::from_pkcs8_pem(&pem).map_err(|e| anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = ReleaseKey::generate();
            std::fs::create_dir_all(data.join("secrets"))?;
            write_secret(
                &path,
                k.to_pkcs8_pem().map_err(|e| anyhow!("{e}"))?.as_bytes(),
            )?;
            Ok(k)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
