"""Evidence flags shown inside the runs pages: ``{% load findings_tags %}{% sample_evidence sample %}`` on a sample's
transcript page (its flags, and the form to flag it), ``{% run_evidence_flags run %}`` on a run's page. Both read
through the findings selectors with the signed-in user."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.access import can
from evaluations.forms.findings import FlagForm, sample_messages
from evaluations.models import EvidenceFlag, Finding
from evaluations.selectors.findings import evidence_flag_list

register = template.Library()

STATE_TAGS = {"draft": "govuk-tag--grey", "in_review": "govuk-tag--blue", "signed_off": "govuk-tag--turquoise",
              "released": "govuk-tag--green"}
SEVERITY_TAGS = {"informational": "govuk-tag--grey", "low": "govuk-tag--blue", "medium": "govuk-tag--yellow",
                 "high": "govuk-tag--orange", "critical": "govuk-tag--red"}


@register.inclusion_tag("evaluations/findings/_sample_evidence.html", takes_context=True)
def sample_evidence(context: Any, sample: Any) -> dict[str, Any]:
    user = context["request"].user
    flags = list(evidence_flag_list(user=user, sample=sample.pk))
    exercise = sample.item.run.exercise
    return {
        "sample": sample, "flags": [{"flag": f, "may_delete": can(user, "delete", f)} for f in flags],
        "may_flag": can(user, "create", EvidenceFlag(sample=sample)),
        "may_draft": can(user, "create", Finding(exercise=exercise)),
        "form": FlagForm(messages=sample_messages(sample)), "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("evaluations/findings/_run_flags.html", takes_context=True)
def run_evidence_flags(context: Any, run: Any) -> dict[str, Any]:
    user = context["request"].user
    flags = evidence_flag_list(user=user, run=run.pk).select_related("sample")
    return {"run": run, "flags": list(flags[:200])}


@register.filter
def severity_css(severity: str) -> str:
    return SEVERITY_TAGS.get(severity, "govuk-tag--grey")


@register.filter
def state_css(state: str) -> str:
    return STATE_TAGS.get(state, "govuk-tag--grey")


@register.simple_tag
def metric_lines(result: Any) -> Any:
    """``{"metrics": {...}, "intervals": {...}}`` as one line per metric: "accuracy 0.8 (0.7 to 0.9)"."""
    from django.utils.html import format_html, format_html_join

    def number(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    metrics = result.get("metrics") or {} if isinstance(result, dict) else {}
    intervals = result.get("intervals") or {} if isinstance(result, dict) else {}
    lines = []
    for name, value in sorted(metrics.items()):
        interval = intervals.get(name)
        shown = f" ({number(interval[0])} to {number(interval[1])})" if isinstance(interval, list) and len(
            interval) == 2 else ""
        lines.append((name, number(value), shown))
    if not lines:
        return "–"
    return format_html("<ul class=\"govuk-list\">{}</ul>",
                       format_html_join("", "<li>{} {}{}</li>", lines))
