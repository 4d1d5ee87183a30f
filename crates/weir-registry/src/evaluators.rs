//! Accredited evaluators and evaluation suites, as operators change them: each change commits
//! with its event, then every repo is re-classified (results may count or stop counting).

use weir_core::eval::Suite;
use weir_store::Store;
use weir_wire::ErrorCode;

use crate::classification::{Lowering, reclassify_all};
use crate::{Context, Kind, ServiceError};

fn invalid(code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(Kind::Invalid, code, message)
}

fn event(ctx: &Context, now: i64, action: &str, subject: &str, reason: &str) -> weir_core::Event {
    let mut e = ctx.event(now, action, None, reason, serde_json::json!({}));
    e.subject = Some(subject.to_string());
    e
}

/// Accredits `name` with its Ed25519 public key (hex). Returns how many repos were raised.
pub async fn add(
    store: &Store,
    name: &str,
    public_key_hex: &str,
    ctx: &Context,
    now: i64,
) -> Result<usize, ServiceError> {
    weir_core::Name::parse(name).map_err(|e| invalid(ErrorCode::InvalidName, e.to_string()))?;
    let key = public_key_hex.trim();
    weir_signing::public_key(key).map_err(|e| {
        invalid(ErrorCode::InvalidBody, format!("evaluator key: {e}"))
            .next("use the .pub file from 'weir eval keygen'")
    })?;
    store
        .db
        .add_evaluator_logged(
            name,
            key,
            &event(ctx, now, "evaluator.add", name, "accredited"),
        )
        .await?;
    Ok(reclassify_all(store, ctx.actor.as_deref(), Lowering::AfterReview, now).await?)
}

/// Revokes `name`: its results stop counting at once. Returns how many repos were raised.
pub async fn revoke(
    store: &Store,
    name: &str,
    ctx: &Context,
    now: i64,
) -> Result<usize, ServiceError> {
    store
        .db
        .revoke_evaluator_logged(name, &event(ctx, now, "evaluator.revoke", name, "revoked"))
        .await?;
    Ok(reclassify_all(store, ctx.actor.as_deref(), Lowering::AfterReview, now).await?)
}

/// Registers a suite (a new version when the name exists), checked first.
pub async fn add_suite(
    store: &Store,
    suite: Suite,
    ctx: &Context,
    now: i64,
) -> Result<Suite, ServiceError> {
    if crate::board::governed(store).await? {
        return Err(crate::board::board_required("adding an evaluation suite"));
    }
    add_suite_decided(store, suite, ctx, now).await
}

/// [`add_suite`] as the board decided it (or the operator, where no board governs).
pub async fn add_suite_decided(
    store: &Store,
    suite: Suite,
    ctx: &Context,
    now: i64,
) -> Result<Suite, ServiceError> {
    check_suite(&suite)?;
    let e = event(ctx, now, "suite.add", &suite.name, "added");
    let s = store.db.add_suite_logged(&suite, &e).await?;
    reclassify_all(store, ctx.actor.as_deref(), Lowering::AfterReview, now).await?;
    Ok(s)
}

/// A suite's fields are sensible: a name, chance in [0, 1), positive question counts, 1 to 20
/// task names, a metric and a source, each bounded.
pub fn check_suite(suite: &Suite) -> Result<(), ServiceError> {
    weir_core::Name::parse(&suite.name)
        .map_err(|e| invalid(ErrorCode::InvalidName, format!("suite name: {e}")))?;
    if !(0.0..1.0).contains(&suite.chance) {
        return Err(invalid(
            ErrorCode::InvalidField,
            format!("chance {} must be in [0, 1)", suite.chance),
        ));
    }
    if suite.questions <= 0 || suite.original_questions.is_some_and(|o| o <= 0) {
        return Err(invalid(
            ErrorCode::InvalidField,
            "question counts must be positive",
        ));
    }
    if suite.source.trim().is_empty() {
        return Err(invalid(
            ErrorCode::MissingField,
            "a suite must say where it comes from (source)",
        ));
    }
    let plain =
        |t: &str, max: usize| !t.is_empty() && t.len() <= max && t.chars().all(|c| !c.is_control());
    if !plain(suite.source.trim(), 2000) || !plain(&suite.metric, 64) {
        return Err(invalid(
            ErrorCode::InvalidField,
            "a suite's metric is 1 to 64 characters and its source at most 2000",
        ));
    }
    if suite.tasks.is_empty()
        || suite.tasks.len() > 20
        || !suite.tasks.iter().all(|t| plain(t, 128))
    {
        return Err(invalid(
            ErrorCode::InvalidField,
            "a suite runs 1 to 20 harness tasks, each named in 1 to 128 characters",
        ));
    }
    Ok(())
}
