//! Consortium governance: the board, proposals, signatures.

use weir_wire::board::{Board, Proposal, Proposals, ProposedChange, SignatureSubmission};

use crate::{Client, Result};

impl Client {
    pub async fn board(&self) -> Result<Board> {
        self.call(reqwest::Method::GET, "/api/v1/board", None::<&()>)
            .await
    }

    pub async fn propose(&self, c: &ProposedChange) -> Result<Proposal> {
        self.call(reqwest::Method::POST, "/api/v1/board/proposals", Some(c))
            .await
    }

    pub async fn proposals(&self) -> Result<Proposals> {
        self.call(reqwest::Method::GET, "/api/v1/board/proposals", None::<&()>)
            .await
    }

    pub async fn proposal(&self, id: i64) -> Result<Proposal> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/board/proposals/{id}"),
            None::<&()>,
        )
        .await
    }

    pub async fn sign_proposal(&self, id: i64, s: &SignatureSubmission) -> Result<Proposal> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/board/proposals/{id}/signatures"),
            Some(s),
        )
        .await
    }
}
