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
    insta::assert_json_snapshot!("openapi", doc);
}
