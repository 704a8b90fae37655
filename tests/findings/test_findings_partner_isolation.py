"""Partner isolation: canaries planted where partners must never look (a redacted span, an internal comment, an
evidence flag note, an unquoted sample, a draft, a withdrawn finding, an edit made after the release, the model's base
URL and provider string, another partner's release) appear in no response partner A can reach, API and pages, lists,
details, exports and errors included; partner B never sees A's release. As the credential canary test does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from evaluations.models import SampleResult
from evaluations.services import findings as services
from evaluations.services.search import samples_index
from tests.findings.factories import finding_data, finished_run
from tests.support.factories import ExerciseFactory
from tests.support.leaks import leaks

pytestmark = pytest.mark.django_db

SPAN = "CANARY-SPAN-5e1f"
COMMENT = "CANARY-COMMENT-77ab"
FLAG = "CANARY-FLAG-NOTE-9c3d"
SAMPLE = "CANARY-UNQUOTED-SAMPLE-6a1b"
DRAFT = "CANARY-DRAFT-4d2a"
WITHDRAWN = "CANARY-WITHDRAWN-8e6f"
EDIT = "CANARY-EDIT-AFTER-RELEASE-2b7c"
BASE_URL = "canary-base-url.internal"
PROVIDER = "canary-provider/model-x"
FOR_JP = "CANARY-FOR-JP-ONLY-3f9e"
FOR_CA = "Visible to Canada 0d4e"
STAFF_EMAILS = ["uk.staff@example.org", "uk.approver@example.org", "us.approver@example.org", "us.staff@example.org"]
NEVER = [SPAN, COMMENT, FLAG, SAMPLE, DRAFT, WITHDRAWN, EDIT, BASE_URL, PROVIDER, *STAFF_EMAILS]


def _release(finding: Any, approvers: list[Any], partner: Any) -> Any:
    services.finding_submit(actor=finding.author, finding=finding)
    for approver in approvers:
        services.finding_sign_off(actor=approver, finding=finding)
    return services.finding_release(actor=approvers[0], finding=finding, partners=[partner.pk])


@pytest.fixture
def world(uk_aisi, us_aisi, partner_ca, partner_other, uk_staff, us_staff, uk_approver, us_approver, cyber,
          partner_viewer, other_partner_viewer):
    exercise = ExerciseFactory(name="Both partners invited", institutes=[uk_aisi, us_aisi],
                               partners=[partner_ca, partner_other])
    run = finished_run(exercise=exercise, user=uk_staff, base_url=f"http://{BASE_URL}/v1", provider_model=PROVIDER)
    quoted, unquoted = SampleResult.objects.filter(item__run=run).order_by("sample_id")[:2]
    SampleResult.objects.filter(pk=unquoted.pk).update(output=SAMPLE, messages=[{"role": "assistant",
                                                                                 "content": SAMPLE}])
    samples_index(item_id=unquoted.item_id)  # searchable, as after an ingestion (tests/search uses this world)
    excerpt = f"The model said: {SPAN} and then stopped."
    start = excerpt.index(SPAN)
    for_ca = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title=FOR_CA, evidence=[{"sample": quoted.pk, "excerpt": excerpt,
                                      "redactions": [[start, start + len(SPAN)]]}]))
    services.finding_comment_create(actor=us_staff, finding=for_ca, body=f"Internal: {COMMENT} @uk.staff")
    services.evidence_flag_create(actor=us_staff, sample=quoted, note=FLAG)
    _release(for_ca, [uk_approver, us_approver], partner_ca)
    services.finding_update(actor=uk_staff, finding=for_ca, data={"title": EDIT, "summary": EDIT})
    for_jp = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title=FOR_JP))
    _release(for_jp, [uk_approver, us_approver], partner_other)
    draft = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(run, title=DRAFT))
    withdrawn = services.finding_create(actor=uk_staff, exercise=exercise, data=finding_data(
        run, title=WITHDRAWN, summary=WITHDRAWN))
    _release(withdrawn, [uk_approver, us_approver], partner_ca)
    services.finding_withdraw(actor=us_approver, finding=withdrawn)
    return {"exercise": exercise, "run": run, "item": run.items.get(), "samples": [quoted, unquoted],
            "for_ca": for_ca, "for_jp": for_jp, "draft": draft, "withdrawn": withdrawn}


def reachable(world: dict[str, Any]) -> list[str]:
    """Every URL a partner viewer might try: their own product, everything of the findings API by id (any finding,
    release, flag), and the areas that must stay closed to them (runs, samples, logs, models, audit...)."""
    from evaluations.models import EvidenceFlag, Finding, Release

    run, item, exercise = world["run"], world["item"], world["exercise"]
    urls = ["/api/v1/findings/", "/api/v1/findings/?format=csv", "/api/v1/findings/?format=json",
            "/api/v1/findings/?severity=high", f"/api/v1/findings/?exercise={exercise.pk}", "/api/v1/findings/?model=x",
            "/api/v1/findings/?severity=bogus", "/api/v1/releases/", "/api/v1/risk-areas/", "/api/v1/me/",
            "/api/v1/exercises/", f"/api/v1/exercises/{exercise.pk}/", "/api/v1/organisations/", "/api/v1/runs/",
            f"/api/v1/runs/{run.pk}/", f"/api/v1/runs/{run.pk}/samples/", "/api/v1/evidence-flags/",
            f"/api/v1/evidence-flags/?run={run.pk}", "/api/v1/models/", "/api/v1/tasks/", "/api/v1/audit-events/",
            f"/api/v1/compare/?items={item.pk}", f"/api/v1/run-items/{item.pk}/log/", "/api/v1/tokens/"]
    for finding in Finding.objects.all():
        base = f"/api/v1/findings/{finding.pk}/"
        urls += [base, base + "comments/", f"/api/v1/releases/?finding={finding.pk}"]
    urls += [f"/api/v1/releases/{pk}/" for pk in Release.objects.values_list("pk", flat=True)]
    urls += [f"/api/v1/evidence-flags/{pk}/" for pk in EvidenceFlag.objects.values_list("pk", flat=True)]
    urls += [f"/api/v1/samples/{s.pk}/" for s in world["samples"]]
    urls += ["/", "/exercises/", f"/exercises/{exercise.pk}/", "/runs/", f"/runs/{run.pk}/",
             f"/runs/{run.pk}/samples/", *[f"/samples/{s.pk}/" for s in world["samples"]], "/models/", "/tasks/",
             "/notifications/", f"/run-items/{item.pk}/viewer/", f"/run-items/{item.pk}/log.eval", "/audit/",
             "/profile/"]
    return urls


def _responses(client: Client, urls: list[str]) -> dict[str, Any]:
    out = {}
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="application/json" if url.startswith("/api/") else "text/html")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        out[url] = (response.status_code, body)
    return out


def test_partner_a_reaches_no_canary_in_any_response(world, partner_viewer, sign_in):
    client = sign_in(Client(), partner_viewer)
    responses = _responses(client, reachable(world))
    found = {url: leaks(body, NEVER + [FOR_JP]) for url, (_, body) in responses.items()}
    assert not {url: hits for url, hits in found.items() if hits}
    assert all(status in (200, 302, 400, 403, 404) for status, _ in responses.values()), {
        url: status for url, (status, _) in responses.items() if status not in (200, 302, 400, 403, 404)}
    # Positive controls: A's own product holds the finding as released, with the marker where the span was.
    status, body = responses[f"/api/v1/findings/{world['for_ca'].pk}/"]
    assert status == 200
    detail = json.loads(body)
    assert detail["snapshot"]["title"] == FOR_CA
    assert detail["snapshot"]["evidence"][0]["excerpt"] == "The model said: [redacted] and then stopped."
    assert FOR_CA.encode() in responses["/api/v1/findings/?format=csv"][1]
    listed = json.loads(responses["/api/v1/findings/"][1])
    assert [r["id"] for r in listed["results"]] == [world["for_ca"].pk]


def test_the_canaries_are_there_for_institute_staff(world, us_staff, sign_in):
    """Positive control of the detector: the planted canaries are in what staff read."""
    client = sign_in(Client(), us_staff)
    finding = world["for_ca"].pk
    detail = client.get(f"/api/v1/findings/{finding}/").content
    assert leaks(detail, [SPAN, EDIT, FLAG]) == [SPAN, EDIT, FLAG]
    assert leaks(client.get(f"/api/v1/findings/{finding}/comments/").content, [COMMENT]) == [COMMENT]


def test_partner_a_gets_404_for_every_finding_not_released_to_them_and_for_the_closed_areas(world,
                                                                                           partner_viewer, sign_in):
    client = sign_in(Client(), partner_viewer)
    hidden = [world["for_jp"], world["draft"], world["withdrawn"]]
    for finding in hidden:
        assert client.get(f"/api/v1/findings/{finding.pk}/").status_code == 404
    for finding in [world["for_ca"], *hidden]:
        for suffix in ("comments/", "submit/", "sign-off/", "release/", "withdraw/", "request-changes/",
                       "reproduce/"):
            method = client.get if suffix == "comments/" else client.post
            assert method(f"/api/v1/findings/{finding.pk}/{suffix}").status_code in (404, 405), suffix
    run, item = world["run"], world["item"]
    for url in (f"/api/v1/runs/{run.pk}/", f"/api/v1/samples/{world['samples'][0].pk}/", "/api/v1/models/",
                f"/api/v1/run-items/{item.pk}/log/", "/api/v1/evidence-flags/", f"/runs/{run.pk}/",
                f"/samples/{world['samples'][0].pk}/", "/models/"):
        assert client.get(url).status_code == 404, url


def test_partner_b_never_sees_the_release_to_partner_a(world, other_partner_viewer, sign_in):
    client = sign_in(Client(), other_partner_viewer)
    responses = _responses(client, reachable(world))
    found = {url: leaks(body, [*NEVER, FOR_CA]) for url, (_, body) in responses.items()}
    assert not {url: hits for url, hits in found.items() if hits}
    listed = json.loads(responses["/api/v1/findings/"][1])
    assert [r["id"] for r in listed["results"]] == [world["for_jp"].pk]
    assert client.get(f"/api/v1/findings/{world['for_ca'].pk}/").status_code == 404


def test_a_withdrawn_release_disappears_at_once_and_the_empty_list_follows(world, partner_viewer, sign_in,
                                                                           uk_approver):
    client = sign_in(Client(), partner_viewer)
    assert client.get(f"/api/v1/findings/{world['for_ca'].pk}/").status_code == 200
    services.finding_withdraw(actor=uk_approver, finding=world["for_ca"])
    assert client.get(f"/api/v1/findings/{world['for_ca'].pk}/").status_code == 404
    assert client.get("/api/v1/findings/").json()["results"] == []
    assert client.get("/api/v1/releases/").json()["results"] == []


def test_a_partner_uninvited_from_the_exercise_no_longer_sees_its_releases(world, partner_viewer, partner_ca,
                                                                           sign_in):
    world["exercise"].partners.remove(partner_ca)
    client = sign_in(Client(), partner_viewer)
    assert client.get("/api/v1/findings/").json()["results"] == []
    assert client.get(f"/api/v1/findings/{world['for_ca'].pk}/").status_code == 404


def test_partner_notices_name_no_content(world, partner_viewer):
    from evaluations.models import Notification

    texts = " ".join(Notification.objects.filter(user=partner_viewer).values_list("text", flat=True))
    assert "released to your organisation" in texts and "withdrawn" in texts
    assert not leaks(texts, [*NEVER, FOR_CA, FOR_JP])
