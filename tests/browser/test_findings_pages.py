"""The findings pages in Chromium with axe-core (WCAG 2.2 A/AA), each seen by the actor who uses it: the
institutes' list, detail, forms (also with their validation errors), workflow confirmations and evidence flags on
the runs pages; the partners' landing page (filled and empty) and finding page; and the downloads answering with
files."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_portal_pages import Tour

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tour(visit_and_check, browser_sign_in, page, live_server) -> Tour:
    return Tour(visit_and_check, browser_sign_in, page, live_server.url)


@pytest.fixture
def findings(exercise, uk_staff, us_staff, uk_approver, us_approver, partner_ca) -> dict[str, Any]:
    """A finished run with flagged samples, and a finding in each state (one released to Partner Institute CA)."""
    from evaluations.services import findings as services
    from tests.findings.factories import finding_data, finished_run, risk_area

    risk_area()
    run = finished_run(exercise=exercise, user=uk_staff, name="Finished run")
    sample = run.items.get().samples.order_by("sample_id").first()
    services.evidence_flag_create(actor=uk_staff, sample=sample, note="Gives step by step instructions",
                                  message_indices=[2])

    def new(title: str, **overrides: Any) -> Any:
        return services.finding_create(actor=uk_staff, exercise=exercise,
                                       data=finding_data(run, title=title, **overrides))

    def signed(title: str) -> Any:
        found = services.finding_submit(actor=uk_staff, finding=new(title, severity="critical"))
        services.finding_sign_off(actor=uk_approver, finding=found)
        services.finding_sign_off(actor=us_approver, finding=found)
        found.refresh_from_db()
        return found

    draft = new("Draft finding", summary="# Heading\n\nSome **bold** text and a [link](https://example.org).")
    services.finding_comment_create(actor=us_staff, finding=draft, body="@uk.staff which epoch was this?")
    review = services.finding_submit(actor=uk_staff, finding=new("Finding in review", severity="low"))
    signed_off = signed("Signed-off finding")
    released = signed("Released finding")
    services.finding_release(actor=uk_approver, finding=released, partners=[partner_ca.pk])
    return {"run": run, "sample": sample, "draft": draft, "review": review, "signed": signed_off,
            "released": released}


def test_institute_findings_pages_have_no_accessibility_violations(tour, findings, uk_staff, us_staff,
                                                                    uk_approver, exercise, page):
    f = findings
    tour.as_user(uk_staff)
    tour.visit("/findings/", expect="Draft finding")
    tour.visit("/findings/?severity=critical&q=finding", expect="Released finding")
    tour.visit("/findings/?q=nothing-like-this", expect="No findings match these filters")
    tour.visit("/findings/?severity=apocalyptic", expect="There is a problem")
    tour.visit(f"/findings/{f['draft'].pk}/", expect="which epoch was this?")
    tour.visit(f"/findings/{f['released'].pk}/", expect="Partner Institute CA")
    tour.visit("/findings/new/")
    tour.visit(f"/findings/new/?sample={f['sample'].pk}")
    tour.visit(f"/findings/{f['draft'].pk}/edit/", expect="[[")
    tour.visit(f"/findings/{f['draft'].pk}/submit/")
    tour.visit(f"/samples/{f['sample'].pk}/", expect="Gives step by step instructions")
    tour.visit(f"/samples/{f['sample'].pk}/flag/")
    tour.visit(f"/runs/{f['run'].pk}/", expect="Gives step by step instructions")
    tour.visit(f"/exercises/{exercise.pk}/", expect="Exercise report (PDF)")
    # the form with mistakes: an unclosed redaction marker
    tour.visit(f"/findings/{f['draft'].pk}/edit/")
    page.fill("#id_evidence_1_excerpt", "the [[secret")
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").last.click()
    tour.check_current("/findings/<id>/edit/ (after a wrong submission)", expect="is not closed")
    tour.as_user(us_staff)
    tour.visit(f"/findings/{f['review'].pk}/request-changes/")
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").last.click()
    tour.check_current("/findings/<id>/request-changes/ (no reason)", expect="There is a problem")
    tour.as_user(uk_approver)
    tour.visit(f"/findings/{f['review'].pk}/sign-off/")
    tour.visit(f"/findings/{f['signed'].pk}/release/", expect="Partner Institute CA")
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").last.click()
    tour.check_current("/findings/<id>/release/ (no partner chosen)", expect="Choose at least one partner")
    tour.visit(f"/findings/{f['released'].pk}/withdraw/")
    tour.assert_clean()


def test_partner_findings_pages_have_no_accessibility_violations(tour, findings, partner_viewer,
                                                                 other_partner_viewer, exercise):
    f = findings
    tour.as_user(partner_viewer)
    tour.visit("/", expect="Released finding")  # the landing page
    tour.visit("/findings/?severity=critical&risk_area=cyber", expect="Released finding")
    tour.visit("/findings/?severity=low", expect="No released findings match these filters")
    tour.visit(f"/findings/{f['released'].pk}/", expect="[redacted]")
    tour.visit(f"/findings/{f['draft'].pk}/", status=404)
    tour.visit(f"/exercises/{exercise.pk}/")
    tour.as_user(other_partner_viewer)
    tour.visit("/findings/", expect="Nothing has been released to your organisation yet")
    tour.assert_clean()


def test_downloads_answer_with_files_for_a_partner(findings, partner_viewer, browser_sign_in, page, live_server,
                                                   exercise):
    browser_sign_in(partner_viewer)
    for path, content_type in ((f"/exercises/{exercise.pk}/report.pdf", "application/pdf"),
                               ("/findings/export.csv", "text/csv; charset=utf-8"),
                               ("/findings/export.json", "application/json")):
        response = page.request.get(live_server.url + path)
        assert response.status == 200, path
        assert response.headers["content-type"] == content_type
        assert response.headers["content-disposition"].startswith("attachment;")
    body = page.request.get(live_server.url + f"/exercises/{exercise.pk}/report.pdf").body()
    assert body.startswith(b"%PDF-")


def test_findings_pages_reflow_at_320_css_pixels_without_scrolling_sideways(tour, findings, uk_staff, partner_viewer,
                                                                          page):
    from tests.browser.test_portal_pages import WIDEST_ELEMENTS

    f = findings
    page.set_viewport_size({"width": 320, "height": 640})
    wide: list[str] = []
    for user, paths in ((uk_staff, ["/findings/", f"/findings/{f['released'].pk}/", f"/findings/{f['draft'].pk}/edit/",
                                    f"/samples/{f['sample'].pk}/"]),
                        (partner_viewer, ["/findings/", f"/findings/{f['released'].pk}/"])):
        tour.as_user(user)
        for path in paths:
            page.goto(tour.base + path, wait_until="load")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 320:
                wide.append(f"{user.email} {path}: {width} px wide, because of {page.evaluate(WIDEST_ELEMENTS)}")
    assert wide == [], "\n".join(wide)
