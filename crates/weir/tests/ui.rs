//! The web UI in a real browser: headless Chromium driven through ChromeDriver (fantoccini)
//! against `weir serve --demo`. A newcomer finds a model by searching, reads its card, requests
//! access with the required field; the owner approves it from the review queue; the newcomer sees
//! the download snippet. A forged cross-site form is refused; sign-out ends the session; hostile
//! strings in every user-supplied field run no script and escape no markup; axe-core finds no
//! serious or critical violation on any page, signed out and signed in; every page is captured at
//! desktop and phone width (`WEIR_SCREENSHOTS=DIR` keeps the PNGs).
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them these tests say so and pass,
//! unless `WEIR_E2E=1` (CI) makes that a failure.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::harness::{WEIR, free_port};

const PASSWORD: &str = "weir-demo-password";
const AXE: &str = include_str!("assets/axe-4.14.1.min.js");
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// ChromeDriver on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// `None` (with a note) when the browser is not installed, unless `WEIR_E2E=1`.
    fn start() -> Option<Driver> {
        if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists()
        {
            assert!(
                std::env::var("WEIR_E2E").as_deref() != Ok("1"),
                "WEIR_E2E=1 but {CHROMEDRIVER} or {CHROMIUM} is missing: apt-get install chromium chromium-driver"
            );
            eprintln!(
                "note: skipping the browser tests: install Debian's chromium and chromium-driver to run them"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Driver {
            child,
            url,
            profiles: tempfile::tempdir().expect("tempdir"),
        })
    }

    /// A fresh browser (its own profile: no cookies) at the given window size.
    async fn browser(&self, width: u32, height: u32) -> Client {
        let profile = tempfile::Builder::new()
            .prefix("chrome-")
            .tempdir_in(self.profiles.path())
            .expect("profile")
            .keep();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-quic", "--no-first-run",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// `weir serve --demo` on a free port, with the tokens it printed.
struct Demo {
    child: Child,
    url: String,
    tokens: Arc<Mutex<Vec<(String, String)>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// The demo without its board (so an operator's actions take effect alone).
    fn start() -> Demo {
        Demo::launch(false, false)
    }

    /// The demo as `weir serve --demo` seeds it, its board and pending proposal included.
    fn with_board() -> Demo {
        Demo::launch(true, false)
    }

    /// The demo with the research environment (`--research`: root, after
    /// scripts/enclave-setup.sh): its second job's outputs await their checkers.
    fn with_research() -> Demo {
        Demo::launch(false, true)
    }

    fn launch(board: bool, research: bool) -> Demo {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut child = Command::new(WEIR)
            .args(["serve", "--demo", "--data"])
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(if research {
                &["--research"][..]
            } else {
                &[][..]
            })
            .env("WEIR_DEMO_BOARD", if board { "on" } else { "off" })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let keep = tokens.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let Some(t) = words.iter().find(|w| w.starts_with("weir_"))
                    && words.len() > 3
                    && let Ok(mut k) = keep.lock()
                {
                    k.push((words[0].to_string(), t.to_string()));
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            assert!(Instant::now() < deadline, "the demo did not come up");
            if let Some(status) = child.try_wait().expect("wait") {
                panic!("weir serve --demo exited: {status}");
            }
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            let printed = tokens.lock().map(|t| t.len() >= 9).unwrap_or(false);
            if up && printed {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Demo {
            child,
            url,
            tokens,
            _dir: dir,
        }
    }

    fn token(&self, user: &str) -> String {
        self.tokens
            .lock()
            .expect("tokens")
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no demo token for {user}"))
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn sign_in(c: &Client, demo: &Demo, user: &str) {
    c.goto(&demo.at("/login")).await.expect("login page");
    type_in(c, Locator::Id("name"), user).await;
    type_in(c, Locator::Id("password"), PASSWORD).await;
    click(c, Locator::Css("main form button[type=submit]")).await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("form[action='/logout']"))
        .await
        .expect("signed in");
}

async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text")
}

#[test]
fn a_newcomer_requests_access_and_the_owner_approves_it_from_the_queue() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::start();
    runtime().block_on(async {
        let grace = driver.browser(1280, 900).await;
        // Finds the model by searching from the front page, and reads its card.
        grace.goto(&demo.at("/")).await.expect("home");
        type_in(&grace, Locator::Id("q"), "vetted").await;
        click(&grace, Locator::Css("form[role=search] button")).await;
        grace
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::LinkText("acme/vetted-model"))
            .await
            .expect("a result")
            .click()
            .await
            .expect("open");
        grace
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(".card-body h1"))
            .await
            .expect("the card");
        assert!(text(&grace).await.contains("Vetted model"));
        // Signs in from the access panel and comes back to the page.
        click(&grace, Locator::LinkText("Sign in to get access")).await;
        grace
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("name"))
            .await
            .expect("form")
            .send_keys("grace")
            .await
            .expect("type");
        type_in(&grace, Locator::Id("password"), PASSWORD).await;
        click(&grace, Locator::Css("main form button[type=submit]")).await;
        grace
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("purpose"))
            .await
            .expect("the request form")
            .send_keys("benchmark refusal behaviour")
            .await
            .expect("type");
        type_in(
            &grace,
            Locator::Css("input[name=field_affiliation]"),
            "Safety Lab NL",
        )
        .await;
        click(&grace, Locator::Css("#access form button[type=submit]")).await;
        grace
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//*[contains(text(), 'Your request')]"))
            .await
            .expect("the request's state");
        assert!(text(&grace).await.contains("State: pending"));

        // The owner approves it from the queue.
        let alice = driver.browser(1280, 900).await;
        sign_in(&alice, &demo, "alice").await;
        alice.goto(&demo.at("/review")).await.expect("queue");
        let body = text(&alice).await;
        assert!(body.contains("grace asks for acme/vetted-model"), "{body}");
        assert!(
            body.contains("Identity level accredited, country NL"),
            "{body}"
        );
        assert!(body.contains("Safety Lab NL"), "{body}");
        let item = alice
            .find(Locator::XPath(
                "//li[.//strong[text()='grace']]//button[@value='approve']",
            ))
            .await
            .expect("grace's approve button");
        item.click().await.expect("approve");
        alice
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//h1[text()='Review queue']"))
            .await
            .expect("back to the queue");
        assert!(!text(&alice).await.contains("grace asks for"));

        // The newcomer now sees the download snippet.
        grace
            .goto(&demo.at("/acme/vetted-model"))
            .await
            .expect("model");
        let body = text(&grace).await;
        assert!(body.contains("You can download this model."), "{body}");
        assert!(
            body.contains("snapshot_download(\"acme/vetted-model\")"),
            "{body}"
        );
        grace.close().await.expect("close");
        alice.close().await.expect("close");
    });
}

#[test]
fn forged_forms_are_refused_and_signing_out_ends_the_session() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::start();
    // Another origin serving a page that posts a form to weir by itself.
    let evil = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let evil_url = format!(
        "http://127.0.0.1:{}/",
        evil.local_addr().expect("addr").port()
    );
    let target = demo.at("/settings/tokens");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in evil.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let page = format!(
                "<!doctype html><form id=f method=post action=\"{target}\"><input name=name value=stolen><input name=scope value=write></form><script>document.getElementById('f').submit()</script>"
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    runtime().block_on(async {
        let c = driver.browser(1280, 900).await;
        sign_in(&c, &demo, "carol").await;
        let before = tokens_of(&demo, "carol").await;
        c.goto(&evil_url).await.expect("evil page");
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//*[contains(text(), 'csrf_failed')]"))
            .await
            .expect("the forged post is refused");
        assert_eq!(tokens_of(&demo, "carol").await, before, "no token was made");
        // Signing out ends the session: the account page asks to sign in again.
        c.goto(&demo.at("/settings")).await.expect("settings");
        click(&c, Locator::Css("form[action='/logout'] button")).await;
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::LinkText("Sign in"))
            .await
            .expect("signed out");
        c.goto(&demo.at("/settings")).await.expect("settings");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/login", "{url}");
        c.close().await.expect("close");
    });
}

async fn tokens_of(demo: &Demo, user: &str) -> usize {
    let r = reqwest::Client::new()
        .get(demo.at(&format!("/api/v1/tokens?user={user}")))
        .bearer_auth(demo.token("reviewer1"))
        .send()
        .await
        .expect("tokens");
    let v: Value = r.json().await.expect("json");
    v["tokens"].as_array().map(Vec::len).unwrap_or(0)
}

/// Whether anything hostile ran or escaped on the current page: a flag set by a script, a
/// script not from this server, an inline handler, an element the hostile strings would make.
async fn page_is_clean(c: &Client) -> Result<(), String> {
    let v = c
        .execute(
            "const bad = [];
             if (window.__pwned !== undefined) bad.push('a hostile script ran: ' + window.__pwned);
             for (const s of document.scripts) if (!s.src.startsWith(location.origin + '/static/')) bad.push('script ' + s.outerHTML.slice(0, 80));
             for (const e of document.querySelectorAll('*')) for (const a of e.attributes) if (a.name.startsWith('on')) bad.push('handler ' + a.name + ' on ' + e.tagName);
             for (const e of document.querySelectorAll('iframe, object, embed, marquee, img[src=x]')) bad.push('element ' + e.tagName);
             for (const a of document.querySelectorAll('a[href]')) if (a.href.startsWith('javascript:')) bad.push('link ' + a.href);
             return bad;",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let bad: Vec<String> = serde_json::from_value(v).map_err(|e| e.to_string())?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// A hostile string within the 64 bytes of a required field's name.
const SHORT_HOSTILE: &str = "\"><img src=x onerror=\"window.__pwned=1\">";

const HOSTILE: &str = "<script>window.__pwned='script'</script><img src=x onerror=\"window.__pwned='img'\"><svg onload=\"window.__pwned='svg'\"></svg>\"'><b onmouseover=\"window.__pwned='b'\">x</b><iframe src=\"javascript:window.__pwned='frame'\"></iframe>";

#[test]
fn hostile_strings_in_every_field_run_no_script_and_escape_no_markup() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::start();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let alice = demo.token("alice");
        // A card, a commit summary, a required field's name, gating terms.
        let card = format!(
            "---\nlicense: mit\ntags: ['{}']\n---\n# Card {HOSTILE}\n\n[click](javascript:window.__pwned='link')\n\n{HOSTILE}\n",
            HOSTILE.replace('\'', "''")
        );
        let mut body = json!({"key": "header", "value": {"summary": format!("commit {HOSTILE}")}}).to_string();
        body.push('\n');
        body.push_str(
            &json!({"key": "file", "value": {"path": "README.md", "content": base64::engine::general_purpose::STANDARD.encode(card), "encoding": "base64"}})
                .to_string(),
        );
        let r = http
            .post(demo.at("/api/models/acme/tiny-llama-instruct/commit/main"))
            .bearer_auth(&alice)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("commit");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        let r = http
            .put(demo.at("/api/v1/repos/acme/vetted-model/gating"))
            .bearer_auth(&alice)
            .json(&json!({"required_fields": ["affiliation", SHORT_HOSTILE], "terms": HOSTILE}))
            .send()
            .await
            .expect("gating");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        // A request's purpose and fields, as the requester files them.
        let grace = demo.token("grace");
        let r = http
            .post(demo.at("/api/v1/repos/acme/vetted-model/access/requests"))
            .bearer_auth(&grace)
            .json(&json!({"purpose": HOSTILE, "fields": {"affiliation": HOSTILE, SHORT_HOSTILE: HOSTILE}}))
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        // A webhook URL (a public address literal, so no name is resolved), shown on the
        // account page.
        let r = http
            .put(demo.at("/api/v1/notifications/webhook"))
            .bearer_auth(&grace)
            .json(&json!({"url": format!("http://93.184.216.34/hook?x={SHORT_HOSTILE}&y={HOSTILE}")}))
            .send()
            .await
            .expect("webhook");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        // An incident's summary and details, which its publisher reads.
        let r = http
            .post(demo.at("/api/v1/incidents"))
            .bearer_auth(&grace)
            .json(&json!({"repo": "acme/tiny-llama-instruct", "kind": "incident", "class": "minor",
                "summary": HOSTILE, "details": {"description": HOSTILE, "harm": HOSTILE}}))
            .send()
            .await
            .expect("incident");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        let v: Value = r.json().await.expect("json");
        let incident_page = format!("/incidents/{}", v["id"].as_str().expect("id"));
        // A reviewer's reason, which the requester reads on the model page.
        let r = http
            .post(demo.at("/api/v1/repos/acme/vetted-model/access/requests/frank"))
            .bearer_auth(&alice)
            .json(&json!({"action": "reject", "reason": HOSTILE}))
            .send()
            .await
            .expect("review");
        assert!(r.status().is_success(), "{:?}", r.text().await);

        let anon = driver.browser(1280, 900).await;
        let a = driver.browser(1280, 900).await;
        sign_in(&a, &demo, "alice").await;
        let f = driver.browser(1280, 900).await;
        sign_in(&f, &demo, "frank").await;
        let g = driver.browser(1280, 900).await;
        sign_in(&g, &demo, "grace").await;
        // A token name, made through the account page's form.
        g.goto(&demo.at("/settings")).await.expect("settings");
        type_in(&g, Locator::Id("token-name"), HOSTILE).await;
        type_in(&g, Locator::Id("token-password"), PASSWORD).await;
        click(&g, Locator::Css("#tokens form button")).await;
        g.wait().at_most(Duration::from_secs(30)).for_element(Locator::Id("new-token")).await.expect("made");
        let pages: &[(&Client, &str, &str)] = &[
            (&anon, "/", "Card"),
            (&anon, "/?q=tiny&tag=%3Cscript%3E", ""),
            (&anon, "/acme/tiny-llama-instruct", "Card"),
            (&g, "/acme/vetted-model", ""),
            (&f, "/acme/vetted-model", ""),
            (&a, "/review", "grace"),
            (&g, "/settings", ""),
            (&a, &incident_page, ""),
            (&a, "/acme/tiny-llama-instruct", ""),
            (&g, &incident_page, ""),
        ];
        for (c, path, _) in pages {
            c.goto(&demo.at(path)).await.expect("page");
            // Hover and focus everything, so handlers that would need it get their chance.
            c.execute(
                "for (const e of document.querySelectorAll('*')) { e.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); }",
                vec![],
            )
            .await
            .expect("hover");
            if let Err(e) = page_is_clean(c).await {
                panic!("{path}: {e}");
            }
        }
        // The strings are there, as text.
        anon.goto(&demo.at("/acme/tiny-llama-instruct"))
            .await
            .expect("page");
        assert!(text(&anon).await.contains("window.__pwned='img'"));
        f.goto(&demo.at("/acme/vetted-model")).await.expect("page");
        assert!(text(&f).await.contains("Reviewer's reason: <script>"));
        g.goto(&demo.at("/settings")).await.expect("page");
        assert!(text(&g).await.contains("http://93.184.216.34/hook?x=\"><img"));
        for c in [anon, a, f, g] {
            c.close().await.expect("close");
        }
    });
}

#[test]
fn the_log_explorer_verifies_an_inclusion_proof_in_the_page() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::start();
    runtime().block_on(async {
        let c = driver.browser(1280, 900).await;
        // Wait for the demo's events to reach a checkpoint, then find a public release.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            c.goto(&demo.at("/log?repo=acme/tiny-llama")).await.expect("log");
            if text(&c).await.contains("release") {
                break;
            }
            assert!(Instant::now() < deadline, "no release of acme/tiny-llama in the log");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let body = text(&c).await;
        assert!(body.contains("Checkpoint") && body.contains("weir log verify"), "{body}");
        click(&c, Locator::Css("tbody tr td a")).await;
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("verify-button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("verify");
        let result = c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#verify-result[data-included]"))
            .await
            .expect("a result");
        assert_eq!(
            result.attr("data-included").await.expect("attr").as_deref(),
            Some("yes"),
            "{}",
            result.text().await.unwrap_or_default()
        );
        let said = result.text().await.expect("text");
        assert!(said.starts_with("Verified: entry is included"), "{said}");
        // 127.0.0.1 is a secure context: the checkpoint's Ed25519 signature is checked too.
        assert_eq!(
            result.attr("data-signature").await.expect("attr").as_deref(),
            Some("true"),
            "{said}"
        );
        // The same verifier refuses a changed entry, a changed path and another log's key.
        let v = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const box = document.getElementById('verify');
                 const entry = weirLog.fromBase64(box.getAttribute('data-entry'));
                 const proof = document.getElementById('proof').textContent;
                 const vkey = box.getAttribute('data-vkey');
                 const changed = entry.slice(); changed[changed.length - 2] ^= 1;
                 const lines = proof.split('\\n');
                 const i = lines.findIndex(l => l.startsWith('index ')) + 1;
                 const bad = lines.slice(); if (bad[i] && bad[i].length) bad[i] = btoa('x'.repeat(32));
                 const otherKey = vkey.split('+').map((p, i) => i === 1 ? '00000000' : p).join('+');
                 Promise.all([
                   weirLog.verifyEntry(entry, proof, vkey),
                   weirLog.verifyEntry(changed, proof, vkey),
                   weirLog.verifyEntry(entry, bad.join('\\n'), vkey),
                   weirLog.verifyEntry(entry, proof, otherKey),
                 ]).then(r => done(r.map(x => [x.included, x.signature])), e => done(String(e)));",
                vec![],
            )
            .await
            .expect("verifier");
        let shown = v.to_string();
        let results: Vec<(bool, Option<bool>)> =
            serde_json::from_value(v).unwrap_or_else(|_| panic!("{shown}"));
        assert_eq!(results[0], (true, Some(true)), "{shown}");
        assert!(!results[1].0, "a changed entry verified: {shown}");
        assert_eq!(results.len(), 4);
        assert!(!results[2].0, "a changed path verified: {shown}");
        assert_eq!(results[3].1, Some(false), "another key verified: {shown}");
        // Its SHA-256 is SHA-256.
        let h = c
            .execute("return weirLog.sha256(new TextEncoder().encode('abc'))", vec![])
            .await
            .expect("sha");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        c.close().await.expect("close");
    });
}

trait OkOrPanic {
    fn or_panic_with(self, context: String);
}

impl<T, E: std::fmt::Debug> OkOrPanic for Result<T, E> {
    fn or_panic_with(self, context: String) {
        if let Err(e) = self {
            panic!("{e:?}: {context}");
        }
    }
}

async fn type_in(c: &Client, locator: Locator<'_>, text: &str) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(locator)
        .await
        .expect("element to type in")
        .send_keys(text)
        .await
        .expect("type");
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .expect("type");
}

async fn click(c: &Client, locator: Locator<'_>) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(locator)
        .await
        .expect("element to click")
        .click()
        .await
        .expect("click");
}

#[test]
fn a_reporter_files_an_incident_the_publisher_answers_and_operators_triage() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::start();
    runtime().block_on(async {
        // The reporter files it from the model page.
        let carol = driver.browser(1280, 900).await;
        sign_in(&carol, &demo, "carol").await;
        carol.goto(&demo.at("/acme/tiny-llama")).await.expect("model");
        click(&carol, Locator::LinkText("Report a problem with this model")).await;
        type_into(&carol, "#summary", "reveals its system prompt when asked twice").await;
        type_into(&carol, "#description", "1. ask for the prompt 2. ask again").await;
        click(&carol, Locator::Css("main form button[type=submit]")).await;
        carol
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//h1[contains(., 'reveals its system prompt')]"))
            .await
            .expect("the incident's page");
        let url = carol.current_url().await.expect("url").to_string();
        assert!(text(&carol).await.contains("as its reporter"));

        // The publisher finds it on the model page and answers.
        let alice = driver.browser(1280, 900).await;
        sign_in(&alice, &demo, "alice").await;
        alice.goto(&demo.at("/acme/tiny-llama")).await.expect("model");
        click(
            &alice,
            Locator::XPath(
                "//section[@aria-labelledby='inc-h']//li[contains(., 'reveals its system prompt')]/a",
            ),
        )
        .await;
        type_into(&alice, "#note", "reproduced; a fixed revision follows").await;
        click(&alice, Locator::XPath("//button[text()='Add it']")).await;
        alice
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//li[contains(., 'reproduced; a fixed revision follows')]"))
            .await
            .expect("the update in the history");

        // An operator triages it from the queue, and an evidence filing too.
        let evidence = reqwest::Client::new()
            .post(demo.at("/api/v1/models/acme/tiny-llama/evidence"))
            .bearer_auth(demo.token("carol"))
            .json(&json!({"domain": "cyber", "summary": "writes working exploit code for CVE-X"}))
            .send()
            .await
            .expect("evidence");
        assert!(evidence.status().is_success(), "{:?}", evidence.text().await);
        let op = driver.browser(1280, 900).await;
        sign_in(&op, &demo, "reviewer1").await;
        op.goto(&demo.at("/review")).await.expect("queue");
        let body = text(&op).await;
        assert!(body.contains("reveals its system prompt when asked twice"), "{body}");
        assert!(body.contains("writes working exploit code for CVE-X"), "{body}");
        let item = "//li[.//p[contains(., 'writes working exploit code')]]";
        let reason = op
            .find(Locator::XPath(&format!("{item}//input[@name='reason']")))
            .await
            .expect("reason");
        reason.send_keys("reproduced in the lab").await.expect("type");
        op.find(Locator::XPath(&format!("{item}//select[@name='severity']")))
            .await
            .expect("severity")
            .select_by_value("high")
            .await
            .expect("select");
        click(&op, Locator::XPath(&format!("{item}//button[@value='confirm']"))).await;
        op.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//h1[text()='Review queue']"))
            .await
            .expect("back to the queue");
        assert!(!text(&op).await.contains("writes working exploit code for CVE-X"));
        op.goto(&url).await.expect("incident");
        type_into(&op, "#t-reason", "reproducible").await;
        op.find(Locator::Id("to"))
            .await
            .expect("to")
            .select_by_value("triaged")
            .await
            .expect("select");
        op.find(Locator::Id("severity"))
            .await
            .expect("severity")
            .select_by_value("medium")
            .await
            .expect("select");
        click(&op, Locator::XPath("//button[text()='Move it']")).await;
        op.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::XPath("//p[contains(., 'state triaged')]"))
            .await
            .or_panic_with(text(&op).await);
        for c in [carol, alice, op] {
            c.close().await.expect("close");
        }
    });
}

/// The demo's pages, as who sees them.
const PAGES: &[(&str, &str, &str)] = &[
    ("", "/", "catalogue"),
    ("", "/?q=acme&tier=T2&sort=downloads", "search"),
    ("", "/acme/tiny-llama", "model-open"),
    ("", "/acme/vetted-model", "model-vetted-signed-out"),
    ("", "/acme/restricted-model", "model-restricted"),
    ("", "/acme/sealed-model", "model-sealed"),
    ("", "/login", "sign-in"),
    ("", "/acme/nothing-here", "not-found"),
    ("grace", "/acme/vetted-model", "model-request-form"),
    ("frank", "/acme/vetted-model", "model-request-pending"),
    ("erin", "/acme/vetted-model", "model-approved"),
    ("carol", "/acme/tiny-llama-instruct", "model-terms"),
    ("alice", "/review", "review-queue"),
    ("alice", "/settings", "account"),
    ("reviewer1", "/review", "review-queue-operator"),
    ("reviewer1", "/operator", "operator"),
    ("erin", "/review", "review-queue-board"),
    (
        "carol",
        "/incidents/new?repo=acme/tiny-llama",
        "incident-report-form",
    ),
    (
        "",
        "/incidents/new?repo=acme/tiny-llama",
        "incident-report-anonymous",
    ),
    ("", "/acme", "publisher"),
    ("", "/safetylab", "publisher-suspended"),
    ("", "/openlab/mini-decoder/commit/main", "commit"),
    ("", "/log", "log"),
    ("", "/log/entry/0", "log-entry"),
];

#[test]
fn every_page_passes_axe_and_is_captured_at_desktop_and_phone_width() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::with_board();
    let keep = std::env::var_os("WEIR_SCREENSHOTS").map(std::path::PathBuf::from);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = keep.clone().unwrap_or_else(|| out.path().to_path_buf());
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    runtime().block_on(async {
        let mut failures = vec![];
        let mut sessions: Vec<(String, Client)> = vec![];
        // The pages whose address the demo's data decides: an incident's, as its publisher and
        // as an operator sees it.
        let incidents: Value = reqwest::Client::new()
            .get(demo.at("/api/v1/incidents"))
            .bearer_auth(demo.token("reviewer1"))
            .send()
            .await
            .expect("incidents")
            .json()
            .await
            .expect("json");
        let list = incidents["incidents"].as_array().cloned().unwrap_or_default();
        let incident = list
            .iter()
            .find(|i| i["repo"].as_str().is_some_and(|r| r.starts_with("acme/")))
            .and_then(|i| i["id"].as_str())
            .expect("the demo has an incident on one of acme's models")
            .to_string();
        let incident_page = format!("/incidents/{incident}");
        let mut pages: Vec<(&str, &str, &str)> = PAGES.to_vec();
        pages.push(("reviewer1", &incident_page, "incident-operator"));
        pages.push(("alice", &incident_page, "incident-publisher"));
        for (who, path, name) in pages {
            let found = sessions.iter().position(|(w, _)| w == who);
            let idx = match found {
                Some(i) => i,
                None => {
                    let c = driver.browser(1280, 900).await;
                    if !who.is_empty() {
                        sign_in(&c, &demo, who).await;
                    }
                    sessions.push((who.to_string(), c));
                    sessions.len() - 1
                }
            };
            let c = &sessions[idx].1;
            for (width, height, suffix) in [(1280u32, 900u32, "desktop"), (390, 844, "phone")] {
                c.set_window_size(width, height).await.expect("size");
                c.goto(&demo.at(path)).await.expect("page");
                let size: Value = c
                    .execute(
                        "return document.documentElement.outerHTML.length",
                        vec![],
                    )
                    .await
                    .expect("size");
                assert!(
                    size.as_u64().unwrap_or(0) < 100_000,
                    "{path} is {size} bytes of HTML"
                );
                let overflow: Value = c
                    .execute(
                        "return document.documentElement.scrollWidth > window.innerWidth + 1",
                        vec![],
                    )
                    .await
                    .expect("overflow");
                if overflow == Value::Bool(true) {
                    failures.push(format!("{path} ({suffix}): scrolls sideways"));
                }
                let png = c.screenshot().await.expect("screenshot");
                assert!(png.starts_with(b"\x89PNG"), "{path}");
                std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).expect("write");
                let script = format!(
                    "{AXE}\n;const done = arguments[arguments.length - 1];
                     axe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations
                       .filter(v => v.impact === 'serious' || v.impact === 'critical')
                       .map(v => v.id + ': ' + v.help + ' (' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') + ')')))
                       .catch(e => done(['axe failed: ' + e]));"
                );
                let v = c.execute_async(&script, vec![]).await.expect("axe");
                let found: Vec<String> = serde_json::from_value(v).unwrap_or_default();
                for f in found {
                    failures.push(format!("{path} ({suffix}, as {who:?}): {f}"));
                }
            }
        }
        for (_, c) in sessions {
            c.close().await.expect("close");
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
    let pngs = std::fs::read_dir(&dir).expect("dir").count();
    assert!(pngs >= PAGES.len() * 2, "{pngs} screenshots");
}

#[test]
fn two_checkers_release_a_jobs_outputs_from_the_browser() {
    // The demo's jobs run in the real sandbox: as root after scripts/enclave-setup.sh, which
    // scripts/test.sh runs and marks with WEIR_ENCLAVE_REQUIRED.
    if std::env::var_os("WEIR_ENCLAVE_REQUIRED").is_none() {
        eprintln!("note: no research environment here (WEIR_ENCLAVE_REQUIRED unset): skipped");
        return;
    }
    let Some(driver) = Driver::start() else {
        return;
    };
    let demo = Demo::with_research();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        let grace = demo.token("grace");
        let mut job = None;
        for who in ["reviewer1", "reviewer2"] {
            let c = driver.browser(1280, 900).await;
            sign_in(&c, &demo, who).await;
            c.goto(&demo.at("/review")).await.expect("queue");
            let link = c
                .wait()
                .at_most(Duration::from_secs(30))
                .for_element(Locator::Css("#jobs ~ ul a[href^='/review/jobs/']"))
                .await
                .expect("a job awaiting its checkers");
            let href = link.attr("href").await.expect("href").expect("a link");
            let id: i64 = href
                .trim_start_matches("/review/jobs/")
                .parse()
                .expect("a job id");
            assert!(
                job.is_none_or(|j| j == id),
                "both checkers see the same job"
            );
            job = Some(id);
            link.click().await.expect("open");
            let body = text(&c).await;
            assert!(
                body.contains(&format!("Check the outputs of job {id}")),
                "{body}"
            );
            assert!(body.contains("Your votes are blind"), "{body}");
            // Still held from its team before the second vote.
            let v: Value = http
                .get(demo.at(&format!("/api/v1/jobs/{id}")))
                .bearer_auth(&grace)
                .send()
                .await
                .expect("job")
                .json()
                .await
                .expect("json");
            assert_eq!(v["outputs_state"], "awaiting_review", "{v}");
            // Every file approved (the default), with a reason the log keeps.
            let files = c
                .find_all(Locator::Css("input[name^='reason_']"))
                .await
                .expect("files");
            assert!(!files.is_empty(), "{body}");
            for f in files {
                f.send_keys("scores only").await.expect("reason");
            }
            click(
                &c,
                Locator::Css("form[action^='/review/jobs/'] button[type=submit]"),
            )
            .await;
            c.wait()
                .at_most(Duration::from_secs(30))
                .for_element(Locator::Css("h1"))
                .await
                .expect("back to the queue");
            let url = c.current_url().await.expect("url");
            assert_eq!(url.path(), "/review", "{url}");
            if let Err(e) = page_is_clean(&c).await {
                panic!("{e}");
            }
            c.close().await.expect("close");
        }
        let id = job.expect("a job");
        let v: Value = http
            .get(demo.at(&format!("/api/v1/jobs/{id}")))
            .bearer_auth(&grace)
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("json");
        assert_eq!(v["outputs_state"], "released", "{v}");
    });
}
