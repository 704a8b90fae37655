"""The browser harness: Debian's Chromium driven by Playwright, and axe-core run on every page visited.

Later issues add their pages with the ``visit_and_check`` fixture (``browser_sign_in(user)`` first for a
signed-in page)::

    def test_run_page_is_accessible(visit_and_check, live_server, ...):
        page = visit_and_check(f"{live_server.url}/runs/{run.pk}/")
        ...  # the page is loaded, axe found no WCAG 2.2 A/AA violation, no sub-resource failed

``visit_and_check`` uses a context with ``bypass_csp=True`` so axe's script can be injected; the real CSP
is checked by tests that use the ``strict_page`` fixture (no bypass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE_SCRIPT = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Collects CSP violations in the page itself (an init script is not subject to the page's CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || ""}:${event.lineNumber || ""}`);
});
"""


@dataclass
class PageProblems:
    """What went wrong while a page loaded: failed sub-resources and console errors."""

    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("requestfailed", lambda request: self.failed_requests.append(
            f"{request.method} {request.url}: {request.failure}"))
        page.on("response", self._on_response)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_response(self, response: Any) -> None:
        # The document itself may be an error page on purpose (404 test); its sub-resources may not.
        if response.status >= 400 and response.request.resource_type != "document":
            self.failed_requests.append(f"{response.status} {response.url}")


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{len(violations)} accessibility violation(s) (axe, {', '.join(AXE_TAGS)}) on {url}:"]
    for violation in violations:
        lines.append(f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {' '.join(str(t) for t in node['target'])}: {node.get('failureSummary', '').strip()}")
            lines.append(f"       {node['html'][:200]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ... and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def run_axe(page: Any) -> list[dict[str, Any]]:
    """Inject axe-core (from node_modules) and return its violations for the WCAG 2.2 A and AA tags."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return list(result["violations"])


def known_govuk_issue(violation: dict[str, Any]) -> bool:
    """GOV.UK Frontend's conditional reveal puts aria-expanded on radio inputs on purpose (alphagov/govuk-frontend#979,
    open: screen readers announce it; ARIA 1.2 does not allow it on radios), which axe reports as aria-allowed-attr.
    Only that exact finding is let through: on GOV.UK radio inputs, for aria-expanded alone."""
    return violation["id"] == "aria-allowed-attr" and all(
        "govuk-radios__input" in node["html"] and "aria-controls=" in node["html"]
        and "aria-expanded" in node.get("failureSummary", "") and node.get("failureSummary", "").count("not allowed") == 1
        for node in violation["nodes"])


def check_page(page: Any, url: str, problems: PageProblems) -> None:
    violations = [v for v in run_axe(page) if not known_govuk_issue(v)]
    messages = []
    if violations:
        messages.append(format_violations(url, violations))
    if problems.failed_requests:
        messages.append("failed requests:\n" + "\n".join(f"- {r}" for r in problems.failed_requests))
    if messages:
        raise AssertionError("\n\n".join(messages))
