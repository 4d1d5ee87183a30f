//! `weir serve`: opens the store, makes the keys and the first operator token on first start,
//! seeds `--demo`, serves until SIGINT/SIGTERM.

use anyhow::{Context, Result, anyhow, bail};

use weir_server::{AppState, ServerConfig};

use super::open_store;

#[derive(clap::Args)]
pub struct Args {
    /// Seed demo publishers, users and models.
    #[arg(long)]
    pub demo: bool,
    /// Run the secure research environment (as [research] enabled = true in weir.toml).
    #[arg(long)]
    pub research: bool,
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
}

/// The sandbox and the per-job limits from `[research]`; a host that cannot run it is an error
/// naming the fix.
fn open_enclave(args: &crate::config::Config) -> Result<weir_registry::jobs::Enclave> {
    let r = &args.research;
    let work_dir = r.work_dir.clone().unwrap_or_else(|| {
        let mut name = args
            .data
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "weir-data".into());
        name.push("-enclave");
        args.data.with_file_name(name)
    });
    let mut cfg = weir_enclave::SandboxConfig::new(work_dir);
    cfg.group = r.group.clone();
    cfg.slot_users = r.slots.clone();
    let sandbox = weir_enclave::Sandbox::open(&cfg)
        .map_err(|e| anyhow!("the research environment cannot start: {e}"))?;
    let limits = weir_enclave::Limits {
        memory_bytes: r.memory_mb << 20,
        cpus: r.cpus,
        pids: r.pids,
        wall: std::time::Duration::from_secs(r.wall_secs),
        ..weir_enclave::Limits::default()
    };
    Ok(weir_registry::jobs::Enclave::new(sandbox, limits))
}

pub async fn run(serve_args: Args) -> Result<()> {
    let args = crate::config::load(&serve_args.config)?;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
            .unwrap_or_else(|_| "weir=info,weir_server=info,warn".into())
    };
    // JSON: one object per line, with the request's span (its id, method and path).
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
    let s3 = crate::config::s3_settings(&args)?;
    let store = open_store(&args.data, args.database.as_deref(), s3.as_ref()).await?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    if !weir_registry::settings::valid_osv_prefix(&args.osv_prefix) {
        bail!(
            "--osv-prefix {:?} is not a local OSV prefix; use x_ followed by letters, digits or underscores (e.g. x_WEIR)",
            args.osv_prefix
        );
    }
    // A key this database pins but this data dir lacks is never made anew: a new one would not
    // be the registry's, and the refused start would leave it behind.
    for (role, file) in [("log", "log.key"), ("release", "release.key")] {
        let path = args.data.join("secrets").join(file);
        if store.db.pinned_key(role).await?.is_some() && !path.exists() {
            bail!(
                "{} is missing, but this database's registry signs with a {role} key already: copy DATA/secrets from another replica's data dir into {}, or restore it from a backup of this data dir",
                path.display(),
                args.data.display()
            );
        }
    }
    let release_key = weir_registry::keys::release_key(&args.data)?;
    let log_signer = weir_registry::keys::log_key(
        &args.data,
        &weir_registry::settings::log_origin(&public_url),
    )?;
    // Replicas share one database: each must sign with the key the log was signed with, never
    // one made for it on its own (a second log identity for the same entries).
    if let Some(note) = store.db.log_state().await?.checkpoint
        && weir_tlog::note::Note::open(&note, &[log_signer.verifier()]).is_err()
    {
        bail!(
            "the database's transparency log is signed with another key than {}: every replica must share the first one's keys (copy its DATA/secrets into {}, or serve all replicas from one data dir)",
            args.data.join("secrets/log.key").display(),
            args.data.display()
        );
    }
    // And the first process on this database pins the public keys (atomically), so two fresh
    // replicas started at once, before any checkpoint, cannot sign with keys of their own.
    let pins = [
        ("log", log_signer.verifier().vkey(), "log.key"),
        (
            "release",
            release_key.public_pem().map_err(|e| anyhow!("{e}"))?,
            "release.key",
        ),
    ];
    for (role, public, file) in pins {
        if store.db.pin_key(role, &public).await? != public {
            bail!(
                "this database's registry signs with another {role} key than {}: every replica must share the first one's keys (copy its DATA/secrets into {}, or restore {file} from a backup of this data dir)",
                args.data.join("secrets").join(file).display(),
                args.data.display()
            );
        }
    }
    if let Some(token) = store.db.first_admin_token().await? {
        println!(
            "created the operator account 'admin'. Its token is shown only now; keep it safe:\n  {token}\n"
        );
    }
    let enclave = if args.research.enabled || serve_args.research {
        Some(open_enclave(&args)?)
    } else {
        None
    };
    if serve_args.demo {
        crate::demo::seed(
            &store,
            &args.data,
            &public_url,
            &release_key,
            &log_signer,
            &args.osv_prefix,
            enclave.as_ref(),
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
            upload_key: weir_registry::keys::upload_key(&args.data)?,
            upload_link_ttl_secs: args.upload_link_ttl_secs,
            log_signer,
            log_interval_ms: args.log_interval_ms,
            release_key,
            osv_prefix: args.osv_prefix.clone(),
            currency: weir_registry::funding::Currency {
                code: args.currency.clone(),
                decimals: args.currency_decimals,
            },
            allow_private_webhooks: args.allow_private_webhooks,
            metrics_public: args.metrics_public,
            limits: weir_server::conn::ServeLimits {
                max_connections: args.max_connections,
                header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
                idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
                max_connections_per_address: args.max_connections_per_address,
                stall_timeout: std::time::Duration::from_secs(args.stall_timeout),
                ..Default::default()
            },
            blob_redirect_ttl_secs: (args.blob_downloads == "redirect")
                .then_some(args.blob_url_ttl_secs),
        },
    );
    let state = match &args.smtp_url {
        Some(url) => {
            let host = public_url
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', ':']).next())
                .filter(|h| h.contains('.') && !h.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .unwrap_or("localhost");
            let password = match &args.smtp_password_file {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| {
                            format!("cannot read the SMTP password file {}", p.display())
                        })?
                        .trim_end_matches(['\n', '\r'])
                        .to_string(),
                ),
                None => None,
            };
            let settings = weir_registry::mail::MailSettings {
                url: url.clone(),
                from: args
                    .mail_from
                    .clone()
                    .unwrap_or_else(|| format!("weir <weir@{host}>")),
                username: args.smtp_username.clone(),
                password,
            };
            let mailer = weir_registry::mail::Mailer::new(&settings, &public_url)
                .map_err(|e| anyhow::anyhow!("{e}; fix smtp_url or mail_from"))?;
            println!(
                "notifications are e-mailed through {url} from {}",
                settings.from
            );
            state.with_mailer(mailer)
        }
        None => state,
    };
    let state = if let Some(enclave) = enclave {
        println!(
            "the research environment runs jobs in {} slots (cgroup {})",
            enclave.sandbox.slots().len(),
            enclave
                .sandbox
                .cgroup_version()
                .map(|v| v.as_str())
                .unwrap_or("none: rlimits only")
        );
        state.with_enclave(enclave)
    } else {
        state
    };
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
