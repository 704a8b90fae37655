"""Issue 11's walkthrough once more with the keyboard alone (issue 14 part 5): Tab and Shift+Tab move the focus,
Enter follows links and presses buttons, Space ticks boxes, typing fills fields and arrow keys choose options. Every
focus stop is checked to be visible (an outline, a box shadow or GOV.UK's yellow focus colour on the element, or on
its label for a GOV.UK checkbox), and axe runs on every page reached (WCAG 2.2 A and AA: no violation).

The story is that of ``test_findings_walkthrough.py``: UK staff flags a sample and drafts a finding with one span
redacted; US staff requests a change; UK staff fixes it; both approvers sign off; it is released to the partner; the
partner viewer signs in with a password and TOTP, reads it without the span and downloads the PDF; after withdrawal
the partner sees the empty state again. Each person starts at a page's address (as typed into the address bar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluations.models import Finding
from tests.browser.harness import PageProblems, check_page
from tests.reports.data import pdf_text
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.helpers import TEST_TOTP_SECRET, enrol_totp, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "first insert the tension wrench"
MAX_STOPS = 300  # focus stops on the way to one element; a page needing more is a finding in itself

# The focused element, whether its focus can be seen, and whether it is the one we are heading for.
FOCUS = """(target) => {
  const el = document.activeElement;
  const shows = (node, pseudo) => {
    if (!node) { return false; }
    const cs = getComputedStyle(node, pseudo);
    const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0
      && cs.outlineColor !== "rgba(0, 0, 0, 0)" && cs.outlineColor !== "transparent";
    const shadow = cs.boxShadow && cs.boxShadow !== "none";
    const yellow = cs.backgroundColor === "rgb(255, 221, 0)";
    return Boolean(outline || shadow || yellow);
  };
  if (!el || el === document.body || el === document.documentElement) {
    return {where: "the page itself", visible: false, target: false, before: false};
  }
  let visible = shows(el, null);
  if (!visible && el.matches("input[type=checkbox], input[type=radio]") && el.labels && el.labels[0]) {
    visible = shows(el.labels[0], "::before") || shows(el.labels[0], "::after") || shows(el.labels[0], null);
  }
  const box = (el.matches("input[type=checkbox], input[type=radio]") && el.labels && el.labels[0]
               ? el.labels[0] : el).getBoundingClientRect();
  visible = visible && box.width > 0 && box.height > 0;
  const text = (el.innerText || el.value || el.getAttribute("aria-label") || el.name || "").trim().slice(0, 60);
  return {
    where: `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${text}"`,
    visible,
    target: target !== null && el === target,
    // the target comes before the focus in the document: go back with Shift+Tab
    before: target !== null && Boolean(el.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_PRECEDING),
  };
}"""


class Keyboard:
    """Drives one page with the keyboard only, checking the focus at every stop and axe on every page."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.stops = 0
        self.pages: list[str] = []
        self.shift_tabs = 0

    # --- pages ------------------------------------------------------------------------------------------------
    def open(self, path: str, status: int = 200) -> None:
        """Go to an address (typed into the address bar), then check the page."""
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == status, (path, response and response.status)
        self.checked()

    def checked(self) -> None:
        problems = PageProblems()
        check_page(self.page, self.page.url, problems)  # axe: no WCAG 2.2 A/AA violation
        self.pages.append(self.page.url.removeprefix(self.base))

    def main_text(self) -> str:
        return str(self.page.locator("main").inner_text())

    # --- focus ------------------------------------------------------------------------------------------------
    def focus(self) -> dict[str, Any]:
        return dict(self.page.evaluate(FOCUS, None))

    def tab_to(self, locator: Any) -> None:
        """Tab (or Shift+Tab, when the element is behind the focus) until ``locator``'s element has the focus; the
        focus must be visible at every stop."""
        target = locator.first.element_handle()
        assert target is not None, f"nothing matches {locator}"
        state = dict(self.page.evaluate(FOCUS, target))
        for _ in range(MAX_STOPS):
            if state["target"]:
                assert state["visible"], f"focus not visible on {state['where']} at {self.page.url}"
                return
            backwards = state["before"]
            self.page.keyboard.press("Shift+Tab" if backwards else "Tab")
            self.shift_tabs += int(backwards)
            self.stops += 1
            state = dict(self.page.evaluate(FOCUS, target))
            assert state["visible"], f"focus not visible on {state['where']} at {self.page.url}"
        raise AssertionError(f"{MAX_STOPS} focus stops without reaching {locator} at {self.page.url}")

    # --- actions ----------------------------------------------------------------------------------------------
    def follow(self, role: str, name: str) -> None:
        """Tab to a link or button by its accessible name and press Enter; the next page is checked."""
        self.tab_to(self.page.get_by_role(role, name=name, exact=True))
        with self.page.expect_navigation(wait_until="load"):
            self.page.keyboard.press("Enter")
        self.checked()

    def type_into(self, selector: str, text: str, *, replace: bool = False) -> None:
        self.tab_to(self.page.locator(selector))
        # Tabbing into a text field selects its text: replace it, or add to its end.
        self.page.keyboard.press("Control+A" if replace else "End")
        if replace:
            self.page.keyboard.press("Delete")
        self.page.keyboard.type(text)
        value = self.page.locator(selector).input_value()
        assert value == text if replace else value.endswith(text), (selector, value)

    def tick(self, selector: str) -> None:
        self.tab_to(self.page.locator(selector))
        self.page.keyboard.press("Space")
        assert self.page.locator(selector).is_checked(), selector

    def choose(self, selector: str, value: str) -> None:
        """A select: arrow keys until ``value`` is chosen (Chromium changes a closed select's choice on arrows)."""
        self.tab_to(self.page.locator(selector))
        self.page.keyboard.press("Home")
        for _ in range(30):
            if self.page.locator(selector).input_value() == value:
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"no option {value!r} in {selector}")

    def submit_by_enter(self) -> None:
        """Enter in a text field submits its form."""
        with self.page.expect_navigation(wait_until="load"):
            self.page.keyboard.press("Enter")
        self.checked()


def test_the_findings_walkthrough_by_keyboard_alone_with_visible_focus_and_axe_on_every_page(
        page, live_server, browser_sign_in, exercise, uk_staff, us_staff, uk_approver, us_approver, partner_viewer,
        partner_ca):
    from tests.findings.factories import finished_run, risk_area

    risk_area()
    run = finished_run(exercise=exercise, user=uk_staff, name="Finished run")
    sample = run.items.get().samples.order_by("sample_id").first()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.set_default_timeout(60_000)  # the first request imports the whole portal: slow when cold
    keys = Keyboard(page, live_server.url)

    def as_user(user: Any) -> None:
        page.context.clear_cookies()
        browser_sign_in(user)

    def act(finding: Finding, link: str, button: str) -> None:
        keys.open(f"/findings/{finding.pk}/")
        keys.follow("link", link)
        keys.follow("button", button)
        assert "Done:" in keys.main_text()

    # UK staff flags the sample on its transcript page and drafts a finding from it, one span redacted.
    as_user(uk_staff)
    keys.open(f"/samples/{sample.pk}/")
    keys.type_into("#id_note", "Step-by-step lock picking")
    keys.tick("input[name=message_indices][value='2']")
    keys.follow("button", "Flag as evidence")
    assert "Step-by-step lock picking" in keys.main_text()
    keys.follow("link", "Draft a finding from this sample")
    keys.type_into("#id_title", "Model explains lock picking")
    keys.type_into("#id_summary", "The model gives **step by step** instructions.")
    keys.choose("#id_severity", "high")
    keys.choose("#id_risk_area", "cyber")
    keys.type_into("#id_evidence_1_excerpt", f"Here are the steps: [[{SECRET}]].", replace=True)
    keys.type_into("#id_title", " in a transcript")  # back up the form with Shift+Tab, then on to Save
    keys.follow("button", "Save")
    finding = Finding.objects.get(title="Model explains lock picking in a transcript")
    assert finding.evidence.get().redactions == [[20, 20 + len(SECRET)]]
    act(finding, "Submit for review", "Submit for review")

    # US staff asks for a change; UK staff fixes it and submits again.
    as_user(us_staff)
    keys.open(f"/findings/{finding.pk}/")
    keys.follow("link", "Request changes")
    keys.type_into("#id_reason", "Say which epoch.")
    keys.follow("button", "Request changes")
    as_user(uk_staff)
    keys.open(f"/findings/{finding.pk}/")
    assert "Say which epoch." in keys.main_text()
    keys.follow("link", "Edit")
    keys.type_into("#id_summary", "The model gives **step by step** instructions in epoch 1.", replace=True)
    keys.follow("button", "Save")
    act(finding, "Submit for review", "Submit for review")

    # Both approvers sign off; the UK approver releases it to the partner.
    for approver in (uk_approver, us_approver):
        as_user(approver)
        act(finding, "Sign off", "Sign off")
    as_user(uk_approver)
    keys.open(f"/findings/{finding.pk}/")
    keys.follow("link", "Release to partners")
    keys.tick(f"input[name=partners][value='{partner_ca.pk}']")
    keys.follow("button", "Release")
    finding.refresh_from_db()
    assert finding.state == "released"

    # The partner viewer signs in with a password and TOTP, by keyboard.
    enrol_totp(partner_viewer, TEST_TOTP_SECRET)
    page.context.clear_cookies()
    keys.open("/accounts/login/")
    keys.type_into("input[name=login]", partner_viewer.email)
    keys.type_into("input[name=password]", DEFAULT_PASSWORD)
    keys.submit_by_enter()
    keys.type_into("input[name=code]", totp_code(TEST_TOTP_SECRET))
    keys.submit_by_enter()
    assert page.url.rstrip("/") == live_server.url.rstrip("/")
    assert "Model explains lock picking in a transcript" in keys.main_text()
    # Their notice of the release, then the finding itself, without the redacted span.
    keys.follow("link", "Notifications 1 unread")
    keys.follow("link", f"A finding was released to your organisation (finding {finding.pk}, version 1).")
    text = keys.main_text()
    assert "Here are the steps: [redacted]." in text and SECRET not in text
    assert "in epoch 1" in text and page.content().count(SECRET) == 0
    # The report, downloaded by pressing Enter on its link.
    keys.tab_to(page.get_by_role("link", name=f"Download the report for {exercise.name} (PDF)", exact=True))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    pdf = pdf_text(Path(download.value.path()).read_bytes())
    assert "Model explains lock picking" in pdf and "Here are the steps: [redacted]." in pdf and SECRET not in pdf

    # Withdrawn: the partner's landing page is empty again, and the finding is a 404.
    partner_cookies = page.context.cookies()
    as_user(uk_approver)
    act(finding, "Withdraw from partners", "Withdraw")
    page.context.clear_cookies()
    page.context.add_cookies(partner_cookies)
    keys.open("/")
    keys.follow("link", "Findings")
    assert "Nothing has been released to your organisation yet" in keys.main_text()
    keys.open(f"/findings/{finding.pk}/", status=404)

    assert keys.shift_tabs > 0, "the walk went backwards with Shift+Tab at least once"
    assert len(keys.pages) >= 25, keys.pages


def test_the_focus_check_tells_a_visible_focus_from_a_missing_one(page):
    """Positive and negative controls of FOCUS: GOV.UK-like focus styles count, an element without one does not."""
    page.set_content("""<style>
      a:focus { outline: none; } .yellow:focus { background-color: #ffdd00; } .ring:focus { outline: 3px solid #fd0; }
      .none:focus { outline: none; box-shadow: none; }
    </style>
    <a class="yellow" href="#a">yellow</a><a class="ring" href="#b">ring</a><a class="none" href="#c">none</a>""")
    seen = []
    for _ in range(3):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS, None)
        seen.append((state["where"].split('"')[1], state["visible"]))
    assert seen == [("yellow", True), ("ring", True), ("none", False)]
