//! `GET /api/openapi.json`: every route of the route table is in it with each of its methods,
//! and the document is locked by a snapshot (review a change with `cargo insta review`).
//! CI also validates it with an independent validator (tests/interop/test_openapi.py).

use crate::common::TestApp;

#[tokio::test]
async fn the_openapi_document_names_every_route_and_method() {
    let app = TestApp::new().await;
    let r = app.get("/api/openapi.json", None).await;
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let table = weir_server::routes::table();
    assert!(table.iter().any(|r| r.path == "/api/openapi.json"));
    for route in &table {
        let path = weir_server::openapi::openapi_path(route.path);
        for m in route.methods {
            let op = &doc["paths"][&path][m.to_ascii_lowercase()];
            assert!(op.is_object(), "{m} {path} is not in the OpenAPI document");
            let responses = &op["responses"];
            if route.unsupported.is_some() {
                assert!(responses["501"].is_object(), "{m} {path}");
            } else {
                assert!(
                    responses["default"].is_object(),
                    "{m} {path} documents no error"
                );
            }
        }
    }
    // Every schema an operation refers to is in the components (typed routes name their
    // `weir_wire` type), and the typed routes do.
    let schemas = &doc["components"]["schemas"];
    let mut typed = 0;
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("item").values() {
            let text = op.to_string();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("#/components/schemas/") {
                rest = &rest[i + "#/components/schemas/".len()..];
                let name: String = rest.chars().take_while(|c| *c != '"').collect();
                assert!(schemas[&name].is_object(), "dangling schema {name}");
                if name != "ErrorEnvelope" {
                    typed += 1;
                }
            }
        }
    }
    assert!(typed >= 40, "only {typed} typed responses");
    assert_eq!(
        doc["paths"]["/api/v1/access/check"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/AccessCheck"
    );
    insta::assert_json_snapshot!("openapi", doc);
}
