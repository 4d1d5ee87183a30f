//! Compute grants: calls, applications, reviews, awards, usage, reports.

use weir_wire::grants::{
    Application, ApplicationSubmission, Applications, Award, Awards, Call, CallSubmission, Calls,
    GrantDecision, GrantReviewSubmission, ProgressReport, ReportAcceptance, UsageStatement,
};

use crate::{Client, Result};

impl Client {
    pub async fn open_call(&self, c: &CallSubmission) -> Result<Call> {
        self.call(reqwest::Method::POST, "/api/v1/grants/calls", Some(c))
            .await
    }

    pub async fn calls(&self) -> Result<Calls> {
        self.call(reqwest::Method::GET, "/api/v1/grants/calls", None::<&()>)
            .await
    }

    pub async fn grant_call(&self, name: &str) -> Result<Call> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/grants/calls/{}", crate::encode_segment(name)),
            None::<&()>,
        )
        .await
    }

    pub async fn close_call(&self, name: &str) -> Result<Call> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/calls/{}/close", crate::encode_segment(name)),
            None::<&()>,
        )
        .await
    }

    pub async fn apply_grant(&self, a: &ApplicationSubmission) -> Result<Application> {
        self.call(
            reqwest::Method::POST,
            "/api/v1/grants/applications",
            Some(a),
        )
        .await
    }

    pub async fn grant_applications(&self, call: Option<&str>) -> Result<Applications> {
        let path = match call {
            Some(c) => format!(
                "/api/v1/grants/applications?call={}",
                crate::encode_segment(c)
            ),
            None => "/api/v1/grants/applications".to_string(),
        };
        self.call(reqwest::Method::GET, &path, None::<&()>).await
    }

    pub async fn grant_application(&self, id: i64) -> Result<Application> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/grants/applications/{id}"),
            None::<&()>,
        )
        .await
    }

    pub async fn review_grant(&self, id: i64, r: &GrantReviewSubmission) -> Result<Application> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/applications/{id}/review"),
            Some(r),
        )
        .await
    }

    pub async fn withdraw_grant(&self, id: i64) -> Result<Application> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/applications/{id}/withdraw"),
            None::<&()>,
        )
        .await
    }

    pub async fn awards(&self) -> Result<Awards> {
        self.call(reqwest::Method::GET, "/api/v1/grants/awards", None::<&()>)
            .await
    }

    pub async fn award_usage(&self, id: i64) -> Result<UsageStatement> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/grants/awards/{id}/usage"),
            None::<&()>,
        )
        .await
    }

    pub async fn report_progress(&self, id: i64, r: &ProgressReport) -> Result<Award> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/awards/{id}/report"),
            Some(r),
        )
        .await
    }

    pub async fn accept_report(&self, id: i64, d: &ReportAcceptance) -> Result<Award> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/awards/{id}/accept"),
            Some(d),
        )
        .await
    }

    pub async fn revoke_award(&self, id: i64, d: &GrantDecision) -> Result<Award> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/grants/awards/{id}/revoke"),
            Some(d),
        )
        .await
    }
}
