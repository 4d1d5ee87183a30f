//! Per-address and per-account rate limits for what anyone may do without an accredited
//! identity (anonymous reports and attachments, webhook checks, password step-ups): fixed
//! windows counted in the database (`weir_store::rates`), so N replicas allow what one does.

/// One attachment from a signed-in account; from an anonymous reporter.
pub const MAX_ATTACHMENT: u64 = 256 << 20;
pub const MAX_ANON_ATTACHMENT: u64 = 32 << 20;
/// Attachments of one report: how many, how many bytes in all.
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_REPORT_ATTACHMENTS: u64 = 512 << 20;
/// How many pieces of evidence one account may file per day.
pub use weir_registry::evidence::EVIDENCE_PER_DAY;

/// What one key may do in one window.
pub use weir_store::rates::Rate as Limit;

/// Webhook registrations (each a name resolution) per account per hour.
pub const WEBHOOK_CHECKS: Limit = Limit {
    max: 20,
    window_secs: 3600,
};

/// Anonymous incident reports per client address per day.
pub const ANON_REPORTS: Limit = Limit {
    max: 10,
    window_secs: 86_400,
};
/// Incident reports per signed-in account per day.
pub const ACCOUNT_REPORTS: Limit = Limit {
    max: 50,
    window_secs: 86_400,
};
/// Attachment bytes per client address per day, for anonymous reporters.
pub const ANON_ATTACHMENT_BYTES: Limit = Limit {
    max: 512 << 20,
    window_secs: 86_400,
};
