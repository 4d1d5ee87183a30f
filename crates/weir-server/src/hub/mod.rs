//! The Hugging Face Hub surface (`../shared/reference/hf-hub-protocol.md`): what
//! `huggingface_hub` 2.4 calls to read and write model repos. Only model repos exist here;
//! dataset, space and kernel routes answer `RepoNotFound`. The Hub surfaces weir does not offer
//! answer 501 `not_implemented` ([`unsupported`]).

mod cards;
pub mod download;
mod history;
mod likes;
mod models;
mod settings;
mod upload;

/// The Hub surfaces weir does not offer, each an explicit 501.
fn unsupported() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .unsupported(
            "/api/models/{ns}/{name}/discussions",
            "discussions and pull requests",
        )
        .unsupported(
            "/api/models/{ns}/{name}/discussions/{*rest}",
            "discussions and pull requests",
        )
        .unsupported(
            "/api/models/{ns}/{name}/lfs-files",
            "listing and purging LFS files",
        )
        .unsupported(
            "/api/models/{ns}/{name}/lfs-files/{*rest}",
            "listing, copying and purging LFS files",
        )
        .unsupported("/api/settings/repositories", "storage usage per repo")
        .unsupported(
            "/api/organizations/{ns}/settings/repositories",
            "storage usage per repo",
        )
        .unsupported("/uploads", "discussion attachments")
        .unsupported("/api/collections", "collections")
        .unsupported("/api/collections/{*rest}", "collections")
        .unsupported("/api/settings/webhooks", "Hub webhooks")
        .unsupported("/api/settings/webhooks/{*rest}", "Hub webhooks")
}

use axum::routing::{get, post};

pub fn routes() -> crate::routes::Routes {
    unsupported()
        .add("/api/whoami-v2", &["GET"], get(download::whoami))
        .add("/api/models", &["GET"], get(models::list_models))
        .add(
            "/api/models-tags-by-type",
            &["GET"],
            get(models::tags_by_type),
        )
        .add(
            "/api/models/{ns}/{name}/like",
            &["POST", "DELETE"],
            post(likes::like).delete(likes::unlike),
        )
        .add(
            "/api/models/{ns}/{name}/likers",
            &["GET"],
            get(likes::likers),
        )
        .add("/api/users/{user}/likes", &["GET"], get(likes::liked_by))
        .add(
            "/api/models/{ns}/{name}/settings",
            &["PUT"],
            axum::routing::put(settings::update_settings),
        )
        .add(
            "/api/models/{ns}/{name}/commits/{rev}",
            &["GET"],
            get(history::list_commits),
        )
        .add(
            "/api/models/{ns}/{name}/paths-info/{rev}",
            &["POST"],
            post(history::paths_info),
        )
        .add(
            "/api/validate-yaml",
            &["POST"],
            post(cards::validate_yaml).layer(axum::extract::DefaultBodyLimit::max(cards::MAX_CARD)),
        )
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
            "/api/models/{ns}/{name}/safetensors-metadata/{*filename}",
            &["GET"],
            get(download::safetensors_metadata),
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
            "/api/models/{ns}/{name}/auth-check/write",
            &["GET"],
            get(download::auth_check_write),
        )
        .add(
            "/{ns}/{name}/resolve/{rev}/{*path}",
            &["GET", "HEAD"],
            get(download::resolve).head(download::resolve),
        )
        .add("/api/repos/create", &["POST"], post(upload::create_repo))
        .add("/api/repos/move", &["POST"], post(upload::move_repo))
        .add(
            "/api/models/{ns}/{name}/super-squash/{branch}",
            &["POST"],
            post(upload::super_squash),
        )
        .add(
            "/api/models/{ns}/{name}/duplicate",
            &["POST"],
            post(upload::duplicate_repo),
        )
        .add(
            "/api/repos/delete",
            &["DELETE"],
            axum::routing::delete(upload::delete_repo),
        )
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
            &["POST", "DELETE"],
            post(upload::create_branch).delete(upload::delete_branch),
        )
        .add(
            "/api/models/{ns}/{name}/tag/{rev}",
            &["POST", "DELETE"],
            post(upload::create_tag).delete(upload::delete_tag),
        )
}
