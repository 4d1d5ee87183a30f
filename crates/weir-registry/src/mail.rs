//! Notifications by e-mail (SMTP, lettre), and the notifications that are not an incident's: a
//! new access request (to the repo's reviewers), a decision on one (to the requester), outputs
//! ready for review (to operators and output checkers), a review deadline about to pass (to the
//! reviewers, once). Every notification is also in-app; an account with an e-mail address also
//! gets it by mail, claimed once in the outbox whichever process sends it. A mail names what
//! happened and links to its page; it never carries a token, a secret or a file.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use weir_store::{AccessRequest, Repo, Store, StoreError};

/// The notifications whose text goes into the mail; every other kind (an incident's) is mailed
/// as "there is news" with a link, its text staying behind sign-in.
pub const MAILED_IN_FULL: &[&str] = &[
    "access_request",
    "access_decision",
    "outputs_ready",
    "deadline",
];

/// How far back unsent notifications are mailed (older ones stay in-app only).
pub const MAIL_WINDOW_SECS: i64 = 7 * 86_400;
/// E-mails sent per round at most.
pub const BATCH: i64 = 100;
/// A review deadline this close (seconds) gets its reminder.
pub const REMIND_BEFORE_SECS: i64 = 86_400;

/// The SMTP settings, as configured.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    /// `smtp://host[:port]` (plain, for a local relay), `smtp://host?tls=required` (STARTTLS)
    /// or `smtps://host[:port]` (TLS). No credentials in it.
    pub url: String,
    /// The sender, e.g. `weir <weir@registry.example>`.
    pub from: String,
    pub username: Option<String>,
    /// Read from a file, never from the configuration itself.
    pub password: Option<String>,
}

/// Sends notification e-mails.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// A mailer for `settings`, or the problem with them (one line).
    pub fn new(settings: &MailSettings, public_url: &str) -> Result<Mailer, String> {
        if settings.url.contains('@') {
            return Err(
                "the SMTP URL must not hold credentials: set mail.username and mail.password_file"
                    .into(),
            );
        }
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|e| format!("the SMTP URL {:?} is not usable: {e}", settings.url))?;
        // TLS only as `smtps://…` or with the query's `tls` exactly `required` (STARTTLS).
        let lower = settings.url.to_ascii_lowercase();
        let tls_required = lower
            .split_once('?')
            .map(|(_, q)| q.split('&').any(|kv| kv == "tls=required"))
            .unwrap_or(false);
        let plain = !lower.starts_with("smtps://") && !tls_required;
        if plain && (settings.username.is_some() || settings.password.is_some()) {
            return Err(
                "SMTP credentials are sent only over TLS: use smtps://HOST or smtp://HOST?tls=required"
                    .into(),
            );
        }
        if let (Some(u), Some(p)) = (&settings.username, &settings.password) {
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                u.clone(),
                p.clone(),
            ));
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("the sender {:?} is not an address: {e}", settings.from))?;
        Ok(Mailer {
            transport: b.timeout(Some(std::time::Duration::from_secs(20))).build(),
            from,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    fn message(&self, item: &weir_store::mail::MailItem) -> Result<Message, String> {
        let to: Mailbox = item
            .email
            .parse()
            .map_err(|e| format!("{:?} is not an address: {e}", item.email))?;
        // An incident's notification can carry what is still under coordinated disclosure: the
        // mail only says there is one, and the page (behind sign-in) says what.
        let generic;
        let item = if MAILED_IN_FULL.contains(&item.kind.as_str()) {
            item
        } else {
            generic = weir_store::mail::MailItem {
                message: "There is news about an incident concerning a model you received".into(),
                link: Some("/settings".into()),
                ..item.clone()
            };
            &generic
        };
        let subject: String = format!("[weir] {}", item.message)
            .chars()
            .filter(|c| !c.is_control())
            .take(150)
            .collect();
        let link = item
            .link
            .as_deref()
            .map(|l| format!("\n\n{}{l}", self.public_url))
            .unwrap_or_default();
        let body = format!(
            "{}{link}\n\n-- \nYou get this because you have an account ({}) at {}.\nYour notifications: {}/settings\n",
            item.message, item.account, self.public_url, self.public_url
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())
    }
}

/// Sends what is pending once: each notification claimed, sent, marked. Returns how many went.
pub async fn deliver_once(store: &Store, mailer: &Mailer, now: i64) -> Result<usize, StoreError> {
    let mut sent = 0;
    for item in store
        .db
        .mail_pending(now - MAIL_WINDOW_SECS, now, BATCH)
        .await?
    {
        // Claimed at the moment of sending, not the round's start: a slow round never hands
        // another sender a claim that already looks stale.
        if !store.db.claim_mail(&item, crate::clock::now()).await? {
            continue;
        }
        let result = match mailer.message(&item) {
            Ok(m) => mailer
                .transport
                .send(m)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match &result {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(notification = item.id, error = %e, "a notification e-mail was not sent; it is retried")
            }
        }
        store
            .db
            .mail_done(
                item.id,
                result.as_ref().map(|_| ()).map_err(String::as_str),
                crate::clock::now(),
            )
            .await?;
    }
    Ok(sent)
}

/// Who reviews access to `repo`: the owners of its namespace (the user, for a user's repo).
async fn reviewers(store: &Store, repo: &Repo) -> Result<Vec<String>, StoreError> {
    let ns = repo.repo_id.namespace.as_str();
    // An org without owners has nobody to tell (never the org account's own address).
    store.db.owners_of(ns).await
}

/// Best effort: a notification that could not be recorded is logged, never fails the change it
/// is about (which is already committed).
fn logged(r: Result<bool, StoreError>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "a notification could not be recorded");
    }
}

/// A new pending request: each reviewer is told.
pub async fn request_filed(store: &Store, repo: &Repo, req: &AccessRequest, now: i64) {
    let Ok(people) = reviewers(store, repo).await else {
        return;
    };
    let message = format!(
        "{} asks for access to {} (decision due {})",
        req.account,
        repo.repo_id,
        crate::clock::iso8601(req.due_at)
            .chars()
            .take(10)
            .collect::<String>()
    );
    for p in people.iter().filter(|p| **p != req.account) {
        logged(
            store
                .db
                .notify(p, "access_request", &message, Some("/review"), None, now)
                .await,
        );
    }
}

/// A reviewer's decision: the requester is told, with the reason.
pub async fn request_decided(store: &Store, repo: &Repo, req: &AccessRequest, now: i64) {
    let message = match &req.reason {
        Some(r) => format!(
            "Your access to {} is {}: {r}",
            repo.repo_id,
            req.state.as_str()
        ),
        None => format!("Your access to {} is {}", repo.repo_id, req.state.as_str()),
    };
    let link = format!("/{}#access", repo.repo_id);
    logged(
        store
            .db
            .notify(
                &req.account,
                "access_decision",
                &message,
                Some(&link),
                None,
                now,
            )
            .await,
    );
}

/// A job's outputs await review: operators and output checkers are told (never its team, who
/// learn it from the job's state).
pub async fn outputs_ready(store: &Store, job_id: i64, team: &[String], now: i64) {
    let mut people = store.db.operators().await.unwrap_or_default();
    people.extend(
        store
            .db
            .output_checkers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.revoked_at.is_none())
            .map(|c| c.account),
    );
    people.sort();
    people.dedup();
    let message = format!("The outputs of job {job_id} await two output checkers");
    let link = format!("/review/jobs/{job_id}");
    for p in people.iter().filter(|p| !team.contains(p)) {
        logged(
            store
                .db
                .notify(p, "outputs_ready", &message, Some(&link), None, now)
                .await,
        );
    }
}

/// Pending requests whose decision is due within a day: their reviewers are reminded once.
pub async fn remind_deadlines(store: &Store, now: i64) -> Result<usize, StoreError> {
    let mut made = 0;
    for (repo_id, req) in store
        .db
        .pending_due_between(now, now + REMIND_BEFORE_SECS, 10_000)
        .await?
    {
        let Some(repo) = store.db.repo_by_id(repo_id).await? else {
            continue;
        };
        let message = format!(
            "The decision on {}'s request for {} is due by {}",
            req.account,
            repo.repo_id,
            crate::clock::iso8601(req.due_at)
        );
        for p in reviewers(store, &repo).await? {
            let key = format!("deadline:{repo_id}:{}:{}:{p}", req.account, req.due_at);
            if store
                .db
                .notify(&p, "deadline", &message, Some("/review"), Some(&key), now)
                .await?
            {
                made += 1;
            }
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer::new(
            &MailSettings {
                url: "smtp://127.0.0.1:2525".into(),
                from: "weir <weir@registry.example>".into(),
                ..Default::default()
            },
            "https://registry.example/",
        )
        .expect("mailer")
    }

    fn item(kind: &str, message: &str) -> weir_store::mail::MailItem {
        weir_store::mail::MailItem {
            id: 1,
            account: "carol".into(),
            email: "carol@example.org".into(),
            kind: kind.into(),
            message: message.into(),
            link: Some("/acme/m#access".into()),
            attempts: 0,
            claimed_at: None,
        }
    }

    #[test]
    fn mails_say_what_happened_with_the_link_and_never_an_incidents_text() {
        let m = mailer();
        let raw = String::from_utf8(
            m.message(&item(
                "access_decision",
                "Your access to acme/m is approved",
            ))
            .expect("message")
            .formatted(),
        )
        .expect("utf-8");
        assert!(
            raw.contains("Subject: [weir] Your access to acme/m is approved"),
            "{raw}"
        );
        assert!(
            raw.contains("https://registry.example/acme/m#access"),
            "{raw}"
        );
        assert!(raw.contains("To: carol@example.org"), "{raw}");
        let raw = String::from_utf8(
            m.message(&item(
                "incident",
                "Confirmed: the model leaks the embargoed exploit",
            ))
            .expect("message")
            .formatted(),
        )
        .expect("utf-8");
        assert!(!raw.contains("embargoed exploit"), "{raw}");
        assert!(raw.contains("news about an incident"), "{raw}");
        // A header injection in a message stays one subject line.
        let raw = String::from_utf8(
            m.message(&item("access_request", "x\r\nBcc: evil@example.org"))
                .expect("message")
                .formatted(),
        )
        .expect("utf-8");
        let headers = raw.split("\r\n\r\n").next().unwrap_or("");
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{raw}");
    }

    #[test]
    fn credentials_only_over_tls_and_never_in_the_url() {
        let with = |url: &str| MailSettings {
            url: url.into(),
            from: "weir@registry.example".into(),
            username: Some("weir".into()),
            password: Some("secret".into()),
        };
        assert!(Mailer::new(&with("smtp://relay.example:25"), "https://r.example").is_err());
        assert!(Mailer::new(&with("SMTP://relay.example:25"), "https://r.example").is_err());
        assert!(
            Mailer::new(
                &with("smtp://relay.example?tls=opportunistic&x=tls=required"),
                "https://r.example"
            )
            .is_err()
        );
        assert!(Mailer::new(&with("smtps://relay.example:465"), "https://r.example").is_ok());
        assert!(
            Mailer::new(
                &with("smtp://relay.example?tls=required"),
                "https://r.example"
            )
            .is_ok()
        );
        let mut in_url = with("smtp://weir:secret@relay.example");
        in_url.username = None;
        in_url.password = None;
        assert!(Mailer::new(&in_url, "https://r.example").is_err());
    }
}
