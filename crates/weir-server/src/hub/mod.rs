//! The Hugging Face Hub surface (`../shared/reference/hf-hub-protocol.md`): what
//! `huggingface_hub` 2.4 calls to read and write model repos. Only model repos exist here;
//! dataset, space and kernel routes answer `RepoNotFound`.

mod download;
mod upload;

use axum::routing::{get, post};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/whoami-v2", &["GET"], get(download::whoami))
        .add(
            "/api/agent-harnesses",
            &["GET"],
            get(download::agent_harnesses),
        )
        .add(
            "/api/models/{ns}/{name}",
            &["GET"],
            get(download::model_info),
        )
        .add(
            "/api/models/{ns}/{name}/revision/{rev}",
            &["GET"],
            get(download::model_info_at),
        )
        .add(
            "/api/models/{ns}/{name}/tree/{rev}",
            &["GET"],
            get(download::tree_root),
        )
        .add(
            "/api/models/{ns}/{name}/tree/{rev}/{*path}",
            &["GET"],
            get(download::tree_path),
        )
        .add(
            "/api/models/{ns}/{name}/refs",
            &["GET"],
            get(download::refs),
        )
        .add(
            "/api/models/{ns}/{name}/auth-check",
            &["GET"],
            get(download::auth_check),
        )
        .add(
            "/{ns}/{name}/resolve/{rev}/{*path}",
            &["GET", "HEAD"],
            get(download::resolve).head(download::resolve),
        )
        .add("/api/repos/create", &["POST"], post(upload::create_repo))
        .add(
            "/api/models/{ns}/{name}/preupload/{rev}",
            &["POST"],
            post(upload::preupload),
        )
        .add(
            "/api/models/{ns}/{name}/commit/{rev}",
            &["POST"],
            post(upload::commit),
        )
        .add(
            "/api/models/{ns}/{name}/branch/{branch}",
            &["POST"],
            post(upload::create_branch),
        )
        .add(
            "/api/models/{ns}/{name}/tag/{rev}",
            &["POST"],
            post(upload::create_tag),
        )
}
