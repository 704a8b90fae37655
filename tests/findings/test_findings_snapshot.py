"""Snapshot integrity: what a partner reads is the stored snapshot, unchanged by later edits of the finding, the
sample or the model; its SHA-256 is of its canonical JSON; the audit event names the hash and the chain head; the
trail verifies; the database refuses to change or delete a release."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client

from evaluations.models import ModelVersion, RegisteredModel, Release, SampleResult
from evaluations.services import findings as services
from evaluations.snapshots import (
    REDACTION_MARKER,
    canonical_json,
    redact,
    redactions_validate,
    snapshot_sha256,
)
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_stored_sha256_is_of_the_snapshots_canonical_json(released):
    release = Release.objects.get(finding=released)
    text = json.dumps(release.snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert release.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest() == snapshot_sha256(release.snapshot)
    assert canonical_json(release.snapshot) == text.encode("utf-8")


def test_the_release_audit_event_carries_the_hash_and_the_chain_head_before_it(released):
    release = Release.objects.get(finding=released)
    event = AuditEvent.objects.get(action="finding.release", object_id=str(released.pk))
    assert event.after["sha256"] == release.sha256
    assert event.after["audit_head"] == release.audit_head == event.prev_hash
    assert event.after["partners"] == list(release.partners.values_list("pk", flat=True))


def test_the_snapshot_holds_only_the_contracts_fields(released, partner_ca):
    snapshot = Release.objects.get(finding=released).snapshot
    assert set(snapshot) == {"schema", "finding", "version", "exercise", "title", "summary", "severity",
                             "risk_area", "models", "evaluations", "evidence", "results", "released_at", "partners"}
    assert snapshot["partners"] == [partner_ca.name]
    assert snapshot["evidence"][0]["excerpt"] == f"Here are the steps: {REDACTION_MARKER}"
    assert set(snapshot["evidence"][0]) == {"position", "model", "evaluation", "sample_id", "epoch", "excerpt"}
    assert snapshot["released_at"].endswith("Z")
    text = json.dumps(snapshot)
    for forbidden in ("mockllm", "base_url", "@example.org", "tension wrench"):
        assert forbidden not in text


def test_edits_of_the_finding_sample_and_model_after_release_change_nothing_a_partner_sees(
        released, uk_staff, partner_viewer, sign_in):
    client = sign_in(Client(), partner_viewer)
    before = client.get(f"/api/v1/findings/{released.pk}/").json()
    services.finding_update(actor=uk_staff, finding=released, data={
        "title": "Changed", "summary": "Changed", "severity": "low",
        "evidence": [{"sample": released.evidence.get().sample_id, "excerpt": "Unredacted now", "redactions": []}]})
    sample = SampleResult.objects.get(pk=released.evidence.get().sample_id)
    SampleResult.objects.filter(pk=sample.pk).update(sample_id="renamed", epoch=9, output="changed")
    RegisteredModel.objects.filter(pk=sample.item.model_version.registered_model_id).update(name="Renamed model")
    ModelVersion.objects.filter(pk=sample.item.model_version_id).update(number=7)
    after = client.get(f"/api/v1/findings/{released.pk}/").json()
    assert after == before
    assert client.get("/api/v1/findings/?severity=low").json()["results"] == []  # filters read the snapshot too
    assert len(client.get("/api/v1/findings/?severity=high").json()["results"]) == 1
    release = Release.objects.get(finding=released)
    assert snapshot_sha256(release.snapshot) == release.sha256
    out = call_command("audit_verify")
    assert out is None  # exits 1 (SystemExit) when broken


def test_audit_verify_passes_after_the_whole_workflow(released, uk_approver, capsys):
    services.finding_withdraw(actor=uk_approver, finding=released)
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out


def test_the_database_refuses_to_change_or_delete_a_release_but_allows_withdrawal_once(released, uk_approver):
    release = Release.objects.get(finding=released)
    for change in (lambda: Release.objects.filter(pk=release.pk).update(snapshot={"title": "forged"}),
                   lambda: Release.objects.filter(pk=release.pk).update(sha256="0" * 64),
                   lambda: Release.objects.filter(pk=release.pk).delete()):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    services.finding_withdraw(actor=uk_approver, finding=released)
    with pytest.raises(DatabaseError), transaction.atomic():
        Release.objects.filter(pk=release.pk).update(withdrawn_at=None)
    release.refresh_from_db()
    assert release.withdrawn_at is not None and release.snapshot["title"] == "Model explains lock picking"


def test_releasing_again_makes_a_new_version_and_partners_see_the_newest_with_its_history(
        released, uk_staff, uk_approver, us_approver, partner_ca, partner_viewer, sign_in):
    services.finding_update(actor=uk_staff, finding=released, data={"title": "Second version"})
    services.finding_sign_off(actor=uk_approver, finding=released)
    services.finding_sign_off(actor=us_approver, finding=released)
    services.finding_release(actor=us_approver, finding=released, partners=[partner_ca.pk])
    client = sign_in(Client(), partner_viewer)
    detail = client.get(f"/api/v1/findings/{released.pk}/").json()
    assert detail["version"] == 2 and detail["snapshot"]["title"] == "Second version"
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert [r["version"] for r in client.get("/api/v1/releases/").json()["results"]] == [2, 1]
    services.finding_withdraw(actor=uk_approver, finding=released, version=2)
    detail = client.get(f"/api/v1/findings/{released.pk}/").json()
    assert detail["version"] == 1 and detail["snapshot"]["title"] == "Model explains lock picking"


@pytest.mark.parametrize(("spans", "ok"), [
    ([], True), ([[0, 3]], True), ([[3, 5], [0, 3]], True), ([[0, 11]], True),
    ([[0, 12]], False), ([[-1, 2]], False), ([[2, 2]], False), ([[3, 1]], False), ([[0, 4], [3, 6]], False),
    ([[0]], False), ([["0", "1"]], False), ([[True, 2]], False), ("0-3", False), ([[0.5, 2]], False),
])
def test_redaction_spans_are_validated(spans, ok):
    text = "hello world"
    if ok:
        cleaned = redactions_validate(spans, len(text))
        assert cleaned == sorted(spans)
    else:
        with pytest.raises(ValueError):
            redactions_validate(spans, len(text))


def test_redact_replaces_each_span_with_the_marker():
    assert redact("hello world", [[6, 11], [0, 1]]) == "[redacted]ello [redacted]"
    assert redact("héllo", [[1, 2]]) == "h[redacted]llo"


def test_each_partner_sees_the_newest_version_that_named_them(released, exercise, uk_staff, uk_approver, us_approver,
                                                             partner_other, partner_viewer, other_partner_viewer,
                                                             sign_in):
    exercise.partners.add(partner_other)
    services.finding_update(actor=uk_staff, finding=released, data={"title": "For Japan only"})
    services.finding_sign_off(actor=uk_approver, finding=released)
    services.finding_sign_off(actor=us_approver, finding=released)
    services.finding_release(actor=us_approver, finding=released, partners=[partner_other.pk])
    canada = sign_in(Client(), partner_viewer).get(f"/api/v1/findings/{released.pk}/").json()
    japan = sign_in(Client(), other_partner_viewer).get(f"/api/v1/findings/{released.pk}/").json()
    assert (canada["version"], canada["snapshot"]["title"]) == (1, "Model explains lock picking")
    assert [v["version"] for v in canada["versions"]] == [1]
    assert (japan["version"], japan["snapshot"]["title"], japan["snapshot"]["partners"]) == (
        2, "For Japan only", ["Partner Institute JP"])
    assert [v["version"] for v in japan["versions"]] == [2]
