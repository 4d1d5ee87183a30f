//! `POST /api/validate-yaml`: the Hub client checks every model card here before it uploads a
//! `README.md` (`upload_folder`, `upload_file`, `ModelCard.push_to_hub`, `metadata_update`,
//! `hf upload`). The answer has the Hub's shape: `errors` refuse the card (400, the client raises
//! `ValueError` naming them), `warnings` accept it (200, the client warns). Pure: no lookup, no
//! state, bounded by the route's body limit.

use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_wire::ErrorCode;

use crate::ApiError;
use crate::extract::Json as JsonBody;

/// A card larger than this is not a model card.
pub const MAX_CARD: usize = 2 << 20;

#[derive(Deserialize)]
pub struct ValidateBody {
    content: String,
    #[serde(rename = "repoType", default)]
    repo_type: Option<String>,
}

#[derive(Serialize)]
pub struct Message {
    message: String,
}

/// The Hub's answer: what refuses the card and what it should know.
#[derive(Serialize)]
pub struct Validation {
    errors: Vec<Message>,
    warnings: Vec<Message>,
}

fn messages(v: Vec<String>) -> Vec<Message> {
    v.into_iter().map(|message| Message { message }).collect()
}

pub(super) async fn validate_yaml(
    JsonBody(body): JsonBody<ValidateBody>,
) -> Result<Json<Validation>, ApiError> {
    match body.repo_type.as_deref() {
        None | Some("model") | Some("dataset") | Some("space") => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("unknown repoType {other:?}"),
            )
            .next("use model, dataset or space"));
        }
    }
    let v = weir_core::card::validate(&body.content);
    if v.errors.is_empty() {
        return Ok(Json(Validation {
            errors: vec![],
            warnings: messages(v.warnings),
        }));
    }
    let message = format!("Invalid metadata in README.md: {}", v.errors.join("; "));
    Err(
        ApiError::bad_request(ErrorCode::InvalidCardMetadata, message)
            .with("errors", json!(messages(v.errors)))
            .with("warnings", json!(messages(v.warnings)))
            .next("fix the YAML front matter between the two --- lines at the top of README.md"),
    )
}
