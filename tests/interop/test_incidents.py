"""Incidents end to end against a live `weir serve --demo`: every exported OSV record validates
against the official OSV JSON schema (`jsonschema`, pinned) and undisclosed records never appear;
a T2 model delivered to two users through the real huggingface_hub client, an anonymous report,
triage and confirmation, both users notified, new downloads refused with `incident_hold` through
huggingface_hub, the classification raised, the publisher's record and standing changed by the
documented rule, and all of it on the transparency log."""

import json
import os
import pathlib
import time
import urllib.request

import jsonschema
import pytest

import huggingface_hub as hf
from huggingface_hub import errors
from tlog_scales import backend, reader, tlog

from conftest import ENDPOINT, weir

# The official OSV JSON schema (ossf/osv-schema validation/schema.json, 1.7.x), as the project
# reference ships it.
SCHEMA_COPY = pathlib.Path(__file__).resolve().parent / "osv-schema.json"


def schema():
    return json.loads(SCHEMA_COPY.read_text())


def get(path, token=None, followup=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if followup:
        headers["X-Weir-Followup"] = followup
    with urllib.request.urlopen(urllib.request.Request(ENDPOINT + path, headers=headers)) as r:
        return json.load(r)


def cli(token, *args):
    env = {**os.environ, "WEIR_SERVER": ENDPOINT}
    if token:
        env["WEIR_TOKEN"] = token
    else:
        env.pop("WEIR_TOKEN", None)
    return weir(*args, env=env)


def validator():
    s = schema()
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)
    return cls(s, format_checker=cls.FORMAT_CHECKER)


def test_every_exported_record_validates_and_undisclosed_ones_never_appear(registry, tmp_path):
    v = validator()
    feed = get("/osv/all.json")
    assert feed, "the demo discloses at least one record"
    for record in feed:
        errs = sorted(v.iter_errors(record), key=str)
        assert not errs, [e.message for e in errs]
        assert record["id"].startswith("x_WEIR-")
        assert get(f"/osv/{record['id']}.json") == record
    out = cli(None, "incident", "export", "--out", str(tmp_path / "osv"))
    files = sorted((tmp_path / "osv").glob("*.json"))
    assert f"wrote {len(feed)} OSV record(s)" in out and len(files) == len(feed)
    for f in files:
        v.validate(json.loads(f.read_text()))
    # The operator sees every record; only the disclosed ones are public.
    op = registry.token("reviewer1", "admin")
    everything = get("/api/v1/incidents", op)["incidents"]
    hidden = {i["id"] for i in everything if i["state"] != "disclosed"}
    assert hidden, "the demo has undisclosed incidents"
    public_ids = {r["id"] for r in feed}
    assert not hidden & public_ids
    for i in hidden:
        with pytest.raises(urllib.error.HTTPError) as e:
            get(f"/osv/{i}.json")
        assert e.value.code == 404
    # Overdue items are flagged (the demo's fastlab report was never triaged).
    overdue = cli(op, "incident", "list", "--overdue")
    assert "OVERDUE" in overdue and "fastlab/chatty-7b" in overdue


def log_entries():
    cp = tlog.Checkpoint.from_text(urllib.request.urlopen(f"{ENDPOINT}/log/checkpoint").read().decode())
    r = reader.TilesReader(backend.make_backend(f"{ENDPOINT}/log"))
    r.set_size(cp.size)
    return [json.loads(r.get_entry(i)) for i in range(cp.size)]


def test_an_incident_on_a_delivered_t2_model_end_to_end(registry, tmp_path):
    data = registry.data
    weir("admin", "--data", data, "org", "add", "e2elab", "--member", "bob")
    bob = registry.token("bob")
    erin = registry.token("erin", "read")
    grace = registry.token("grace", "read")
    op = registry.token("reviewer1", "admin")

    # A T2 model, delivered to erin and grace through huggingface_hub.
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text("---\nlicense: mit\n---\n# E2E vetted model\n")
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    cli(bob, "push", str(model), "e2elab/vetted")
    cli(bob, "tier", "set", "e2elab/vetted", "T2")
    for who, token in (("erin", erin), ("grace", grace)):
        cli(token, "access", "request", "e2elab/vetted", "--purpose", "safety evaluation")
        cli(bob, "access", "review", "e2elab/vetted", who, "--approve", "--expires", "30")
        path = hf.hf_hub_download("e2elab/vetted", "config.json", token=token, cache_dir=tmp_path / who)
        assert json.loads(pathlib.Path(path).read_text()) == {"hidden_size": 8}
    assert get("/api/v1/publishers/e2elab/record")["standing"] == "good"

    # An anonymous report, with a follow-up token.
    out = cli(None, "incident", "report", "e2elab/vetted", "--kind", "incident", "--class", "cyber",
              "--summary", "Generates working exploit chains for <b>hardened</b> targets", "--domain", "cyber",
              "--anonymous")
    iid = next(line.split()[1] for line in out.splitlines() if line.startswith("reported "))
    token = next(line.rsplit(" ", 1)[1] for line in out.splitlines() if line.startswith("follow-up token"))
    assert get(f"/api/v1/incidents/{iid}", followup=token)["your_role"] == "reporter"
    with pytest.raises(urllib.error.HTTPError) as e:
        get(f"/api/v1/incidents/{iid}", followup=token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert e.value.code == 404

    # Triage and confirm (an operator), holding deliveries and raising the cyber domain.
    cli(op, "incident", "triage", iid, "--severity", "high", "--reason", "reproduced by the red team")
    out = cli(op, "incident", "confirm", iid, "--reason", "confirmed", "--hold", "--raise-domain", "cyber")
    assert "notified 2 account(s)" in out, out

    for token_ in (erin, grace):
        notes = get("/api/v1/notifications", token_)["notifications"]
        assert any(iid in n["message"] for n in notes), notes

    # New downloads are refused with incident_hold, through the real client.
    with pytest.raises(errors.GatedRepoError) as e:
        hf.hf_hub_download("e2elab/vetted", "config.json", token=erin, cache_dir=tmp_path / "again")
    assert e.value.response.status_code == 403 and "incident_hold" in str(e.value)

    # The classification rose; the publisher's record and standing changed by the rule.
    c = get("/api/v1/models/e2elab/vetted/classification")
    assert c["tier"] == "T3" and c["deciding_rule"] == "ambiguity", c
    rec = get("/api/v1/publishers/e2elab/record")
    assert rec["standing"] == "probation" and rec["rule"] == "probation_high_incidents", rec
    assert rec["incidents"]["confirmed_by_kind_and_severity"] == {"incident": {"high": 1}}
    assert "probation" in cli(None, "publisher", "record", "e2elab")

    # All of it is on the transparency log (summary level; no personal data).
    deadline = time.time() + 30
    while True:
        entries = log_entries()
        public = [e.get("public") or {} for e in entries]
        seen = {
            "reported": any(p.get("id") == iid for p in public if p.get("state") == "received"),
            "triaged": any(p.get("id") == iid and p.get("to") == "triaged" for p in public),
            "confirmed": any(p.get("id") == iid and p.get("to") == "confirmed" and p.get("hold") for p in public),
            "evidence": any(p.get("incident") == iid for p in public),
            "classification": any(p.get("repo") == "e2elab/vetted" and p.get("to") == "T3" for p in public),
            "standing": any(p.get("publisher") == "e2elab" and p.get("to") == "probation" for p in public),
        }
        if all(seen.values()):
            break
        assert time.time() < deadline, seen
        time.sleep(0.3)
    blob = json.dumps(entries)
    assert "erin" not in blob and "grace" not in blob and "hardened" not in blob
