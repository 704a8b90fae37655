"""A task version declares its cluster field (issue 13): set where staff register and edit evaluations (form and
API, a bad name refused beside its field), shown on the evaluation's page, and the compare page's, API's and
exports' default cluster — the request's ``cluster`` overrides it, an empty one means by sample only — said in
words, carried by the CSV and JSON and by the exercise report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from evaluations.models import EvalTask, SampleResult, TaskVersion
from evaluations.selectors.comparisons import exercise_results
from portal.models import AuditEvent
from tests.comparisons.conftest import make_items
from tests.support.factories import task_version

pytestmark = pytest.mark.django_db


def _scores(i, s, e):
    return {"m": {"value": float((s // 8) % 2 == i)}}


def _passage(s):
    return {"passage": f"p{s // 8}"}


@pytest.fixture
def declared(exercise, uk_staff):
    tv = task_version(exercise=exercise, user=uk_staff, name="Reading")
    TaskVersion.objects.filter(pk=tv.pk).update(cluster_field="passage")
    tv.refresh_from_db()
    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=40, scores=_scores,
                       metadata=_passage, task=tv)
    return items


def _ids(items) -> str:
    return ",".join(str(i.pk) for i in items)


def _statistics(body):
    return {"metrics": body["metrics"], "differences": body["differences"]}


def test_the_declared_field_is_the_default_and_equals_asking_for_it(declared, us_staff, api_as):
    client = api_as(us_staff)
    default = client.get("/api/v1/compare/", {"items": _ids(declared)}).json()
    explicit = client.get("/api/v1/compare/", {"items": _ids(declared), "cluster": "passage"}).json()
    assert default["cluster"] == "passage" and default["cluster_source"] == "task"
    assert default["clustering"] == "Samples are clustered by passage, as the evaluation declares."
    assert default["metrics"][0]["estimates"][0]["clusters"] == 5
    assert explicit["cluster_source"] == "request" and explicit["clustering"] == "Samples are clustered by passage, as asked."
    assert _statistics(default) == _statistics(explicit)


def test_the_request_overrides_and_an_empty_cluster_means_by_sample_only(declared, us_staff, api_as):
    client = api_as(us_staff)
    plain = client.get("/api/v1/compare/", {"items": _ids(declared), "cluster": ""}).json()
    assert plain["cluster"] is None and plain["cluster_source"] == "request"
    assert plain["clustering"] == "Clustered by sample only, as asked (the evaluation declares passage)."
    assert plain["metrics"][0]["estimates"][0]["clusters"] == 40
    other = client.get("/api/v1/compare/", {"items": _ids(declared), "cluster": "nothing_here"}).json()
    assert other["cluster"] == "nothing_here" and other["cluster_declared"] == "passage"
    assert "as asked (the evaluation declares passage)" in other["clustering"]
    assert other["metrics"][0]["estimates"][0]["clusters"] == 40  # no sample has it: each its own cluster
    bad = client.get("/api/v1/compare/", {"items": _ids(declared), "cluster": "no spaces"})
    assert bad.status_code == 400 and "metadata field" in bad.json()["errors"]["cluster"][0]


def test_without_a_declaration_nothing_changes(exercise, uk_staff, us_staff, api_as):
    items = make_items(exercise=exercise, user=uk_staff, names=["A", "B"], samples=16, scores=_scores,
                       metadata=_passage)
    body = api_as(us_staff).get("/api/v1/compare/", {"items": _ids(items)}).json()
    assert body["cluster"] is None and body["cluster_source"] == "none" and body["cluster_declared"] is None
    assert body["clustering"] == "Clustered by sample only: the evaluation declares no cluster field."


def test_the_page_says_which_clustering_and_why_and_its_downloads_carry_it(declared, us_staff, sign_in):
    client = sign_in(Client(), us_staff)
    response = client.get("/runs/compare/", {"items": [i.pk for i in declared]})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Samples are clustered by passage, as the evaluation declares." in body
    assert 'name="cluster" value="passage"' in body  # the form shows the field used
    assert "cluster=passage" in body  # the download links ask for the clustering shown
    emptied = client.get("/runs/compare/", {"items": [i.pk for i in declared], "cluster": ""}).content.decode()
    assert "Clustered by sample only, as asked (the evaluation declares passage)." in emptied
    query = {"items": _ids(declared)}
    rows = list(csv.DictReader(io.StringIO(client.get("/runs/compare/export/",
                                                      {**query, "format": "csv"}).content.decode())))
    assert {(r["cluster_field"], r["cluster_source"]) for r in rows} == {("passage", "task")}
    assert {r["clusters"] for r in rows if r["row"] == "estimate"} == {"5"}
    plain = list(csv.DictReader(io.StringIO(client.get("/runs/compare/export/",
                                                       {**query, "cluster": "", "format": "csv"}).content.decode())))
    assert {(r["cluster_field"], r["cluster_source"]) for r in plain} == {("", "request")}
    data = json.loads(client.get("/runs/compare/export/", {**query, "format": "json"}).content)
    assert data["cluster"] == "passage" and data["cluster_source"] == "task" and "declares" in data["clustering"]
    bad = client.get("/runs/compare/export/", {**query, "cluster": "a b", "format": "csv"})
    assert bad.status_code == 400


def test_the_exercise_report_clusters_by_the_declared_field(declared, exercise, us_staff):
    SampleResult.objects.filter(item__in=declared).update(score=0.0)
    SampleResult.objects.filter(item__in=declared, sample_id__in=["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
                                                                  "s16", "s17"]).update(score=1.0)
    result = exercise_results(user=us_staff, exercise=exercise)
    assert result[0]["cluster"] == "passage"
    clustered = result[0]["rows"][0]["ci"]
    TaskVersion.objects.filter(pk=declared[0].task_version_id).update(cluster_field="")
    plain = exercise_results(user=us_staff, exercise=exercise)
    assert plain[0]["cluster"] is None
    assert clustered[1] - clustered[0] > plain[0]["rows"][0]["ci"][1] - plain[0]["rows"][0]["ci"][0]


def test_the_api_sets_and_changes_the_cluster_field_with_field_named_errors(exercise, uk_staff, api_as):
    client = api_as(uk_staff)
    created = client.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "Arithmetic", "registry_name":
                                             "arithmetic", "cluster_field": "passage_id"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["cluster_field"] == "passage_id" and body["versions"][0]["cluster_field"] == "passage_id"
    refused = client.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "Arithmetic 2",
                                             "registry_name": "arithmetic", "cluster_field": "passage id;"},
                          format="json")
    assert refused.status_code == 400 and "metadata field" in refused.json()["errors"]["cluster_field"][0]
    url = f"/api/v1/tasks/{body['id']}/"
    bad = client.patch(url, {"cluster_field": "x" * 101}, format="json")
    assert bad.status_code == 400 and "cluster_field" in bad.json()["errors"]
    changed = client.patch(url, {"cluster_field": "story.id"}, format="json")
    assert changed.status_code == 200 and changed.json()["cluster_field"] == "story.id"
    version = TaskVersion.objects.get(eval_task_id=body["id"])  # in place: no new version
    assert version.number == 1 and version.cluster_field == "story.id"
    event = AuditEvent.objects.filter(action="task.update").latest("pk")
    assert event.before["version"]["cluster_field"] == "passage_id"
    assert event.after["version"]["cluster_field"] == "story.id"
    # a new version (new arguments) carries it; an empty value clears it
    client.patch(url, {"args": {"limit": 3}}, format="json")
    assert TaskVersion.objects.filter(eval_task_id=body["id"]).order_by("-number").first().cluster_field == "story.id"
    cleared = client.patch(url, {"cluster_field": ""}, format="json")
    assert cleared.json()["cluster_field"] == ""


def test_the_forms_set_it_refuse_a_bad_name_beside_its_field_and_the_page_shows_it(exercise, uk_staff, sign_in):
    client = sign_in(Client(), uk_staff)
    form = {"name": "Arithmetic", "exercises": [exercise.pk], "registry_name": "arithmetic", "args": "",
            "description": "", "cluster_field": "bad name!"}
    refused = client.post("/tasks/new/catalogue/", form)
    assert refused.status_code == 400
    assert "Enter a cluster field of letters, digits" in refused.content.decode()
    assert not EvalTask.objects.filter(name="Arithmetic").exists()
    response = client.post("/tasks/new/catalogue/", {**form, "cluster_field": "passage_id"})
    assert response.status_code == 302
    task = EvalTask.objects.get(name="Arithmetic")
    assert task.current_version.cluster_field == "passage_id"
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "Comparisons cluster samples by" in page and "<code>passage_id</code>" in page
    edit = client.get(f"/tasks/{task.pk}/edit/").content.decode()
    assert 'value="passage_id"' in edit
    client.post(f"/tasks/{task.pk}/edit/", {**form, "cluster_field": ""})
    task.refresh_from_db()
    assert task.current_version.cluster_field == ""
    assert "Sample only: every sample counts as independent" in client.get(f"/tasks/{task.pk}/").content.decode()


def test_the_exercise_report_says_the_clustering(declared, exercise, us_staff):
    from evaluations.reports import Reader
    from evaluations.reports.pdf import exercise_report_html

    SampleResult.objects.filter(item__in=declared).update(score=1.0)
    reader = Reader(name="Uma Staff", organisation="UK AISI", is_partner=False)
    html = exercise_report_html(exercise={"name": "Alpha"}, reader=reader, findings=[],
                                results=exercise_results(user=us_staff, exercise=exercise))
    assert "Samples are clustered by passage, as the evaluation declares." in html
