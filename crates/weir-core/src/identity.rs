//! Identity levels (DESIGN.md §2), lowest first. A level above `account` comes from a signed,
//! expiring attestation by a registered verifier (or the operator's shortcut); the effective level
//! is computed at decision time, so an expired or revoked attestation takes effect at once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityLevel {
    Anonymous,
    Account,
    Affiliated,
    Identified,
    Accredited,
}

impl IdentityLevel {
    pub const ALL: [IdentityLevel; 5] = [
        IdentityLevel::Anonymous,
        IdentityLevel::Account,
        IdentityLevel::Affiliated,
        IdentityLevel::Identified,
        IdentityLevel::Accredited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityLevel::Anonymous => "anonymous",
            IdentityLevel::Account => "account",
            IdentityLevel::Affiliated => "affiliated",
            IdentityLevel::Identified => "identified",
            IdentityLevel::Accredited => "accredited",
        }
    }

    pub fn parse(s: &str) -> Option<IdentityLevel> {
        IdentityLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A two-letter country code (ISO 3166-1 alpha-2, upper case), as attested.
pub fn parse_country(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    (up.len() == 2 && up.bytes().all(|b| b.is_ascii_uppercase())).then_some(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_names() {
        assert!(IdentityLevel::Anonymous < IdentityLevel::Account);
        assert!(IdentityLevel::Identified < IdentityLevel::Accredited);
        for l in IdentityLevel::ALL {
            assert_eq!(IdentityLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(IdentityLevel::parse("root"), None);
        assert_eq!(parse_country("de"), Some("DE".into()));
        assert_eq!(parse_country("DEU"), None);
    }
}
