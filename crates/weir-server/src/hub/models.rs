//! `GET /api/models` (`list_models`, `hf models ls`): the models the caller may see, in the Hub's
//! list shape, a page at a time with `Link: <…>; rel="next"` on this server's public URL. The
//! search is [`weir_registry::listing`]; each result carries its tier.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};
use weir_registry::listing::{self, Query as ListQuery, Sort};
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::Query;
use crate::{ApiError, AppState, iso8601, now};

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "True" | "1")
}

/// Query parameters one listing request may carry (each `filter` and `expand` counts).
pub const MAX_PARAMS: usize = 100;

/// The parameters the listing reads; the `Link` header repeats these and nothing else.
const KNOWN: [&str; 17] = [
    "search",
    "author",
    "filter",
    "pipeline_tag",
    "gated",
    "sort",
    "direction",
    "limit",
    "num_parameters",
    "apps",
    "inference",
    "inference_provider",
    "full",
    "cardData",
    "config",
    "expand",
    "expand[]",
];

fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidQuery, m);
    if pairs.len() > MAX_PARAMS {
        return Err(bad(format!("at most {MAX_PARAMS} query parameters")));
    }
    let mut q = ListQuery::default();
    for (k, v) in pairs {
        match k.as_str() {
            "search" => q.search = Some(v.clone()),
            "author" => q.author = Some(v.clone()),
            "filter" => q.filters.push(v.clone()),
            "pipeline_tag" => q.pipeline_tag = Some(v.clone()),
            "gated" => {
                q.gated = Some(match v.as_str() {
                    "true" | "True" | "1" => true,
                    "false" | "False" | "0" => false,
                    other => return Err(bad(format!("gated is true or false, not {other:?}"))),
                })
            }
            "sort" => {
                q.sort = Sort::parse(v).ok_or_else(|| {
                    bad(format!("unknown sort {v:?}")).next(
                        "sort by lastModified, createdAt, downloads, likes, trendingScore or id",
                    )
                })?
            }
            "direction" => q.ascending = v == "1",
            "limit" => {
                q.limit = Some(
                    v.parse()
                        .map_err(|_| bad(format!("limit {v:?} is not a number")))?,
                )
            }
            "cursor" => {
                q.after = Some(
                    listing::Cursor::parse(v)
                        .ok_or_else(|| bad(format!("cursor {v:?} is not one this server gave")))?,
                )
            }
            "num_parameters" => {
                for part in v.split(',') {
                    let (side, n) = part
                        .split_once(':')
                        .ok_or_else(|| bad(format!("num_parameters {v:?}: use min:6B,max:128B")))?;
                    let n = listing::parse_count(n)
                        .ok_or_else(|| bad(format!("num_parameters: {n:?} is not a count")))?;
                    match side {
                        "min" => q.min_parameters = Some(n),
                        "max" => q.max_parameters = Some(n),
                        _ => return Err(bad(format!("num_parameters {v:?}: use min:6B,max:128B"))),
                    }
                }
            }
            // Which apps run a model and which inference providers serve it: weir knows of
            // none, so no model matches (never "every model").
            "apps" | "inference" | "inference_provider" => q.unknowable = true,
            // The rest shape the answer (`full`, `cardData`, `expand`, `config`) or are not
            // read.
            _ => {}
        }
    }
    Ok(q)
}

/// Properties a result always has (the Hub's default list shape, plus its tier).
const ALWAYS: [&str; 3] = ["_id", "id", "modelId"];

pub(super) async fn list_models(
    State(state): State<AppState>,
    caller: Caller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let q = parse(&pairs)?;
    let flag = |name: &str| pairs.iter().any(|(k, v)| k == name && truthy(v));
    let full = flag("full");
    let card_data = full || flag("cardData");
    let expand: std::collections::BTreeSet<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "expand" || k == "expand[]")
        .map(|(_, v)| v.as_str())
        .collect();
    let page = listing::models(&state.store, &caller.subject, &q, now()).await?;
    let mut items = Vec::with_capacity(page.models.len());
    for m in &page.models {
        let id = m.repo.repo_id.to_string();
        let mut v = json!({
            "_id": format!("{:024x}", m.repo.id),
            "id": id,
            "modelId": id,
            "author": m.repo.repo_id.namespace.as_str(),
            "sha": m.sha.as_ref().map(|s| s.as_str()),
            "lastModified": iso8601(m.last_modified),
            "createdAt": iso8601(m.repo.created_at),
            "private": m.repo.private,
            "gated": crate::views::gated(m.repo.tier),
            "disabled": false,
            "downloads": m.downloads,
            "likes": m.likes,
            "trendingScore": m.downloads,
            "tags": m.tags,
            "library_name": m.library_name(),
            "pipeline_tag": m.pipeline_tag(),
            "weir": {"tier": m.repo.tier.as_str(), "tierName": m.repo.tier.name()},
        });
        if card_data || expand.contains(&"cardData") {
            v["cardData"] = if m.card.is_empty() {
                Value::Null
            } else {
                Value::Object(weir_core::card::hub_card_data(&m.card))
            };
        }
        if full || expand.contains(&"siblings") {
            let files = match &m.sha {
                Some(sha) => state.store.db.files(&m.repo, sha).await?,
                None => vec![],
            };
            v["siblings"] = files
                .iter()
                .map(|f| json!({"rfilename": f.path.as_str()}))
                .collect();
        }
        if !expand.is_empty()
            && let Value::Object(all) = v
        {
            // With `expand`, the Hub answers the listed properties only (and the id).
            let kept: Map<String, Value> = all
                .into_iter()
                .filter(|(k, _)| ALWAYS.contains(&k.as_str()) || expand.contains(&k.as_str()))
                .collect();
            v = Value::Object(kept);
        }
        items.push(v);
    }
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| KNOWN.contains(&k.as_str()))
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, NON_ALPHANUMERIC),
                    utf8_percent_encode(v, NON_ALPHANUMERIC)
                )
            })
            .collect();
        query.push(format!(
            "cursor={}",
            utf8_percent_encode(&next.encode(), NON_ALPHANUMERIC)
        ));
        let link = format!(
            "<{}/api/models?{}>; rel=\"next\"",
            state.config.public_url,
            query.join("&")
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, v);
        }
    }
    Ok((headers, Json(Value::Array(items))))
}

/// The tag vocabulary `get_model_tags` reads, by type: the pipeline tags, libraries and
/// licences a card may declare (the listing filters on the same fields).
const TAGS_BY_TYPE: &[(&str, &[&str])] = &[
    (
        "pipeline_tag",
        &[
            "text-generation",
            "text2text-generation",
            "text-classification",
            "token-classification",
            "question-answering",
            "summarization",
            "translation",
            "fill-mask",
            "feature-extraction",
            "sentence-similarity",
            "image-classification",
            "image-text-to-text",
            "text-to-image",
            "automatic-speech-recognition",
            "text-to-speech",
        ],
    ),
    (
        "library",
        &[
            "transformers",
            "safetensors",
            "pytorch",
            "gguf",
            "diffusers",
            "sentence-transformers",
            "peft",
            "onnx",
            "jax",
        ],
    ),
    (
        "license",
        &[
            "apache-2.0",
            "mit",
            "bsd-3-clause",
            "cc-by-4.0",
            "cc-by-nc-4.0",
            "cc-by-sa-4.0",
            "openrail",
            "llama3",
            "gemma",
            "other",
        ],
    ),
];

/// `GET /api/models-tags-by-type` (`get_model_tags`).
pub(super) async fn tags_by_type() -> axum::Json<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (kind, ids) in TAGS_BY_TYPE {
        out.insert(
            kind.to_string(),
            ids.iter()
                .map(|id| serde_json::json!({"id": id, "label": id, "type": kind}))
                .collect(),
        );
    }
    axum::Json(serde_json::Value::Object(out))
}
