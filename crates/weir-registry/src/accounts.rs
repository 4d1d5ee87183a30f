//! Passwords and the web UI's sessions. A password is stored as an argon2id PHC string; a
//! session is 32 random bytes the browser keeps in a cookie, stored as their SHA-256 with the
//! session's CSRF token. Signing in with an unknown name costs the same work as a wrong
//! password, so the answer's timing does not say which names exist.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use rand::RngCore;
use sha2::{Digest, Sha256};
use weir_core::Name;
use weir_store::Store;
use weir_store::sessions::Session;
use weir_wire::ErrorCode;

use crate::{Kind, ServiceError};

/// Bounds on a password, in characters: long enough to resist guessing, short enough that
/// hashing it is bounded work.
pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;
/// How long a session lasts without signing in again.
pub const SESSION_TTL_SECS: i64 = 14 * 86_400;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "weir_session";

/// A PHC string of a password nobody has, verified against when the account has no password,
/// so unknown and known names take the same time.
const DECOY: &str = "weir-decoy-password-never-valid";

fn weak(message: String) -> ServiceError {
    ServiceError::refused(Kind::Invalid, ErrorCode::WeakPassword, message).next(format!(
        "choose a passphrase of {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    ))
}

/// Checks a new password's bounds and hashes it (argon2id, a fresh salt).
pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(weak(format!(
            "the password has {n} characters; at least {MIN_PASSWORD}"
        )));
    }
    if n > MAX_PASSWORD {
        return Err(weak(format!(
            "the password has {n} characters; at most {MAX_PASSWORD}"
        )));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| {
            ServiceError::refused(
                Kind::Invalid,
                ErrorCode::WeakPassword,
                format!("the password could not be hashed: {e}"),
            )
        })
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Sets `user`'s password (an existing user, not an org) and ends its sessions: whoever signed
/// in with the old password is signed out.
pub async fn set_password(
    store: &Store,
    user: &Name,
    password: &str,
    now: i64,
) -> Result<(), ServiceError> {
    match store.db.account(user.as_str()).await? {
        Some(a) if a.kind == weir_store::AccountKind::User => {}
        _ => {
            return Err(ServiceError::refused(
                Kind::NotFound,
                ErrorCode::UserNotFound,
                format!("no user {user}"),
            ));
        }
    }
    let password = password.to_string();
    let phc = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServiceError::Store(weir_store::StoreError::Corrupt(e.to_string())))??;
    store.db.set_password(user, &phc, now).await?;
    store.db.revoke_sessions_of(user.as_str(), now).await?;
    Ok(())
}

/// A new session: the secret for the cookie (shown once) and the session as stored.
pub struct SignedIn {
    pub secret: String,
    pub session: Session,
}

fn random_hex() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Signs `name` in with `password`: a new session, or `bad_credentials` (the same answer for an
/// unknown name, an org, an account without a password and a wrong password).
pub async fn sign_in(
    store: &Store,
    name: &str,
    password: &str,
    now: i64,
) -> Result<SignedIn, ServiceError> {
    let bad = || {
        ServiceError::refused(
            Kind::Unauthenticated,
            ErrorCode::BadCredentials,
            "the name or the password is wrong",
        )
        .next("check both, or ask an operator to set a password (weir admin user password NAME)")
    };
    if password.chars().count() > MAX_PASSWORD || name.len() > 96 {
        return Err(bad());
    }
    let account = Name::parse(name).ok();
    let stored = match &account {
        Some(n) => store.db.password(n.as_str()).await?,
        None => None,
    };
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(decoy);
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify(&pw, &phc))
        .await
        .unwrap_or(false);
    let (Some(account), true, true) = (account, known, ok) else {
        return Err(bad());
    };
    let secret = random_hex();
    let csrf = random_hex();
    let expires_at = now + SESSION_TTL_SECS;
    store
        .db
        .create_session(&account, &hash_secret(&secret), &csrf, now, expires_at)
        .await?;
    let session = store
        .db
        .session(&hash_secret(&secret), now)
        .await?
        .ok_or_else(bad)?;
    Ok(SignedIn { secret, session })
}

/// Checks `name`'s password again (a step-up before a sensitive change, such as making a token).
pub async fn confirm_password(
    store: &Store,
    name: &Name,
    password: &str,
) -> Result<(), ServiceError> {
    let wrong = || {
        ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::BadCredentials,
            "the password is wrong",
        )
        .next("enter your current password")
    };
    if password.is_empty() || password.chars().count() > MAX_PASSWORD {
        return Err(wrong());
    }
    let phc = store
        .db
        .password(name.as_str())
        .await?
        .unwrap_or_else(decoy);
    let pw = password.to_string();
    if tokio::task::spawn_blocking(move || verify(&pw, &phc))
        .await
        .unwrap_or(false)
    {
        Ok(())
    } else {
        Err(wrong())
    }
}

/// The decoy's PHC string, hashed once per process.
fn decoy() -> String {
    static DECOY_PHC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY_PHC
        .get_or_init(|| {
            Argon2::default()
                .hash_password(DECOY.as_bytes())
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// The live session a cookie's secret names.
pub async fn session(
    store: &Store,
    secret: &str,
    now: i64,
) -> Result<Option<Session>, ServiceError> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(store.db.session(&hash_secret(secret), now).await?)
}

/// Ends one session, or (with `everywhere`) every session of its account.
pub async fn sign_out(
    store: &Store,
    session: &Session,
    everywhere: bool,
    now: i64,
) -> Result<u64, ServiceError> {
    if everywhere {
        Ok(store
            .db
            .revoke_sessions_of(session.account.as_str(), now)
            .await?)
    } else {
        Ok(u64::from(store.db.revoke_session(session.id, now).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_bounded_and_hashed_with_argon2id() {
        assert!(hash_password("short").is_err());
        assert!(hash_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
        let phc = hash_password("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse battery!", &phc));
        assert!(!verify("anything", "not a phc string"));
    }
}
