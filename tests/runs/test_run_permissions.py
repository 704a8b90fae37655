"""Permission table for every run URL (pages and API): (url, method, actor) -> status. ROLES.md is the spec:
an object the actor may not see is 404, a forbidden action on a visible object 403. A URL missing from the table
fails ``test_every_run_url_is_in_the_table``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

from evaluations.models import Run, RunItem, SampleResult
from evaluations.services.runs_execution import samples_ingest

pytestmark = pytest.mark.django_db

ACTORS = ["uk_staff", "us_staff", "uk_approver", "us_approver", "admin_user", "partner_viewer",
          "other_partner_viewer", "anonymous"]
INSTITUTE = ["uk_staff", "us_staff", "uk_approver", "us_approver", "admin_user"]
PARTNERS = ["partner_viewer", "other_partner_viewer"]


def everyone(ok: int, partner: int, anonymous: int = 302) -> dict[str, int]:
    return {**dict.fromkeys(INSTITUTE, ok), **dict.fromkeys(PARTNERS, partner), "anonymous": anonymous}


def table(**statuses: int) -> dict[str, int]:
    return statuses


# (url name, path template, method, {actor: status}); {run}, {item}, {sample} are filled in per test.
ROWS: list[tuple[str, str, str, dict[str, int]]] = [
    ("run-list", "/runs/", "get", everyone(200, 200)),
    ("run-create", "/runs/new/", "get", table(uk_staff=200, us_staff=200, uk_approver=200, us_approver=200,
                                              admin_user=403, partner_viewer=403, other_partner_viewer=403,
                                              anonymous=302)),
    ("run-import", "/runs/import/", "get", table(uk_staff=200, us_staff=200, uk_approver=200, us_approver=200,
                                                 admin_user=403, partner_viewer=403, other_partner_viewer=403,
                                                 anonymous=302)),
    ("run-compare", "/runs/compare/?items={item}", "get", everyone(200, 404)),
    ("run-detail", "/runs/{run}/", "get", everyone(200, 404)),
    ("run-edit", "/runs/{run}/edit/", "get", table(uk_staff=200, us_staff=403, uk_approver=403, us_approver=403,
                                                   admin_user=403, partner_viewer=404, other_partner_viewer=404,
                                                   anonymous=302)),
    ("run-items-partial", "/runs/{run}/items/", "get", everyone(200, 404)),
    ("run-samples", "/runs/{run}/samples/", "get", everyone(200, 404)),
    ("run-action", "/runs/{run}/approve/", "post", table(uk_staff=403, us_staff=403, uk_approver=302,
                                                         us_approver=302, admin_user=403, partner_viewer=404,
                                                         other_partner_viewer=404, anonymous=302)),
    ("run-action", "/runs/{run}/reject/", "get", table(uk_staff=403, us_staff=403, uk_approver=200,
                                                       us_approver=200, admin_user=403, partner_viewer=404,
                                                       other_partner_viewer=404, anonymous=302)),
    ("run-action", "/runs/{run}/cancel/", "post", table(uk_staff=302, us_staff=403, uk_approver=302,
                                                        us_approver=302, admin_user=403, partner_viewer=404,
                                                        other_partner_viewer=404, anonymous=302)),
    ("run-action", "/runs/{run}/submit/", "get", table(uk_staff=200, us_staff=403, uk_approver=403,
                                                       us_approver=403, admin_user=403, partner_viewer=404,
                                                       other_partner_viewer=404, anonymous=302)),
    ("run-action", "/runs/{run}/retry/", "get", table(uk_staff=200, us_staff=403, uk_approver=200,
                                                      us_approver=200, admin_user=403, partner_viewer=404,
                                                      other_partner_viewer=404, anonymous=302)),
    ("sample-detail", "/samples/{sample}/", "get", everyone(200, 404)),
    ("notification-list", "/notifications/", "get", everyone(200, 200)),
    ("run-item-log", "/run-items/{item}/log.eval", "get", everyone(200, 404)),
    ("run-item-viewer", "/run-items/{item}/viewer/", "get", everyone(302, 404)),
    ("run-item-viewer-file", "/run-items/{item}/viewer/assets/index.css", "get", everyone(200, 404)),
    # API (anonymous: 401 or 403 depending on the authentication classes; both refuse)
    ("api-run-list", "/api/v1/runs/", "get", everyone(200, 200, 403)),
    ("api-run-list", "/api/v1/runs/", "post", table(uk_staff=400, us_staff=400, uk_approver=400, us_approver=400,
                                                    admin_user=403, partner_viewer=403, other_partner_viewer=403,
                                                    anonymous=403)),
    ("api-run-import-log", "/api/v1/runs/import/", "post",
     table(uk_staff=400, us_staff=400, uk_approver=400, us_approver=400, admin_user=403, partner_viewer=403,
           other_partner_viewer=403, anonymous=403)),
    ("api-run-detail", "/api/v1/runs/{run}/", "get", everyone(200, 404, 403)),
    ("api-run-detail", "/api/v1/runs/{run}/", "patch", table(uk_staff=200, us_staff=403, uk_approver=403,
                                                             us_approver=403, admin_user=403, partner_viewer=404,
                                                             other_partner_viewer=404, anonymous=403)),
    ("api-run-approve", "/api/v1/runs/{run}/approve/", "post",
     table(uk_staff=403, us_staff=403, uk_approver=200, us_approver=200, admin_user=403, partner_viewer=404,
           other_partner_viewer=404, anonymous=403)),
    ("api-run-reject", "/api/v1/runs/{run}/reject/", "post",
     table(uk_staff=403, us_staff=403, uk_approver=400, us_approver=400, admin_user=403, partner_viewer=404,
           other_partner_viewer=404, anonymous=403)),
    ("api-run-cancel", "/api/v1/runs/{run}/cancel/", "post",
     table(uk_staff=200, us_staff=403, uk_approver=200, us_approver=200, admin_user=403, partner_viewer=404,
           other_partner_viewer=404, anonymous=403)),
    ("api-run-submit", "/api/v1/runs/{run}/submit/", "post",
     table(uk_staff=409, us_staff=403, uk_approver=403, us_approver=403, admin_user=403, partner_viewer=404,
           other_partner_viewer=404, anonymous=403)),
    ("api-run-retry", "/api/v1/runs/{run}/retry/", "post",
     table(uk_staff=409, us_staff=403, uk_approver=409, us_approver=409, admin_user=403, partner_viewer=404,
           other_partner_viewer=404, anonymous=403)),
    ("api-run-samples", "/api/v1/runs/{run}/samples/", "get", everyone(200, 404, 403)),
    ("api-sample-detail", "/api/v1/samples/{sample}/", "get", everyone(200, 404, 403)),
    ("api-run-item-log", "/api/v1/run-items/{item}/log/", "get", everyone(200, 404, 403)),
    ("api-compare", "/api/v1/compare/?items={item}", "get", everyone(200, 404, 403)),
]


@pytest.fixture
def table_run(submitted_run, inspect_log, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    item = submitted_run.items.get()
    target = Path(settings.MEDIA_ROOT) / "run-logs" / "t" / "log.eval"
    target.parent.mkdir(parents=True)
    shutil.copy(inspect_log, target)
    samples_ingest(item_id=item.pk, log_path=str(target))
    RunItem.objects.filter(pk=item.pk).update(log_path="run-logs/t/log.eval")
    return submitted_run


_HANDLERS: dict[bool, object] = {}


def _client(request, actor: str, api: bool):  # type: ignore[no-untyped-def]
    client = APIClient() if api else Client()
    # One request handler per kind for the whole table: building the middleware chain (WhiteNoise scans the
    # static directories) costs more than the request itself.
    client.handler = _HANDLERS.setdefault(api, client.handler)
    if api:
        client.force_authenticate(None)  # the shared handler must not keep an earlier row's user
    if actor != "anonymous":
        from tests.helpers import sign_in

        sign_in(client, request.getfixturevalue(actor))  # a browser session (with MFA) for pages and API alike
    return client


CASES = [(name, path, method, actor, statuses[actor]) for name, path, method, statuses in ROWS for actor in ACTORS]


@pytest.mark.parametrize(("name", "path", "method", "actor", "expected"), CASES,
                         ids=[f"{m}-{p}-{a}" for _, p, m, a, _ in CASES])
def test_run_url_permission(request, name, path, method, actor, expected, table_run, uk_approver, us_approver,
                            uk_staff, django_capture_on_commit_callbacks):
    # Every actor exists, so "another institute's approver" etc. are real rows.
    item = table_run.items.get()
    sample = SampleResult.objects.filter(item=item).first()
    url = path.format(run=table_run.pk, item=item.pk, sample=sample.pk)
    client = _client(request, actor, api=url.startswith("/api/"))
    with django_capture_on_commit_callbacks(execute=False):
        response = getattr(client, method)(url, {} if method != "get" else None, **(
            {"format": "multipart" if "import" in url else "json"} if url.startswith("/api/") and method != "get"
            else {}))
    if actor == "anonymous" and url.startswith("/api/"):
        assert response.status_code in (401, 403), response.status_code
    else:
        assert response.status_code == expected, (url, method, actor, getattr(response, "content", b"")[:300])


def _names(patterns, prefix=""):  # type: ignore[no-untyped-def]
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name


def test_every_run_url_is_in_the_table():
    from evaluations import api_urls, urls

    named = set(_names(urls.urlpatterns)) | set(_names(api_urls.urlpatterns))
    covered = {name for name, *_ in ROWS}
    assert named - covered == set(), f"URLs missing from the permission table: {named - covered}"


def test_run_model_is_imported_for_the_table():
    assert Run.objects.model is Run
