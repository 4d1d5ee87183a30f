use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const WEIR: &str = env!("CARGO_BIN_EXE_weir");

pub fn weir(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(WEIR);
    c.args(args)
        .env_remove("WEIR_TOKEN")
        .env_remove("WEIR_SERVER")
        .env("WEIR_CONFIG_DIR", "/nonexistent-weir-config");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run weir")
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "weir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub struct Server {
    pub data: PathBuf,
    pub url: String,
    port: u16,
    child: Option<Child>,
    /// More `weir serve` flags.
    extra: Vec<String>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_on(data, free_port())
    }

    /// Starts on a given port (the same public URL, so clients keep their pinned log state).
    pub fn start_on(data: &Path, port: u16) -> Server {
        Server::start_with(data, port, &[])
    }

    /// Starts with more `weir serve` flags.
    pub fn start_with(data: &Path, port: u16, extra: &[&str]) -> Server {
        let mut s = Server {
            data: data.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new(WEIR)
            .args(["serve", "--data"])
            .arg(&self.data)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn weir serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "weir serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no graceful shutdown, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn admin(&self, args: &[&str]) -> Output {
        let data = self.data.to_str().expect("utf8");
        let mut full = vec!["admin", "--data", data];
        full.extend_from_slice(args);
        weir(&full, &[])
    }

    /// Creates a user (and org membership) and returns a write token.
    pub fn user_with_token(&self, name: &str) -> String {
        ok(&self.admin(&[
            "user",
            "add",
            name,
            "--email",
            &format!("{name}@example.org"),
        ]));
        ok(&self.admin(&["token", "create", name, "--scope", "write"]))
            .trim()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
