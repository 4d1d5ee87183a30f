//! The `weir` binary: argument parsing and wiring only. `serve` starts the registry, `admin`
//! works on a data dir directly, and the client verbs talk HTTP to a registry.

mod demo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use weir_client::{Client, PullOptions, PushOptions};
use weir_core::{Name, RefName, RepoId, Scope};
use weir_server::{AppState, ServerConfig};
use weir_store::Store;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "A self-hostable registry for open-weight AI models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry.
    Serve(ServeArgs),
    /// Operator tasks on a data dir (works while the server runs).
    Admin {
        /// The data dir of the registry.
        #[arg(long, env = "WEIR_DATA", default_value = "./weir-data")]
        data: PathBuf,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Save a token for the client verbs (read from stdin when --token is not given).
    Login {
        #[arg(long)]
        token: Option<String>,
        /// Registry URL.
        #[arg(long, env = "WEIR_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
    },
    /// Upload a directory as a commit on a branch (creates the repo if needed).
    Push {
        dir: PathBuf,
        /// NS/NAME
        repo: String,
        #[arg(long, default_value = "main")]
        revision: String,
        #[arg(short = 'm', long = "message", default_value = "Upload with weir push")]
        message: String,
        /// Create the repo as private.
        #[arg(long)]
        private: bool,
        /// Also delete files from the branch that are not in DIR.
        #[arg(long)]
        delete: bool,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[command(flatten)]
        remote: Remote,
    },
    /// Download a revision into a directory, verifying every byte.
    Pull {
        /// NS/NAME[@REVISION]
        repo: String,
        /// Target directory (default: NAME).
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Data dir: SQLite database, blobs and secrets.
    #[arg(long, env = "WEIR_DATA", default_value = "./weir-data")]
    data: PathBuf,
    #[arg(long, env = "WEIR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Base URL written into responses (default: http://LISTEN). Set HF_ENDPOINT to exactly this.
    #[arg(long, env = "WEIR_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seed demo publishers, users and models.
    #[arg(long)]
    demo: bool,
}

#[derive(Args)]
struct Remote {
    /// Registry URL.
    #[arg(long, env = "WEIR_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// API token (default: the one saved by 'weir login').
    #[arg(long, env = "WEIR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    Add {
        name: String,
        /// Members to add (repeatable); the first becomes an owner.
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (only the token, once).
    Create {
        user: String,
        #[arg(long, default_value = "read")]
        scope: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin { data, command } => admin(&data, command).await,
        Command::Login { token, server } => login(token, &server).await,
        Command::Push {
            dir,
            repo,
            revision,
            message,
            private,
            delete,
            parallel,
            remote,
        } => {
            let repo = RepoId::parse(&repo)
                .map_err(|e| anyhow!("{e}; example: weir push ./model acme/tiny"))?;
            let branch = RefName::parse(&revision).map_err(|e| anyhow!("{e}"))?;
            if !dir.is_dir() {
                bail!(
                    "{} is not a directory; pass the folder to upload",
                    dir.display()
                );
            }
            let client = client(&remote)?;
            let opts = PushOptions {
                branch,
                message,
                private,
                delete_missing: delete,
                parallel,
                progress: true,
            };
            let out = client.push(&dir, &repo, &opts).await?;
            match out.commit {
                Some(c) => println!(
                    "pushed {repo}@{} commit {c}: {} files, {} uploaded ({} bytes), {} unchanged, {} deleted",
                    opts.branch,
                    out.files,
                    out.uploaded,
                    out.uploaded_bytes,
                    out.unchanged,
                    out.deleted
                ),
                None => println!(
                    "{repo}@{} is up to date ({} files unchanged)",
                    opts.branch, out.unchanged
                ),
            }
            Ok(())
        }
        Command::Pull {
            repo,
            dir,
            parallel,
            remote,
        } => {
            let (id, rev) = match repo.split_once('@') {
                Some((r, rev)) => (r, rev.to_string()),
                None => (repo.as_str(), "main".to_string()),
            };
            let id =
                RepoId::parse(id).map_err(|e| anyhow!("{e}; example: weir pull acme/tiny@main"))?;
            let dir = dir.unwrap_or_else(|| PathBuf::from(id.name.as_str()));
            let client = client(&remote)?;
            let opts = PullOptions {
                revision: rev,
                parallel,
                progress: true,
            };
            let out = client.pull(&id, &dir, &opts).await?;
            println!(
                "pulled {id}@{} (commit {}) into {}: {} files, {} downloaded ({} bytes, {} resumed), {} already up to date; every file matched its sha256",
                opts.revision,
                out.commit,
                dir.display(),
                out.files,
                out.downloaded,
                out.downloaded_bytes,
                out.resumed,
                out.up_to_date
            );
            Ok(())
        }
    }
}

fn token_file() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEIR_CONFIG_DIR") {
        return Some(PathBuf::from(dir).join("token"));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".config").join("weir").join("token"))
}

fn client(remote: &Remote) -> Result<Client> {
    let token = match &remote.token {
        Some(t) => Some(t.clone()),
        None => token_file()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.trim().to_string()),
    };
    Ok(Client::new(&remote.server, token)?)
}

async fn login(token: Option<String>, server: &str) -> Result<()> {
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
    let client = Client::new(server, Some(token.clone()))?;
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
    write_secret(&path, token.as_bytes())?;
    println!(
        "logged in to {server} as {name}; token saved to {}",
        path.display()
    );
    Ok(())
}

/// Writes a secret file with 0600 permissions.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
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

async fn open_store(data: &Path) -> Result<Store> {
    Store::open_data_dir(data)
        .await
        .with_context(|| format!("opening the data dir {}", data.display()))
}

async fn serve(args: ServeArgs) -> Result<()> {
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
    if args.demo {
        demo::seed(&store, &public_url).await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another address with --listen",
                args.listen
            )
        })?;
    let state = AppState {
        store,
        config: Arc::new(ServerConfig {
            public_url: public_url.clone(),
            upload_key: upload_key(&args.data)?,
            upload_link_ttl_secs: 3600,
        }),
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

async fn admin(data: &Path, command: AdminCommand) -> Result<()> {
    let store = open_store(data).await?;
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        AdminCommand::User {
            command: UserCommand::Add { name, email },
        } => {
            let n = parse_name(&name)?;
            store
                .db
                .create_user(&n, email.as_deref(), false)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("created user {n}");
        }
        AdminCommand::Org {
            command: OrgCommand::Add { name, members },
        } => {
            let n = parse_name(&name)?;
            store.db.create_org(&n).await.map_err(|e| anyhow!("{e}"))?;
            for (i, m) in members.iter().enumerate() {
                let m = parse_name(m)?;
                let role = if i == 0 { "owner" } else { "member" };
                store.db.add_member(&n, &m, role).await.map_err(|e| {
                    anyhow!("{e}; create the user first with 'weir admin user add {m}'")
                })?;
            }
            println!("created org {n} with {} member(s)", members.len());
        }
        AdminCommand::Token {
            command: TokenCommand::Create { user, scope, name },
        } => {
            let u = parse_name(&user)?;
            let scope = Scope::parse(&scope)
                .ok_or_else(|| anyhow!("unknown scope {scope:?}; use read, write or admin"))?;
            let token = store.db.create_token(&u, scope, &name).await.map_err(|e| {
                anyhow!("{e}; create the user first with 'weir admin user add {u}'")
            })?;
            println!("{token}");
        }
    }
    store.db.close().await;
    Ok(())
}
