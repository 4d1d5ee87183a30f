//! The server's configuration: one struct merged from the defaults < `weir.toml` < `WEIR_*`
//! environment variables < command-line flags (figment), then turned into the server's
//! `ServerConfig`. `weir config show` prints the result. No secret is ever part of it: keys live
//! in files under the data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting of `weir serve`, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data dir: SQLite database, blobs and secrets.
    pub data: PathBuf,
    /// The database, when not the data dir's SQLite file: `postgres://USER[:PASSWORD]@HOST:PORT/DB`
    /// (several replicas share one). Printed with its password hidden.
    pub database: Option<String>,
    /// The blobs, when not the data dir's `blobs/`: an S3-compatible store, `s3://BUCKET[/PREFIX]`
    /// (several replicas share one; the data dir's `blobs/` becomes this replica's cache).
    pub blobs: Option<String>,
    /// The S3 API's URL (e.g. `http://127.0.0.1:9000`; unset: AWS), its region, and the access
    /// key: its id, and a file holding the secret (never the secret itself). Unset, the
    /// standard `AWS_*` environment variables are read.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key_file: Option<PathBuf>,
    /// With blobs on S3: `redirect` sends downloads of T0/T1 LFS files to a presigned URL of the
    /// object store; `proxy` streams every download through the server.
    pub blob_downloads: String,
    /// How long a presigned download URL stays valid (seconds).
    pub blob_url_ttl_secs: u64,
    /// Address to bind.
    pub listen: SocketAddr,
    /// Base URL written into responses (default: http://LISTEN).
    pub public_url: Option<String>,
    /// How often the transparency log integrates events and signs a checkpoint (ms).
    pub log_interval_ms: u64,
    /// Prefix of OSV ids (`x_` marks a local database).
    pub osv_prefix: String,
    /// The one currency of the funding ledger (a code, e.g. EUR), and the digits of its minor
    /// unit.
    pub currency: String,
    pub currency_decimals: u32,
    /// Let webhooks point at loopback, private and other special-purpose addresses.
    pub allow_private_webhooks: bool,
    /// Let `/metrics` answer without an admin token (for a scraper on a private network).
    pub metrics_public: bool,
    /// Log lines as JSON objects (`json`) or as text (`text`, the default).
    pub log_format: String,
    /// How long an LFS upload link stays valid (seconds).
    pub upload_link_ttl_secs: i64,
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: usize,
    /// Open connections from one address at most (IPv6 per /64).
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request's headers, from when its connection opens.
    pub header_read_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub idle_timeout: u64,
    /// Seconds in which a request in flight must move 1 KiB.
    pub stall_timeout: u64,
    /// Notification e-mail: the SMTP server, `smtp://host[:port]` (a local relay, plain),
    /// `smtp://host?tls=required` (STARTTLS) or `smtps://host[:port]`; unset, no e-mail.
    pub smtp_url: Option<String>,
    /// The sender of notification e-mail (default: weir@ the public URL's host).
    pub mail_from: Option<String>,
    /// SMTP credentials: the user, and a file holding the password (never the password itself).
    pub smtp_username: Option<String>,
    pub smtp_password_file: Option<PathBuf>,
    /// The secure research environment (`[research]` in weir.toml).
    #[serde(default)]
    pub research: Research,
}

/// The secure research environment's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Research {
    /// Run jobs in the sandbox: needs root, bubblewrap, the job group and its slot users
    /// (scripts/enclave-setup.sh). Also `weir serve --research`.
    pub enabled: bool,
    /// The group of the slot users.
    pub group: String,
    /// One user per concurrent job.
    pub slots: Vec<String>,
    /// Where job directories are made (default: DATA-enclave beside the data dir).
    pub work_dir: Option<PathBuf>,
    /// Per-job limits.
    pub memory_mb: u64,
    pub cpus: f64,
    pub wall_secs: u64,
    pub pids: u32,
}

impl Default for Research {
    fn default() -> Research {
        Research {
            enabled: false,
            group: "weirjob".into(),
            slots: vec!["weirjob0".into(), "weirjob1".into()],
            work_dir: None,
            memory_mb: 2048,
            cpus: 1.0,
            wall_secs: 600,
            pids: 128,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data: PathBuf::from("./weir-data"),
            database: None,
            blobs: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key_file: None,
            blob_downloads: "redirect".into(),
            blob_url_ttl_secs: 300,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            log_interval_ms: 1000,
            osv_prefix: "x_WEIR".into(),
            currency: "EUR".into(),
            currency_decimals: 2,
            allow_private_webhooks: false,
            metrics_public: false,
            log_format: "text".into(),
            upload_link_ttl_secs: 3600,
            max_connections: 1024,
            max_connections_per_address: 256,
            header_read_timeout: 10,
            idle_timeout: 60,
            stall_timeout: 30,
            smtp_url: None,
            mail_from: None,
            smtp_username: None,
            smtp_password_file: None,
            research: Research::default(),
        }
    }
}

/// The environment variables read (`WEIR_` + the field name in upper case).
const ENV_KEYS: [&str; 28] = [
    "data",
    "database",
    "blobs",
    "s3_endpoint",
    "s3_region",
    "s3_access_key_id",
    "s3_secret_access_key_file",
    "blob_downloads",
    "blob_url_ttl_secs",
    "listen",
    "public_url",
    "log_interval_ms",
    "osv_prefix",
    "currency",
    "currency_decimals",
    "allow_private_webhooks",
    "metrics_public",
    "log_format",
    "upload_link_ttl_secs",
    "max_connections",
    "max_connections_per_address",
    "header_read_timeout",
    "idle_timeout",
    "stall_timeout",
    "smtp_url",
    "mail_from",
    "smtp_username",
    "smtp_password_file",
];

/// The flags of `weir serve` and `weir config show`: each overrides the file and the
/// environment when given.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct ConfigArgs {
    /// A weir.toml (default: ./weir.toml if it exists; also WEIR_CONFIG).
    #[arg(long, env = "WEIR_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data dir: SQLite database, blobs and secrets [default: ./weir-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// The database: postgres://USER@HOST:PORT/DB [default: the SQLite file in the data dir].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The blobs on an S3-compatible store: s3://BUCKET[/PREFIX] [default: the data dir's blobs/].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blobs: Option<String>,
    /// The S3 API's URL, e.g. http://127.0.0.1:9000 [default: AWS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// With blobs on S3: redirect (T0/T1 LFS downloads go to a presigned URL) or proxy [default: redirect].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_downloads: Option<String>,
    /// How long a presigned download URL stays valid, in seconds [default: 300].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_url_ttl_secs: Option<u64>,
    /// Address to bind [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Base URL written into responses (default: http://LISTEN). Set HF_ENDPOINT to exactly this.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// How often the transparency log signs a checkpoint, in milliseconds [default: 1000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_interval_ms: Option<u64>,
    /// Prefix of OSV ids in the incident feed [default: x_WEIR].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osv_prefix: Option<String>,
    /// Let webhooks point at loopback, private and other special-purpose addresses.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_private_webhooks: Option<bool>,
    /// Let `/metrics` answer without an admin token (for a scraper on a private network).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_public: Option<bool>,
    /// Log lines as `json` objects (one per line, with the request id) or as `text` [default: text].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// How long an LFS upload link stays valid, in seconds [default: 3600].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_link_ttl_secs: Option<i64>,
    /// Open connections at most; more wait in the listen backlog [default: 1024].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Open connections from one address at most, IPv6 per /64 [default: 256].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_address: Option<usize>,
    /// Seconds a client has to send its request headers [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// Seconds in which a request in flight must move 1 KiB [default: 30].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_timeout: Option<u64>,
    /// Send notification e-mail through this SMTP server (smtp://HOST:PORT, smtps://…).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The sender of notification e-mail [default: weir@ the public URL's host].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
}

/// Merges defaults < the config file < `WEIR_*` < flags, and checks the result.
pub fn load(args: &ConfigArgs) -> Result<Config> {
    let file: Option<PathBuf> = match &args.config {
        Some(p) => {
            if !p.is_file() {
                return Err(anyhow!(
                    "the config file {} does not exist; pass an existing weir.toml with --config",
                    p.display()
                ));
            }
            Some(p.clone())
        }
        None => Some(PathBuf::from("weir.toml")).filter(|p| p.is_file()),
    };
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(f) = &file {
        fig = fig.merge(Toml::file(f));
    }
    let c: Config = fig
        .merge(Env::prefixed("WEIR_").only(&ENV_KEYS))
        .merge(Serialized::defaults(args))
        .extract()
        .map_err(|e| {
            let place = file
                .as_deref()
                .map(Path::display)
                .map(|d| format!(" (file {d}, WEIR_* variables and flags)"))
                .unwrap_or_default();
            anyhow!("invalid configuration{place}: {e}")
        })?;
    if c.max_connections == 0 || c.max_connections_per_address == 0 {
        return Err(anyhow!(
            "max_connections and max_connections_per_address must be at least 1"
        ));
    }
    if c.header_read_timeout == 0 || c.idle_timeout == 0 || c.stall_timeout == 0 {
        return Err(anyhow!("timeouts are whole seconds, at least 1"));
    }
    let r = &c.research;
    if r.memory_mb < 64 || !(r.cpus > 0.0 && r.cpus <= 256.0) || r.wall_secs == 0 || r.pids < 8 {
        return Err(anyhow!(
            "[research] limits: memory_mb at least 64, cpus in (0, 256], wall_secs at least 1, pids at least 8"
        ));
    }
    if c.currency.len() < 2
        || c.currency.len() > 8
        || !c.currency.bytes().all(|b| b.is_ascii_uppercase())
        || c.currency_decimals > 6
    {
        return Err(anyhow!(
            "currency is a code of 2 to 8 capital letters (e.g. EUR) and currency_decimals 0 to 6"
        ));
    }
    if c.smtp_url.as_deref().is_some_and(|u| u.contains('@')) {
        return Err(anyhow!(
            "smtp_url must not hold credentials: set smtp_username and smtp_password_file"
        ));
    }
    if c.upload_link_ttl_secs < 60 {
        return Err(anyhow!(
            "upload_link_ttl_secs must be at least 60 (the client needs time to upload)"
        ));
    }
    if !matches!(c.blob_downloads.as_str(), "redirect" | "proxy") {
        return Err(anyhow!(
            "blob_downloads is redirect or proxy, not {:?}",
            c.blob_downloads
        ));
    }
    if !(10..=3600).contains(&c.blob_url_ttl_secs) {
        return Err(anyhow!(
            "blob_url_ttl_secs is 10 to 3600: a presigned URL is a bearer link, keep it short"
        ));
    }
    if let Some(b) = &c.blobs {
        weir_store::s3::parse_url(b).map_err(|e| anyhow!("blobs: {e}"))?;
    }
    if !matches!(c.log_format.as_str(), "text" | "json") {
        return Err(anyhow!(
            "log_format is text or json, not {:?}",
            c.log_format
        ));
    }
    Ok(c)
}

/// Where the blobs are, when not the data dir's `blobs/`: the S3 settings, with the secret read
/// from its file.
pub fn s3_settings(c: &Config) -> Result<Option<weir_store::S3Settings>> {
    let Some(url) = &c.blobs else {
        return Ok(None);
    };
    let secret_access_key = match &c.s3_secret_access_key_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| anyhow!("reading s3_secret_access_key_file {}: {e}", p.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    Ok(Some(weir_store::S3Settings {
        url: url.clone(),
        endpoint: c.s3_endpoint.clone(),
        region: c.s3_region.clone(),
        access_key_id: c.s3_access_key_id.clone(),
        secret_access_key,
    }))
}

/// The effective configuration as TOML (what `weir config show` prints).
pub fn to_toml(c: &Config) -> Result<String> {
    let mut c = c.clone();
    c.database = c.database.as_deref().map(weir_store::dialect::redacted);
    toml::to_string(&c).map_err(|e| anyhow!("{e}"))
}
