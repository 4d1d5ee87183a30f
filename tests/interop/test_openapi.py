"""The OpenAPI document at /api/openapi.json, checked by an independent validator
(`openapi-spec-validator`, pinned): it is valid OpenAPI 3.1, names every route the server
answers, and its error responses point at the envelope the server actually sends."""

import json
import urllib.error
import urllib.request

from openapi_spec_validator import validate


def get_json(url: str):
    with urllib.request.urlopen(url) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        return json.load(r)


def test_openapi_document_is_valid_3_1(registry):
    doc = get_json(f"{registry.endpoint}/api/openapi.json")
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert len(doc["paths"]) > 80
    envelope = doc["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) >= {"error", "message"}


def test_documented_errors_match_what_the_server_sends(registry):
    doc = get_json(f"{registry.endpoint}/api/openapi.json")
    codes = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    # A real error from a documented route: its body is the envelope with a documented code.
    op = doc["paths"]["/api/models/{ns}/{name}"]["get"]
    assert "default" in op["responses"]
    try:
        urllib.request.urlopen(f"{registry.endpoint}/api/models/nobody/missing")
        raise AssertionError("a missing repo answered 2xx")
    except urllib.error.HTTPError as e:
        body = json.load(e)
        assert body["error"] in codes
        assert isinstance(body["message"], str)
    # A surface weir does not offer is documented as its 501, and answers it.
    unsupported = "/api/models/{ns}/{name}/discussions"
    assert "501" in doc["paths"][unsupported]["get"]["responses"]
    try:
        urllib.request.urlopen(f"{registry.endpoint}/api/models/openlab/mini-decoder/discussions")
        raise AssertionError("an unsupported surface answered 2xx")
    except urllib.error.HTTPError as e:
        assert e.code == 501
        assert json.load(e)["error"] == "not_implemented"


def test_typed_answers_conform_to_their_documented_schemas(registry):
    """The server's real answers validate against the schemas the document gives them."""
    from openapi_schema_validator import OAS31Validator

    doc = get_json(f"{registry.endpoint}/api/openapi.json")

    def check(template: str, path: str, name: str):
        """GET `path`: the document names schema `name` for `template`, and the answer fits it."""
        op = doc["paths"][template]["get"]
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{name}", (template, ref)
        with urllib.request.urlopen(f"{registry.endpoint}{path}") as r:
            body = json.load(r)
        OAS31Validator({"$ref": ref, "components": doc["components"]}).validate(body)

    for template, path, name in [
        ("/api/v1/policy", "/api/v1/policy", "PolicyInForce"),
        ("/api/v1/eval/suites", "/api/v1/eval/suites", "Suites"),
        ("/api/v1/evaluators", "/api/v1/evaluators", "Evaluators"),
        ("/api/v1/publishers/{name}/record", "/api/v1/publishers/acme/record", "PublisherRecord"),
        ("/api/v1/access/check", "/api/v1/access/check?repo=acme/tiny-llama", "AccessCheck"),
        (
            "/api/v1/models/{ns}/{name}/classification",
            "/api/v1/models/acme/tiny-llama/classification",
            "Classification",
        ),
    ]:
        check(template, path, name)
