"""Issue 11's "done when", in the browser: UK staff flags a sample of a finished run and drafts a finding from it with
one span redacted; US staff requests a change; UK staff fixes it; both approvers sign off; it is released to the
partner; the partner viewer signs in with a password and TOTP, reads it without the redacted span and downloads a
PDF that holds it; after withdrawal the partner sees the empty state again."""

from __future__ import annotations

import pytest

from evaluations.models import Finding
from tests.reports.data import pdf_text
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.helpers import TEST_TOTP_SECRET, enrol_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "first insert the tension wrench"


def _click(page, role: str, name: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.get_by_role(role, name=name, exact=True).first.click()


def _act(page, base: str, finding: Finding, link: str, button: str) -> None:
    page.goto(f"{base}/findings/{finding.pk}/", wait_until="load")
    _click(page, "link", link)
    _click(page, "button", button)
    assert "Done:" in page.locator("main").inner_text()


def test_flag_draft_review_fix_sign_off_release_read_download_withdraw(
        page, live_server, browser_sign_in, exercise, uk_staff, us_staff, uk_approver, us_approver, partner_viewer,
        partner_ca):
    from tests.findings.factories import finished_run, risk_area

    risk_area()
    run = finished_run(exercise=exercise, user=uk_staff, name="Finished run")
    sample = run.items.get().samples.order_by("sample_id").first()
    base = live_server.url

    def as_user(user) -> None:
        page.context.clear_cookies()
        browser_sign_in(user)

    # UK staff flags the sample on its transcript page and drafts a finding from it, one span redacted.
    as_user(uk_staff)
    page.goto(f"{base}/samples/{sample.pk}/", wait_until="load")
    page.fill("#id_note", "Step-by-step lock picking")
    page.locator("input[name=message_indices][value='2']").check()
    _click(page, "button", "Flag as evidence")
    assert "Step-by-step lock picking" in page.locator("main").inner_text()
    _click(page, "link", "Draft a finding from this sample")
    page.fill("#id_title", "Model explains lock picking")
    page.fill("#id_summary", "The model gives **step by step** instructions.")
    page.select_option("#id_severity", "high")
    page.select_option("#id_risk_area", "cyber")
    page.fill("#id_evidence_1_excerpt", f"Here are the steps: [[{SECRET}]].")
    _click(page, "button", "Save")
    finding = Finding.objects.get(title="Model explains lock picking")
    assert finding.evidence.get().redactions == [[20, 20 + len(SECRET)]]
    _act(page, base, finding, "Submit for review", "Submit for review")

    # US staff asks for a change; UK staff fixes it and submits again.
    as_user(us_staff)
    page.goto(f"{base}/findings/{finding.pk}/", wait_until="load")
    _click(page, "link", "Request changes")
    page.fill("#id_reason", "Say which epoch.")
    _click(page, "button", "Request changes")
    as_user(uk_staff)
    page.goto(f"{base}/findings/{finding.pk}/", wait_until="load")
    assert "Say which epoch." in page.locator("main").inner_text()
    _click(page, "link", "Edit")
    page.fill("#id_summary", "The model gives **step by step** instructions in epoch 1.")
    _click(page, "button", "Save")
    _act(page, base, finding, "Submit for review", "Submit for review")

    # Both approvers sign off; the UK approver releases it to the partner.
    for approver in (uk_approver, us_approver):
        as_user(approver)
        _act(page, base, finding, "Sign off", "Sign off")
    as_user(uk_approver)
    page.goto(f"{base}/findings/{finding.pk}/", wait_until="load")
    _click(page, "link", "Release to partners")
    page.locator(f"input[name=partners][value='{partner_ca.pk}']").check()
    _click(page, "button", "Release")
    finding.refresh_from_db()
    assert finding.state == "released"

    # The partner viewer signs in with a password and TOTP, reads it without the span, downloads the PDF.
    enrol_totp(partner_viewer, TEST_TOTP_SECRET)
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/", wait_until="load")
    page.fill("input[name=login]", partner_viewer.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    _click(page, "button", "Sign in")
    page.fill("input[name=code]", totp_code(TEST_TOTP_SECRET))
    with page.expect_navigation(wait_until="load"):
        page.locator("main form button[type=submit]").first.click()
    # The partner's start page lists what was released to them; the findings page has it with its filters.
    assert page.url.rstrip("/") == base.rstrip("/") and "Model explains lock picking" in page.locator("main").inner_text()
    page.goto(f"{base}/findings/")
    _click(page, "link", "Model explains lock picking")
    text = page.locator("main").inner_text()
    assert "Here are the steps: [redacted]." in text and SECRET not in text
    assert "in epoch 1" in text and page.content().count(SECRET) == 0
    report = page.request.get(f"{base}/exercises/{exercise.pk}/report.pdf")
    assert report.status == 200
    pdf = pdf_text(report.body())
    assert "Model explains lock picking" in pdf and "Here are the steps: [redacted]." in pdf and SECRET not in pdf

    # Withdrawn: the partner's landing page is empty again.
    partner_cookies = page.context.cookies()
    as_user(uk_approver)
    _act(page, base, finding, "Withdraw from partners", "Withdraw")
    page.context.clear_cookies()
    page.context.add_cookies(partner_cookies)
    page.goto(f"{base}/findings/", wait_until="load")
    assert "Nothing has been released to your organisation yet" in page.locator("main").inner_text()
    assert page.goto(f"{base}/findings/{finding.pk}/", wait_until="load").status == 404
