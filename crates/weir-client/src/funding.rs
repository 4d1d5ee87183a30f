//! Funding pools, pledges, disbursements, payouts and statements.

use weir_wire::funding::{
    Disbursement, Payout, PayoutDecision, Payouts, PledgeSubmission, Pool, PoolSubmission, Pools,
    Statement,
};

use crate::{Client, Result};

impl Client {
    pub async fn create_pool(&self, p: &PoolSubmission) -> Result<Pool> {
        self.call(reqwest::Method::POST, "/api/v1/funding/pools", Some(p))
            .await
    }

    pub async fn pools(&self) -> Result<Pools> {
        self.call(reqwest::Method::GET, "/api/v1/funding/pools", None::<&()>)
            .await
    }

    pub async fn funding_pool(&self, name: &str) -> Result<Pool> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/funding/pools/{}", crate::encode_segment(name)),
            None::<&()>,
        )
        .await
    }

    pub async fn pledge(&self, pool: &str, p: &PledgeSubmission) -> Result<Pool> {
        self.call(
            reqwest::Method::POST,
            &format!(
                "/api/v1/funding/pools/{}/pledges",
                crate::encode_segment(pool)
            ),
            Some(p),
        )
        .await
    }

    pub async fn disburse(&self, pool: &str, d: &Disbursement) -> Result<Pool> {
        self.call(
            reqwest::Method::POST,
            &format!(
                "/api/v1/funding/pools/{}/disbursements",
                crate::encode_segment(pool)
            ),
            Some(d),
        )
        .await
    }

    pub async fn payouts(&self) -> Result<Payouts> {
        self.call(reqwest::Method::GET, "/api/v1/funding/payouts", None::<&()>)
            .await
    }

    pub async fn decide_payout(&self, id: i64, d: &PayoutDecision) -> Result<Payout> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/funding/payouts/{id}/decision"),
            Some(d),
        )
        .await
    }

    pub async fn statement(&self, user: &str) -> Result<Statement> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/funding/statements/{}", crate::encode_segment(user)),
            None::<&()>,
        )
        .await
    }
}
