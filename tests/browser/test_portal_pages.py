"""Every page of the portal in Chromium with axe-core (WCAG 2.2 A/AA): seen by the actor who uses it, with
realistic data (filled tables and empty states, forms showing their validation errors), and the main pages
under the real CSP (no bypass), including htmx polling on a running run's page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from tests.browser.harness import PageProblems
from tests.support.factories import OrganisationFactory, UserFactory
from tests.support.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# --- data ---------------------------------------------------------------------------------------------------

@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def portal(exercise, uk_staff, us_staff, uk_approver, us_approver, partner_viewer, media_root) -> dict[str, Any]:
    """Models, tasks, runs in each state, samples, notifications and audit events, made by their services
    where one exists (so audit events are real) and by direct updates for what a worker would write."""
    from evaluations.models import ConnectionTest, Notification, Run, RunItem, SampleResult
    from evaluations.services.runs import run_create, run_submit
    from tests.support.factories import model_version, task_version

    mock = model_version(exercise=exercise, user=uk_staff, name="Mock model")
    other = model_version(exercise=exercise, user=us_staff, name="Second model")
    ConnectionTest.objects.create(registered_model=mock.registered_model, model_version=mock,
                                  status=ConnectionTest.Status.SUCCEEDED, latency_ms=42,
                                  requested_by=uk_staff, finished_at=timezone.now())
    counting = task_version(exercise=exercise, user=uk_staff, args={"samples": 3})
    draft = run_create(actor=uk_staff, exercise=exercise, models=[mock], tasks=[counting],
                       options={"name": "Draft run", "limit": 3})
    submitted = run_submit(actor=uk_staff, run=run_create(
        actor=uk_staff, exercise=exercise, models=[mock, other], tasks=[counting],
        options={"name": "Submitted run", "limit": 3}))
    running = run_create(actor=uk_staff, exercise=exercise, models=[mock], tasks=[counting],
                         options={"name": "Running run", "limit": 5})
    finished = run_create(actor=uk_staff, exercise=exercise, models=[mock, other], tasks=[counting],
                          options={"name": "Finished run", "limit": 4})
    now = timezone.now()
    Run.objects.filter(pk=running.pk).update(state="running", started_at=now)
    running.items.update(state="running", done_samples=2, total_samples=5, input_tokens=120, output_tokens=40,
                         eta_seconds=30, started_at=now, attempts=1)
    Run.objects.filter(pk=finished.pk).update(state="partially_succeeded", started_at=now - timedelta(minutes=5),
                                              finished_at=now)
    good, bad = finished.items.order_by("pk")
    RunItem.objects.filter(pk=good.pk).update(state="succeeded", done_samples=4, total_samples=4, error_samples=1,
                                              input_tokens=400, output_tokens=90, cost=Decimal("0.0123"),
                                              metrics={"match": {"accuracy": 0.75, "stderr": 0.25}},
                                              finished_at=now)
    RunItem.objects.filter(pk=bad.pk).update(state="failed", error="Connection refused by the model's endpoint",
                                             finished_at=now)
    for number in range(1, 5):
        SampleResult.objects.create(
            item=good, sample_id=str(number), epoch=1, input=f"What is {number} + {number}?",
            input_text=f"What is {number} + {number}?", target=str(2 * number), output=str(2 * number),
            scores={"match": {"value": "C" if number < 4 else "I", "answer": str(2 * number)}},
            score=1.0 if number < 4 else 0.0, explanation="Compared the last number in the answer.",
            input_tokens=100, output_tokens=20, total_tokens=120, total_time=1.5, working_time=1.2,
            error="Timed out" if number == 4 else "",
            messages=[{"role": "system", "content": "Answer with a number."},
                      {"role": "user", "content": f"What is {number} + {number}?"},
                      {"role": "assistant", "content": [{"type": "text", "text": str(2 * number)}],
                       "tool_calls": [{"id": "c1", "function": "add", "arguments": {"a": number, "b": number}}]},
                      {"role": "tool", "content": str(2 * number)}],
            metadata={"difficulty": "easy"})
    for user in (uk_staff, us_approver):
        Notification.objects.create(user=user, run=submitted, kind="approval_needed",
                                    text=f"{submitted.name} waits for your approval.")
        Notification.objects.create(user=user, run=finished, kind="finished", text=f"{finished.name} finished.",
                                    read_at=now)
    return {"mock": mock, "counting": counting, "draft": draft, "submitted": submitted, "running": running,
            "finished": finished, "good_item": good, "bad_item": bad,
            "sample": good.samples.order_by("pk").first()}


@pytest.fixture
def dataset_task(portal, uk_staff, exercise, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evaluations.services.catalogue import task_create_dataset

    upload = SimpleUploadedFile("questions.csv", b"id,input,target\n1,What is 2+2?,4\n2,Capital of France?,Paris\n",
                                content_type="text/csv")
    return task_create_dataset(user=uk_staff, name="Quick questions", exercises=[exercise], upload=upload,
                               description="Two short questions.")


# --- the tour -----------------------------------------------------------------------------------------------

class Tour:
    """Visits pages as one actor after another and collects every page's problems, so one run lists them all."""

    def __init__(self, visit_and_check: Callable[..., Any], browser_sign_in: Callable[[Any], Any], page: Any,
                 base: str) -> None:
        self.visit_and_check, self.browser_sign_in, self.page, self.base = visit_and_check, browser_sign_in, page, base
        self.problems: list[str] = []
        self.visited: list[str] = []

    def as_user(self, user: Any) -> Tour:
        self.page.context.clear_cookies()
        self.browser_sign_in(user)
        return self

    def visit(self, path: str, status: int = 200, expect: str | None = None) -> Any:
        self.visited.append(path)
        try:
            page = self.visit_and_check(self.base + path, expected_status=status)
        except AssertionError as failure:
            self.problems.append(str(failure))
            return self.page
        if expect is not None and expect not in page.locator("main").inner_text():
            self.problems.append(f"{path}: {expect!r} not shown")
        return page

    def check_current(self, label: str, expect: str | None = None) -> None:
        """Check the page as it is now (after a form post or an htmx swap)."""
        from tests.browser.harness import check_page

        self.visited.append(label)
        try:
            check_page(self.page, label, PageProblems())
        except AssertionError as failure:
            self.problems.append(str(failure))
        if expect is not None and expect not in self.page.locator("main").inner_text():
            self.problems.append(f"{label}: {expect!r} not shown")

    def assert_clean(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


@pytest.fixture
def tour(visit_and_check, browser_sign_in, page, live_server) -> Tour:
    return Tour(visit_and_check, browser_sign_in, page, live_server.url)


def test_staff_pages_with_data_have_no_accessibility_violations(tour, portal, dataset_task, uk_staff, exercise,
                                                                page):
    p = portal
    tour.as_user(uk_staff)
    model = p["mock"].registered_model
    tour.visit("/models/", expect="Mock model")
    tour.visit(f"/models/{model.pk}/", expect="Mock model")
    tour.visit("/models/new/")
    tour.visit(f"/models/{model.pk}/edit/")
    tour.visit(f"/models/{model.pk}/credential/")
    # The connection-test fragment, checked where it is shown: swapped into the model's page by htmx.
    tour.visit(f"/models/{model.pk}/", expect="42")
    with page.expect_response(lambda r: r.url.endswith("/test-connection/")):
        page.get_by_role("button", name="Test connection").click()
    page.locator("#connection-test", has_text="Waiting for a worker").wait_for()
    tour.check_current(f"/models/{model.pk}/ (connection test requested)", expect="Waiting for a worker")
    tour.visit("/tasks/", expect="Quick questions")
    tour.visit("/tasks/catalogue/")
    tour.visit("/tasks/new/catalogue/")
    tour.visit("/tasks/new/dataset/")
    tour.visit(f"/tasks/{p['counting'].eval_task.pk}/")
    tour.visit(f"/tasks/{dataset_task.pk}/", expect="Capital of France?")
    tour.visit(f"/tasks/{p['counting'].eval_task.pk}/edit/")
    tour.visit(f"/tasks/{dataset_task.pk}/edit/")
    tour.visit("/runs/", expect="Finished run")
    tour.visit("/runs/?state=running", expect="Running run")
    tour.visit("/runs/new/")
    tour.visit(f"/runs/{p['draft'].pk}/", expect="Draft")
    tour.visit(f"/runs/{p['draft'].pk}/edit/")
    tour.visit(f"/runs/{p['submitted'].pk}/", expect="Waiting for approval")
    tour.visit(f"/runs/{p['running'].pk}/", expect="2 of 5")
    # The items fragment, checked after htmx has swapped a fresh copy into the page.
    with page.expect_response(lambda r: r.url.endswith(f"/runs/{p['running'].pk}/items/")):
        pass
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    tour.check_current(f"/runs/{p['running'].pk}/ (items polled)", expect="2 of 5")
    tour.visit(f"/runs/{p['finished'].pk}/", expect="could not reach the model's server")  # the plain reason
    tour.visit(f"/runs/{p['finished'].pk}/samples/", expect="What is 3 + 3?")
    tour.visit(f"/runs/{p['finished'].pk}/samples/?score=0", expect="Timed out")
    tour.visit(f"/runs/{p['draft'].pk}/samples/")
    tour.visit(f"/samples/{p['sample'].pk}/", expect="Answer with a number.")
    tour.visit("/runs/compare/")
    tour.visit(f"/runs/compare/?items={p['good_item'].pk},{p['good_item'].pk}")
    tour.visit("/runs/import/")
    tour.visit("/notifications/", expect="waits for your approval")
    tour.visit(f"/runs/{p['draft'].pk}/submit/")
    tour.visit(f"/runs/{p['running'].pk}/cancel/")
    tour.visit(f"/runs/{p['finished'].pk}/retry/")
    tour.visit(f"/runs/{p['finished'].pk}/retry/?item={p['bad_item'].pk}")
    tour.visit("/profile/")
    tour.visit(f"/exercises/{exercise.pk}/")
    tour.assert_clean()


def test_approver_and_partner_pages_have_no_accessibility_violations(tour, portal, us_approver, partner_viewer,
                                                                     exercise):
    p = portal
    tour.as_user(us_approver)
    tour.visit(f"/runs/{p['submitted'].pk}/", expect="Approve")
    tour.visit(f"/runs/{p['submitted'].pk}/approve/")
    tour.visit(f"/runs/{p['submitted'].pk}/reject/")
    tour.visit("/notifications/", expect="waits for your approval")
    tour.as_user(partner_viewer)
    tour.visit("/")
    tour.visit("/exercises/", expect=exercise.name)
    tour.visit(f"/exercises/{exercise.pk}/")
    tour.visit("/runs/", status=404)  # the runs area does not exist for partners
    tour.visit("/notifications/", expect="No notifications yet.")  # their notices about releases
    tour.assert_clean()


def test_admin_pages_have_no_accessibility_violations(tour, portal, admin_user, exercise, uk_aisi):
    from accounts.services import invitation_create

    invitation_create(actor=admin_user, email="new@example.org", organisation=uk_aisi, role="staff")
    tour.as_user(admin_user)
    for path in ["/", "/exercises/", f"/exercises/{exercise.pk}/", f"/exercises/{exercise.pk}/edit/",
                 "/exercises/new/", "/manage/organisations/", f"/manage/organisations/{uk_aisi.pk}/",
                 "/manage/users/", f"/manage/users/{admin_user.pk}/", "/manage/invitations/", "/audit/",
                 "/audit/?action=run.create", "/accounts/2fa/", "/accounts/sessions/", "/accounts/reauthenticate/"]:
        tour.visit(path)
    tour.assert_clean()


def test_empty_states_have_no_accessibility_violations(tour, exercise):
    """A staff member of an institute with nothing yet: every list says so."""
    newcomer = UserFactory(email="new.staff@example.org", organisation=OrganisationFactory(name="New Institute"),
                           role="staff")
    tour.as_user(newcomer)
    tour.visit("/models/")
    tour.visit("/models/?q=nothing-like-this")
    tour.visit("/tasks/")
    tour.visit("/tasks/catalogue/?q=nothing-like-this")
    tour.visit("/runs/")
    tour.visit("/runs/?q=nothing-like-this")
    tour.visit("/notifications/")
    tour.visit("/exercises/")
    tour.visit("/audit/")
    tour.assert_clean()


def test_forms_with_validation_errors_have_no_accessibility_violations(tour, portal, uk_staff, us_approver, page):
    """Each form submitted with mistakes: the error summary and the field errors pass axe too."""
    p = portal
    model = p["mock"].registered_model
    tour.as_user(uk_staff)

    def submit_and_check(path: str, fill: Callable[[], None] | None = None, expect: str = "There is a problem",
                         button: str = "main form button[type=submit]") -> None:
        tour.visit(path)
        if fill is not None:
            fill()
        with page.expect_navigation(wait_until="load"):
            page.locator(button).last.click()
        tour.check_current(f"{path} (after a wrong submission)", expect=expect)

    submit_and_check("/models/new/", lambda: page.fill("#id_other_settings", "not json"))
    submit_and_check(f"/models/{model.pk}/edit/", lambda: page.fill("#id_name", ""))
    submit_and_check(f"/models/{model.pk}/credential/", button="main form:not([data-confirm]) button[type=submit]")
    submit_and_check("/tasks/new/catalogue/", lambda: page.fill("#id_args", "[1, 2"))
    rows = "input,target\n" + "".join(f"question {i},\n" if i % 2 else f"question {i},answer\n" for i in range(6))

    def bad_dataset() -> None:
        page.fill("#id_name", "Bad rows")
        page.locator("input[name=exercises]").first.check()
        page.set_input_files("#id_dataset", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                                     "buffer": rows.encode()}])

    submit_and_check("/tasks/new/dataset/", bad_dataset, expect="Line 3")
    submit_and_check("/runs/new/")
    submit_and_check("/runs/import/")
    tour.as_user(us_approver)
    submit_and_check(f"/runs/{p['submitted'].pk}/reject/")
    tour.assert_clean()


def test_profile_token_page_has_no_accessibility_violations(tour, uk_staff, page):
    tour.as_user(uk_staff)
    tour.visit("/profile/")
    page.fill("#id_name", "My script")
    with page.expect_navigation(wait_until="load"):
        page.locator("form[action$='/profile/tokens/'] button[type=submit]").click()
    tour.check_current("/profile/tokens/ (token created)")
    tour.visit("/profile/", expect="My script")
    tour.assert_clean()


def test_error_pages_have_no_accessibility_violations(tour, portal, partner_viewer, page, live_server):
    from django.template.loader import render_to_string

    tour.as_user(partner_viewer)
    tour.visit("/audit/", status=403)
    tour.visit("/models/999999/", status=404)
    tour.visit("/no-such-page/", status=404)
    # 400 and 500 cannot be caused on purpose: serve their templates at a URL of the live server.
    for status in (400, 500):
        html = render_to_string(f"errors/{status}.html", {})
        url = f"{live_server.url}/__error_{status}__/"
        page.route(url, _serve(html, status))
        tour.visit(f"/__error_{status}__/", status=status)
    tour.assert_clean()


def _serve(html: str, status: int) -> Callable[[Any], None]:
    def handler(route: Any) -> None:
        route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")

    return handler


WIDEST_ELEMENTS = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.portal-table-wrapper > *'))
  .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}.${e.className}`)"""


def test_pages_reflow_at_320_css_pixels_without_scrolling_sideways(tour, portal, dataset_task, uk_staff, page):
    """WCAG 1.4.10 Reflow: at 320 CSS px (400% zoom) the page does not scroll sideways; a wide table scrolls
    inside its own focusable region, named by its caption."""
    p = portal
    tour.as_user(uk_staff)
    page.set_viewport_size({"width": 320, "height": 640})
    wide: list[str] = []
    for path in ["/", "/exercises/", "/models/", f"/models/{p['mock'].registered_model.pk}/", "/models/new/",
                 "/tasks/", "/tasks/catalogue/", f"/tasks/{dataset_task.pk}/", "/tasks/new/dataset/", "/runs/",
                 "/runs/new/", f"/runs/{p['finished'].pk}/", f"/runs/{p['finished'].pk}/samples/",
                 f"/samples/{p['sample'].pk}/", f"/runs/compare/?items={p['good_item'].pk},{p['good_item'].pk}",
                 f"/runs/{p['submitted'].pk}/submit/", "/notifications/", "/profile/", "/audit/"]:
        page.goto(tour.base + path, wait_until="load")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            wide.append(f"{path}: {width} px wide, because of {page.evaluate(WIDEST_ELEMENTS)}")
    assert wide == [], "\n".join(wide)
    regions = page.locator(".portal-table-wrapper[role=region][tabindex='0']")
    assert regions.count() >= 1
    caption_id = regions.first.get_attribute("aria-labelledby")
    assert caption_id and page.locator(f"caption#{caption_id}").count() == 1


# --- the real CSP -------------------------------------------------------------------------------------------

@pytest.fixture
def strict_sign_in(strict_page, live_server) -> Callable[[Any], Any]:
    def sign_in_strict(user: Any) -> Any:
        cookie = sign_in(Client(), user).cookies[django_settings.SESSION_COOKIE_NAME]
        strict_page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie.value,
                                          "url": live_server.url, "httpOnly": True, "sameSite": "Lax"}])
        return strict_page

    return sign_in_strict


def _csp_problems(page: Any, problems: PageProblems) -> list[str]:
    violations = page.evaluate("window.__cspViolations")
    console = [m for m in problems.console_errors if "Content Security Policy" in m or "Refused" in m]
    return [*violations, *console]


def test_main_pages_load_under_the_real_csp_without_violations(strict_page, strict_sign_in, live_server, portal,
                                                               dataset_task, uk_staff):
    p = portal
    strict_sign_in(uk_staff)
    problems = PageProblems()
    problems.watch(strict_page)
    found: dict[str, list[str]] = {}
    for path in ["/", "/exercises/", "/models/", f"/models/{p['mock'].registered_model.pk}/", "/models/new/",
                 "/tasks/", "/tasks/catalogue/", f"/tasks/{dataset_task.pk}/", "/tasks/new/dataset/", "/runs/",
                 "/runs/new/", f"/runs/{p['finished'].pk}/", f"/runs/{p['finished'].pk}/samples/",
                 f"/samples/{p['sample'].pk}/", "/notifications/", "/profile/", "/audit/"]:
        response = strict_page.goto(live_server.url + path, wait_until="load")
        assert response is not None and response.status == 200, path
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert "govuk-frontend-supported" in (strict_page.locator("body").get_attribute("class") or ""), path
        if bad := _csp_problems(strict_page, problems):
            found[path] = bad
        problems.console_errors.clear()
    assert found == {}, f"CSP violations: {found}"
    assert problems.failed_requests == []


def test_the_connection_test_button_swaps_in_the_result_under_the_real_csp(strict_page, strict_sign_in, live_server,
                                                                          portal, uk_staff):
    model = portal["mock"].registered_model
    strict_sign_in(uk_staff)
    problems = PageProblems()
    problems.watch(strict_page)
    strict_page.goto(f"{live_server.url}/models/{model.pk}/", wait_until="load")
    with strict_page.expect_response(lambda r: r.url.endswith(f"/models/{model.pk}/test-connection/")) as answer:
        strict_page.get_by_role("button", name="Test connection").click()
    assert answer.value.status == 200
    strict_page.locator("#connection-test", has_text="Waiting for a worker").wait_for()
    assert strict_page.url.endswith(f"/models/{model.pk}/"), "htmx swapped in place (no full page post)"
    assert _csp_problems(strict_page, problems) == []


def test_a_running_runs_page_polls_its_items_under_the_real_csp(strict_page, strict_sign_in, live_server, portal,
                                                                 uk_staff):
    running = portal["running"]
    strict_sign_in(uk_staff)
    problems = PageProblems()
    problems.watch(strict_page)
    strict_page.goto(f"{live_server.url}/runs/{running.pk}/", wait_until="domcontentloaded")
    assert "2 of 5" in strict_page.locator("#run-items").inner_text()
    assert strict_page.locator("[onclick], [onload], [onchange], [onsubmit], [style]").count() == 0
    running.items.update(done_samples=4)
    with strict_page.expect_request(lambda r: r.url.endswith(f"/runs/{running.pk}/items/"), timeout=6000) as polled:
        pass
    assert polled.value.headers.get("hx-request") == "true"
    # A locator wait (page functions would need eval, which the CSP refuses).
    strict_page.locator("#run-items", has_text="4 of 5").wait_for(timeout=6000)
    assert _csp_problems(strict_page, problems) == []
    assert problems.failed_requests == []


def test_sign_in_and_account_pages_have_no_accessibility_violations(tour, page, uk_staff, admin_user, uk_aisi):
    """The allauth pages in the portal's layout: signing in (a wrong password, then the MFA step with a wrong
    code), invitations, and the signed-in account pages."""
    from accounts.services import invitation_create
    from tests.support.factories import DEFAULT_PASSWORD
    from tests.support.helpers import enrol_totp, sign_in_password_only

    invitation = invitation_create(actor=admin_user, email="invited@example.org", organisation=uk_aisi, role="staff")
    enrol_totp(uk_staff)
    tour.visit(f"/invitations/accept/{invitation.token}/", expect="password")
    tour.visit("/invitations/accept/forged/", status=400)
    tour.visit("/accounts/signup/")
    tour.visit("/accounts/password/reset/")
    tour.visit("/accounts/login/")
    page.fill("input[name=login]", uk_staff.email)
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()
    tour.check_current("/accounts/login/ (wrong password)")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()
    tour.check_current("/accounts/2fa/authenticate/")
    page.fill("input[name=code]", "000000")
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").first.click()
    tour.check_current("/accounts/2fa/authenticate/ (wrong code)")

    tour.as_user(uk_staff)
    for path in ["/accounts/email/", "/accounts/password/change/", "/accounts/logout/", "/accounts/2fa/",
                 "/accounts/2fa/reauthenticate/", "/accounts/sessions/"]:
        tour.visit(path)
    # A newcomer who has a password but no authenticator yet is sent to set one up.
    newcomer = UserFactory(email="newcomer@example.org", organisation=uk_aisi)
    client = sign_in_password_only(Client(), newcomer, just_set_password=True)
    page.context.clear_cookies()
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                               "url": tour.base}])
    tour.visit("/accounts/2fa/totp/activate/")
    page.fill("input[name=code]", "000000")
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").first.click()
    tour.check_current("/accounts/2fa/totp/activate/ (wrong code)")
    tour.assert_clean()


def test_long_lists_and_their_pagination_have_no_accessibility_violations(tour, portal, uk_staff, exercise):
    """Lists longer than a page: the pagination links and the current page text pass axe (contrast included)."""
    from evaluations.models import EvalTask, Notification, RegisteredModel, Run, SampleResult
    from portal.audit import audit_record

    good = portal["good_item"]
    Run.objects.bulk_create([Run(exercise=exercise, created_by=uk_staff, owner=uk_staff.organisation,
                                 name=f"Nightly run {n}", state="succeeded") for n in range(30)])
    SampleResult.objects.bulk_create([SampleResult(item=good, sample_id=f"extra-{n}", epoch=1, input_text=f"Q{n}",
                                                   output="A", score=1.0) for n in range(30)])
    Notification.objects.bulk_create([Notification(user=uk_staff, run=portal["finished"], kind="finished",
                                                   text=f"Run {n} finished.") for n in range(30)])
    for n in range(30):
        registered = RegisteredModel.objects.create(name=f"Model {n:02d}", owner=uk_staff.organisation,
                                                    created_by=uk_staff)
        registered.exercises.add(exercise)
        task = EvalTask.objects.create(name=f"Task {n:02d}", owner=uk_staff.organisation, created_by=uk_staff)
        task.exercises.add(exercise)
    for n in range(60):
        audit_record(actor=uk_staff, action="test.pagination", exercise_id=exercise.pk, after={"n": n})
    tour.as_user(uk_staff)
    for path in ["/runs/", "/runs/?page=2", f"/runs/{portal['finished'].pk}/samples/?page=2", "/notifications/",
                 "/notifications/?page=2", "/models/", "/models/?page=2", "/tasks/", "/tasks/?page=2",
                 "/tasks/catalogue/?page=2", "/audit/", "/audit/?page=2"]:
        tour.visit(path)
    tour.assert_clean()
