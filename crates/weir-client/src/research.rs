//! The secure research environment: research projects.

use weir_wire::research::{Project, ProjectApplication, ProjectDecision, Projects};

use crate::{Client, Result};

impl Client {
    pub async fn apply_project(&self, app: &ProjectApplication) -> Result<Project> {
        self.call(reqwest::Method::POST, "/api/v1/projects", Some(app))
            .await
    }

    pub async fn project(&self, name: &str) -> Result<Project> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/projects/{}", crate::encode_path(name)),
            None::<&()>,
        )
        .await
    }

    pub async fn projects(&self, state: Option<&str>, mine: bool) -> Result<Projects> {
        let mut path = format!("/api/v1/projects?mine={mine}");
        if let Some(s) = state {
            path.push_str(&format!("&state={}", crate::encode_segment(s)));
        }
        self.call(reqwest::Method::GET, &path, None::<&()>).await
    }

    pub async fn decide_project(&self, name: &str, d: &ProjectDecision) -> Result<Project> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/projects/{}/decision", crate::encode_path(name)),
            Some(d),
        )
        .await
    }
}
