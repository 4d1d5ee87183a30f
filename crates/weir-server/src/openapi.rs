//! The OpenAPI 3.1 document of every route, served at `GET /api/openapi.json`. It is built from
//! the route table, so a route cannot be missing from it; the schemas come from `weir_wire`'s
//! derives (`utoipa`). Every operation names its path parameters, its success content and the
//! error envelope; a Hub surface weir does not offer is documented as its 501.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required,
    ResponseBuilder, ResponsesBuilder,
};
use weir_wire::ErrorEnvelope;

use crate::routes::RouteInfo;

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new().add("/api/openapi.json", &["GET"], get(serve))
}

async fn serve() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| document().to_pretty_json().unwrap_or_else(|_| "{}".into()));
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}

/// The OpenAPI path of a route template: axum's `{*rest}` becomes `{rest}`.
pub fn openapi_path(template: &str) -> String {
    template.replace("{*", "{")
}

fn params(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|p| {
            p.split_once('}')
                .map(|(name, _)| name.trim_start_matches('*').to_string())
        })
        .collect()
}

/// What a successful answer carries.
fn success_type(r: &RouteInfo) -> &'static str {
    let p = r.path;
    if p.contains("/resolve/")
        || p.starts_with("/log/tile")
        || p.ends_with("/raw")
        || p.starts_with("/api/v1/exports/download")
        || p.contains("/attachments/{sha}")
    {
        "application/octet-stream"
    } else if p == "/log/checkpoint" || p == "/log/vkey" {
        "text/plain"
    } else if p.ends_with(".pem") {
        "application/x-pem-file"
    } else {
        "application/json"
    }
}

fn method(m: &str) -> Option<HttpMethod> {
    Some(match m {
        "GET" => HttpMethod::Get,
        "HEAD" => HttpMethod::Head,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => return None,
    })
}

fn operation_id(m: &str, template: &str) -> String {
    let mut id = m.to_ascii_lowercase();
    for seg in template.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    id.trim_end_matches('_').to_string()
}

/// The document, from the route table.
pub fn document() -> OpenApi {
    let error = || {
        ResponseBuilder::new()
            .description("An error: the JSON envelope, with X-Error-Code and X-Error-Message")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                    .build(),
            )
            .build()
    };
    let mut paths = Paths::new();
    for r in crate::routes::table() {
        let path = openapi_path(r.path);
        for m in r.methods {
            let Some(http) = method(m) else { continue };
            let mut op = OperationBuilder::new()
                .tag(r.tag)
                .operation_id(Some(operation_id(m, r.path)));
            for p in params(r.path) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(p.clone())
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some(if r.path.contains(&format!("{{*{p}}}")) {
                            "may contain '/'"
                        } else {
                            "one path segment, percent-encoded"
                        }))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String),
                        )),
                );
            }
            let responses = match r.unsupported {
                Some(what) => ResponsesBuilder::new().response(
                    "501",
                    ResponseBuilder::new()
                        .description(format!("weir does not offer {what}"))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                                .build(),
                        )
                        .build(),
                ),
                None => {
                    let ok = ResponseBuilder::new()
                        .description("Success; docs/API.md describes the body");
                    let ok = if *m == "HEAD" {
                        ok
                    } else {
                        ok.content(success_type(&r), ContentBuilder::new().build())
                    };
                    ResponsesBuilder::new()
                        .response("200", ok.build())
                        .response("default", error())
                }
            };
            op = op
                .summary(Some(match r.unsupported {
                    Some(what) => format!("Not offered: {what}"),
                    None => format!("{m} {}", r.path),
                }))
                .responses(responses.build());
            if matches!(*m, "POST" | "PUT" | "PATCH") && r.unsupported.is_none() {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .description(Some("see docs/API.md"))
                        .build(),
                ));
            }
            paths.add_path_operation(&path, vec![http], op.build());
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("weir")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A self-hostable registry for open-weight AI models: the Hugging Face Hub \
                     surface, Git LFS, and the native /api/v1. docs/API.md is the prose reference.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .schema_from::<ErrorEnvelope>()
                .schema_from::<weir_wire::ErrorCode>()
                .build(),
        ))
        .build()
}
