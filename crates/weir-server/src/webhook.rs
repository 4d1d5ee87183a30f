//! Webhook delivery: HMAC-signed POSTs to the URLs accounts registered, which must never turn
//! the registry into a probe of its own network (SSRF).
//!
//! A target is resolved once per delivery; every address it resolves to is checked against
//! the IANA special-purpose address registries (IPv4 and IPv6, with embedded IPv4 addresses
//! unwrapped), and the connection goes to exactly the checked addresses (the client is pinned
//! to them, so DNS rebinding between check and connect changes nothing). No proxy, no redirects.
//! The operator may allow private targets (`--allow-private-webhooks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_json::Value;
use sha2::Sha256;

use crate::AppState;

fn v4_in(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

/// IPv4 blocks of the IANA IPv4 Special-Purpose Address Registry, plus multicast: none of them
/// is a public webhook target.
const V4_SPECIAL: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1
    ([192, 31, 196, 0], 24), // AS112-v4
    ([192, 52, 193, 0], 24), // AMT
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([192, 175, 48, 0], 24), // direct delegation AS112
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2
    ([203, 0, 113, 0], 24),  // TEST-NET-3
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved (and 255.255.255.255, limited broadcast)
];

/// IPv6 blocks of the IANA IPv6 Special-Purpose Address Registry and the other non-global
/// ranges (multicast, deprecated site-local). Blocks that embed an IPv4 address (mapped,
/// compatible, NAT64, 6to4, Teredo) are refused whole: they reach IPv4 hosts indirectly.
const V6_SPECIAL: &[([u16; 8], u32)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 96), // ::/128, ::1/128 and IPv4-compatible ::/96
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96), // IPv4-mapped
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96), // NAT64 well-known prefix
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo, ORCHID, …)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4
    ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48), // direct delegation AS112
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // segment routing SIDs
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique-local
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
];

/// Whether a webhook must not reach `ip`: it is in a special-purpose block (private, loopback,
/// link-local, shared, documentation, benchmarking, reserved, multicast, an IPv6 block that
/// embeds IPv4, …).
pub fn special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => V4_SPECIAL.iter().any(|(n, b)| v4_in(v, *n, *b)),
        IpAddr::V6(v) => V6_SPECIAL.iter().any(|(n, b)| v6_in(v, *n, *b)),
    }
}

/// A webhook URL's host and port, resolved once, every address checked.
pub struct Target {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Resolves `url` and refuses it if any address it resolves to is special-purpose.
pub async fn resolve_public(url: &str) -> Result<Target, String> {
    let u = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u
        .host_str()
        .ok_or("no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = u.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| format!("cannot resolve {host}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{host} resolves to nothing"));
    }
    if addrs.iter().any(|a| special_purpose(a.ip())) {
        // Which address is not said: the answer must not turn into a resolver of internal names.
        return Err(format!(
            "{host} is not a public address (loopback, private, link-local or another special-purpose range)"
        ));
    }
    Ok(Target { host, addrs })
}

/// A webhook URL as registered (API and account page alike): at most
/// [`crate::limits::WEBHOOK_CHECKS`] checks per account, http(s), at most 2000 bytes, a URL, and
/// (unless the operator allows private ones) resolving, within [`RESOLVE_SECS`], to public
/// addresses only. Every way of failing that check answers alike, so registering is no probe of
/// which internal names exist.
pub async fn checked_url(
    state: &AppState,
    account: &str,
    url: &str,
) -> Result<String, crate::ApiError> {
    use weir_wire::ErrorCode;
    if let Err(retry) = state
        .store
        .db
        .take_rate(
            &format!("webhook:{account}"),
            1,
            crate::limits::WEBHOOK_CHECKS,
            crate::now(),
        )
        .await?
    {
        return Err(crate::ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many webhook changes; try again in {retry} seconds"),
        ));
    }
    let url = url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && reqwest::Url::parse(url).is_ok();
    if !ok {
        return Err(crate::ApiError::bad_request(
            ErrorCode::InvalidUrl,
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    if !state.config.allow_private_webhooks {
        let checked = tokio::time::timeout(
            std::time::Duration::from_secs(RESOLVE_SECS),
            check_public_target(url),
        )
        .await;
        if !matches!(checked, Ok(Ok(()))) {
            return Err(crate::ApiError::bad_request(
                ErrorCode::WebhookPrivateAddress,
                format!("{url}: not a publicly reachable address (it does not resolve, or resolves to a loopback, private, link-local or other special-purpose address)"),
            )
            .next("use a publicly reachable URL (the operator may allow private ones with --allow-private-webhooks)"));
        }
    }
    Ok(url.to_string())
}

/// How long registering a webhook waits for its host to resolve.
pub const RESOLVE_SECS: u64 = 5;

/// A new webhook secret (shown once to its account).
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

/// Refuses a URL whose host resolves to a special-purpose address (at registration).
pub async fn check_public_target(url: &str) -> Result<(), String> {
    resolve_public(url).await.map(|_| ())
}

pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut m = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// A client for one delivery: no proxy, no redirects, and, unless private targets are allowed,
/// pinned to the addresses that were checked.
fn client_for(target: Option<&Target>) -> Option<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(t) = target
        && t.host.parse::<IpAddr>().is_err()
    {
        b = b.resolve_to_addrs(&t.host, &t.addrs);
    }
    b.build().ok()
}

/// Sends the payload to each account's webhook in the background: up to three attempts, the
/// outcome kept as the webhook's `last_status`. The in-app notification is already committed.
pub fn spawn_webhooks(state: &AppState, accounts: Vec<String>, payload: Value) {
    let store = state.store.clone();
    let allow_private = state.config.allow_private_webhooks;
    tokio::spawn(async move {
        let body = payload.to_string();
        for account in accounts {
            let Ok(Some(w)) = store.db.webhook(&account).await else {
                continue;
            };
            // Resolved once, now; the connection goes to these addresses only.
            let target = if allow_private {
                None
            } else {
                match resolve_public(&w.url).await {
                    Ok(t) => Some(t),
                    Err(why) => {
                        let _ = store
                            .db
                            .set_webhook_status(&account, &format!("refused: {why}"))
                            .await;
                        continue;
                    }
                }
            };
            let Some(client) = client_for(target.as_ref()) else {
                continue;
            };
            let sig = webhook_signature(&w.secret, body.as_bytes());
            let mut status = String::from("failed");
            for attempt in 0..3u64 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
                }
                match client
                    .post(&w.url)
                    .header("content-type", "application/json")
                    .header("x-weir-event", "incident.confirmed")
                    .header("x-weir-signature-256", &sig)
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        status = format!("delivered {}", r.status().as_u16());
                        break;
                    }
                    Ok(r) => status = format!("HTTP {}", r.status().as_u16()),
                    Err(e) => status = format!("error: {}", e.without_url()),
                }
            }
            tracing::info!(account = %account, status = %status, "webhook");
            let _ = store.db.set_webhook_status(&account, &status).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::special_purpose;

    #[test]
    fn special_purpose_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(special_purpose(a.parse().expect("ip")), "{a}");
        }
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "198.17.255.255",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(!special_purpose(a.parse().expect("ip")), "{a}");
        }
    }
}
