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

/// The `weir_wire` type a typed route answers with (its schema's name in the components).
fn response_schema(method: &str, path: &str) -> Option<&'static str> {
    Some(match (method, path) {
        ("GET", "/api/v1/access/check") => "AccessCheck",
        ("GET", "/api/v1/access/requests") => "AccessRequests",
        ("GET", "/api/v1/repos/{ns}/{name}/access/requests") => "AccessRequests",
        ("POST", "/api/v1/repos/{ns}/{name}/access/requests") => "RequestAnswer",
        ("POST", "/api/v1/repos/{ns}/{name}/access/requests/{user}") => "AccessRequest",
        ("GET", "/api/v1/repos/{ns}/{name}/access/terms") => "Terms",
        ("POST", "/api/v1/repos/{ns}/{name}/access/terms") => "TermsAccepted",
        ("PUT", "/api/v1/repos/{ns}/{name}/tier") => "TierChange",
        ("PUT", "/api/v1/repos/{ns}/{name}/gating") => "Gating",
        ("GET", "/api/v1/identity") => "Identity",
        ("POST", "/api/v1/identity/attestations") => "AttestationAccepted",
        ("POST", "/api/v1/repos/{ns}/{name}/exports") => "Export",
        ("GET", "/api/v1/exports/{id}") => "Export",
        ("GET", "/api/v1/events") => "EventPage",
        ("GET", "/api/v1/tokens") => "Tokens",
        ("DELETE", "/api/v1/tokens/{id}") => "Token",
        ("POST", "/api/v1/exports/{id}/approve") => "Export",
        ("POST", "/api/v1/exports/{id}/link") => "ExportLink",
        ("GET", "/api/v1/projects") => "Projects",
        ("POST", "/api/v1/projects") => "Project",
        ("GET", "/api/v1/projects/{ns}/{name}") => "Project",
        ("POST", "/api/v1/projects/{ns}/{name}/decision") => "Project",
        ("GET", "/api/v1/jobs") => "Jobs",
        ("POST", "/api/v1/jobs") => "Job",
        ("GET", "/api/v1/jobs/log") => "Jobs",
        ("GET", "/api/v1/jobs/review") => "Jobs",
        ("GET", "/api/v1/grants/calls") => "Calls",
        ("GET", "/api/v1/board") => "Board",
        ("GET", "/api/v1/funding/pools") => "Pools",
        ("POST", "/api/v1/funding/pools") => "Pool",
        ("GET", "/api/v1/funding/pools/{name}") => "Pool",
        ("POST", "/api/v1/funding/pools/{name}/pledges") => "Pool",
        ("POST", "/api/v1/funding/pools/{name}/disbursements") => "Pool",
        ("GET", "/api/v1/funding/payouts") => "Payouts",
        ("POST", "/api/v1/funding/payouts/{id}/decision") => "Payout",
        ("GET", "/api/v1/funding/statements/{user}") => "Statement",
        ("GET", "/api/v1/board/proposals") => "Proposals",
        ("POST", "/api/v1/board/proposals") => "Proposal",
        ("GET", "/api/v1/board/proposals/{id}") => "Proposal",
        ("POST", "/api/v1/board/proposals/{id}/signatures") => "Proposal",
        ("POST", "/api/v1/grants/calls") => "Call",
        ("GET", "/api/v1/grants/calls/{name}") => "Call",
        ("POST", "/api/v1/grants/calls/{name}/close") => "Call",
        ("GET", "/api/v1/grants/applications") => "Applications",
        ("POST", "/api/v1/grants/applications") => "Application",
        ("GET", "/api/v1/grants/applications/{id}") => "Application",
        ("POST", "/api/v1/grants/applications/{id}/review") => "Application",
        ("POST", "/api/v1/grants/applications/{id}/withdraw") => "Application",
        ("GET", "/api/v1/grants/awards") => "Awards",
        ("GET", "/api/v1/grants/awards/{id}") => "Award",
        ("GET", "/api/v1/grants/awards/{id}/usage") => "UsageStatement",
        ("POST", "/api/v1/grants/awards/{id}/report") => "Award",
        ("POST", "/api/v1/grants/awards/{id}/accept") => "Award",
        ("POST", "/api/v1/grants/awards/{id}/revoke") => "Award",
        ("GET", "/api/v1/jobs/{id}") => "Job",
        ("POST", "/api/v1/jobs/{id}/cancel") => "Job",
        ("POST", "/api/v1/jobs/{id}/review") => "Reviewed",
        ("POST", "/api/v1/repos/{ns}/{name}/releases") => "Release",
        ("PUT", "/api/v1/models/{ns}/{name}/releases/{rev}/publisher.sig") => "PublisherBundle",
        ("GET", "/api/v1/eval/suites") => "Suites",
        ("GET", "/api/v1/evaluators") => "Evaluators",
        ("GET", "/api/v1/policy") => "PolicyInForce",
        ("GET", "/api/v1/evaluations/{id}") => "EvalResult",
        ("POST", "/api/v1/evaluations/{id}/signature") => "EvalResult",
        ("POST", "/api/v1/models/{ns}/{name}/evaluations") => "EvalResult",
        ("GET", "/api/v1/models/{ns}/{name}/evaluations") => "EvalResults",
        ("GET", "/api/v1/models/{ns}/{name}/evidence") => "EvidenceList",
        ("POST", "/api/v1/models/{ns}/{name}/evidence") => "Evidence",
        ("POST", "/api/v1/evidence/{id}/review") => "Evidence",
        ("GET", "/api/v1/models/{ns}/{name}/classification") => "Classification",
        ("POST", "/api/v1/models/{ns}/{name}/classification/notified") => "NotificationRecorded",
        ("GET", "/api/v1/incidents") => "Incidents",
        ("POST", "/api/v1/incidents") => "Incident",
        ("GET", "/api/v1/incidents/{id}") => "Incident",
        ("POST", "/api/v1/incidents/{id}/transition") => "Incident",
        ("POST", "/api/v1/incidents/{id}/updates") => "Incident",
        ("POST", "/api/v1/incidents/{id}/attachments") => "Attachment",
        ("GET", "/api/v1/notifications") => "Notifications",
        ("POST", "/api/v1/notifications/{id}/read") => "MarkedRead",
        ("PUT", "/api/v1/notifications/webhook") => "WebhookCreated",
        ("GET", "/api/v1/publishers/{name}/record") => "PublisherRecord",
        ("POST", "/api/v1/repos/{ns}/{name}/releases/{rev}/signoff") => "Signoff",
        _ => return None,
    })
}

/// Every `weir_wire` schema with the schemas it refers to.
fn schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    use utoipa::ToSchema;
    use weir_wire::{access, evals, exports, incidents, releases};
    let mut out = Vec::new();
    fn add<T: ToSchema>(
        out: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        out.push((T::name().to_string(), T::schema()));
        T::schemas(out);
    }
    add::<ErrorEnvelope>(&mut out);
    add::<weir_wire::ErrorCode>(&mut out);
    add::<access::AccessCheck>(&mut out);
    add::<access::AccessRequests>(&mut out);
    add::<access::RequestAnswer>(&mut out);
    add::<access::Terms>(&mut out);
    add::<access::TermsAccepted>(&mut out);
    add::<access::TierChange>(&mut out);
    add::<access::Gating>(&mut out);
    add::<access::Identity>(&mut out);
    add::<access::AttestationAccepted>(&mut out);
    add::<weir_wire::events::EventPage>(&mut out);
    add::<weir_wire::tokens::Tokens>(&mut out);
    add::<exports::Export>(&mut out);
    add::<exports::ExportLink>(&mut out);
    add::<exports::ExportRequest>(&mut out);
    add::<releases::Release>(&mut out);
    add::<releases::PublisherBundle>(&mut out);
    add::<releases::ReleaseRequest>(&mut out);
    add::<evals::Suites>(&mut out);
    add::<evals::Evaluators>(&mut out);
    add::<evals::PolicyInForce>(&mut out);
    add::<evals::EvalResult>(&mut out);
    add::<evals::EvalResults>(&mut out);
    add::<evals::EvidenceList>(&mut out);
    add::<evals::Evidence>(&mut out);
    add::<evals::Classification>(&mut out);
    add::<evals::NotificationRecorded>(&mut out);
    add::<incidents::Incidents>(&mut out);
    add::<incidents::Incident>(&mut out);
    add::<incidents::Report>(&mut out);
    add::<incidents::TransitionRequest>(&mut out);
    add::<incidents::Attachment>(&mut out);
    add::<incidents::Notifications>(&mut out);
    add::<incidents::MarkedRead>(&mut out);
    add::<incidents::WebhookCreated>(&mut out);
    add::<incidents::PublisherRecord>(&mut out);
    add::<incidents::Signoff>(&mut out);
    add::<incidents::OsvRecord>(&mut out);
    add::<weir_wire::research::Project>(&mut out);
    add::<weir_wire::research::Projects>(&mut out);
    add::<weir_wire::research::ProjectApplication>(&mut out);
    add::<weir_wire::research::ProjectDecision>(&mut out);
    add::<weir_wire::jobs::Job>(&mut out);
    add::<weir_wire::jobs::Jobs>(&mut out);
    add::<weir_wire::jobs::JobSubmission>(&mut out);
    add::<weir_wire::jobs::OutputReview>(&mut out);
    add::<weir_wire::jobs::Reviewed>(&mut out);
    add::<weir_wire::grants::GrantRoute>(&mut out);
    add::<weir_wire::grants::CallModel>(&mut out);
    add::<weir_wire::grants::CallSubmission>(&mut out);
    add::<weir_wire::grants::Call>(&mut out);
    add::<weir_wire::grants::Calls>(&mut out);
    add::<weir_wire::grants::ApplicationSubmission>(&mut out);
    add::<weir_wire::grants::GrantReview>(&mut out);
    add::<weir_wire::grants::GrantReviewSubmission>(&mut out);
    add::<weir_wire::grants::Award>(&mut out);
    add::<weir_wire::grants::Awards>(&mut out);
    add::<weir_wire::grants::Application>(&mut out);
    add::<weir_wire::grants::Applications>(&mut out);
    add::<weir_wire::grants::UsageLine>(&mut out);
    add::<weir_wire::grants::UsageStatement>(&mut out);
    add::<weir_wire::grants::ProgressReport>(&mut out);
    add::<weir_wire::grants::GrantDecision>(&mut out);
    add::<weir_wire::grants::ReportAcceptance>(&mut out);
    add::<weir_wire::board::BoardMember>(&mut out);
    add::<weir_wire::board::BountyRuleMinor>(&mut out);
    add::<weir_wire::board::BountyRulesMinor>(&mut out);
    add::<weir_wire::board::Board>(&mut out);
    add::<weir_wire::board::ProposedChange>(&mut out);
    add::<weir_wire::board::BoardSignature>(&mut out);
    add::<weir_wire::board::Proposal>(&mut out);
    add::<weir_wire::board::Proposals>(&mut out);
    add::<weir_wire::board::SignatureSubmission>(&mut out);
    add::<weir_wire::funding::BountyRule>(&mut out);
    add::<weir_wire::funding::BountyRules>(&mut out);
    add::<weir_wire::funding::PoolSubmission>(&mut out);
    add::<weir_wire::funding::Balance>(&mut out);
    add::<weir_wire::funding::LedgerEntry>(&mut out);
    add::<weir_wire::funding::Pool>(&mut out);
    add::<weir_wire::funding::Pools>(&mut out);
    add::<weir_wire::funding::PledgeSubmission>(&mut out);
    add::<weir_wire::funding::Disbursement>(&mut out);
    add::<weir_wire::funding::Payout>(&mut out);
    add::<weir_wire::funding::Payouts>(&mut out);
    add::<weir_wire::funding::PayoutDecision>(&mut out);
    add::<weir_wire::funding::StatementLine>(&mut out);
    add::<weir_wire::funding::Statement>(&mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// What a successful answer carries.
fn success_type(r: &RouteInfo) -> &'static str {
    let p = r.path;
    if p.contains("/resolve/")
        || p.starts_with("/log/tile")
        || p.ends_with("/raw")
        || p.starts_with("/api/v1/exports/download")
        || p.contains("/attachments/{sha}")
        || p.starts_with("/api/v1/jobs/{id}/outputs")
    {
        "application/octet-stream"
    } else if p == "/log/checkpoint" || p == "/log/vkey" || p == "/api/v1/jobs/{id}/logs" {
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
                    let ok = match response_schema(m, r.path) {
                        _ if *m == "HEAD" => ok,
                        Some(name) => ok.content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(name)))
                                .build(),
                        ),
                        None => ok.content(success_type(&r), ContentBuilder::new().build()),
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
                .schemas_from_iter(schemas())
                .build(),
        ))
        .build()
}
