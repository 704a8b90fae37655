"""Forms for findings pages: the finding (with evidence items and their redactions), workflow reasons, release
partners, comments and evidence flags. They only parse input into the dict the services take; the services check
everything again and name the field of any mistake."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from evaluations.models import EvidenceItem, Finding, RiskArea, SampleResult
from evaluations.services.findings import MAX_EXCERPT, MAX_SUMMARY
from portal.forms import PortalForm, govuk_errors_apply

REDACT_OPEN, REDACT_CLOSE = "[[", "]]"
EXTRA_EVIDENCE_SLOTS = 2
MAX_EVIDENCE_SLOTS = 50


def spans_from_marked(text: str) -> tuple[str, list[list[int]]]:
    """``"a [[secret]] b"`` -> ``("a secret b", [[2, 8]])``: text between ``[[`` and ``]]`` is redacted. Raises
    ``ValueError`` for an unclosed, nested, stray or empty marker."""
    plain: list[str] = []
    spans: list[list[int]] = []
    length = 0
    rest = text
    while rest:
        opening, closing = rest.find(REDACT_OPEN), rest.find(REDACT_CLOSE)
        if closing != -1 and (opening == -1 or closing < opening):
            raise ValueError(f"“{REDACT_CLOSE}” without “{REDACT_OPEN}” before it.")
        if opening == -1:
            plain.append(rest)
            break
        plain.append(rest[:opening])
        length += opening
        rest = rest[opening + len(REDACT_OPEN):]
        end = rest.find(REDACT_CLOSE)
        if end == -1:
            raise ValueError(f"“{REDACT_OPEN}” is not closed with “{REDACT_CLOSE}”.")
        secret = rest[:end]
        if REDACT_OPEN in secret:
            raise ValueError(f"Redactions cannot be nested: close each “{REDACT_OPEN}” before the next.")
        if not secret:
            raise ValueError("An empty redaction “[[]]”: put the text to hide between the brackets.")
        spans.append([length, length + len(secret)])
        plain.append(secret)
        length += len(secret)
        rest = rest[end + len(REDACT_CLOSE):]
    return "".join(plain), spans


def marked_from_spans(text: str, spans: list[list[int]]) -> str:
    """The inverse of ``spans_from_marked``, for editing an evidence item."""
    out, cursor = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans or []):
        out += [text[cursor:start], REDACT_OPEN, text[start:end], REDACT_CLOSE]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


class _ChoicesForm(PortalForm):
    def _set_choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


def sample_label(sample: SampleResult) -> str:
    item = sample.item
    return f"{item.run.name}: {item}, sample {sample.sample_id} (epoch {sample.epoch})"


class FindingForm(_ChoicesForm):
    exercise = forms.ChoiceField(label="Exercise")
    title = forms.CharField(max_length=200)
    summary = forms.CharField(widget=forms.Textarea, required=False, max_length=MAX_SUMMARY,
                              help_text="Markdown: **bold**, *italic*, lists, links (http, https, mailto). "
                                        "No images or HTML.")
    severity = forms.ChoiceField(choices=Finding.Severity.choices)
    risk_area = forms.ChoiceField(label="Risk area")
    model_versions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Affected model versions",
        help_text="Leave all unticked to take them from the evidence and linked results.")
    task_versions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Affected evaluation versions",
        help_text="Leave all unticked to take them from the evidence and linked results.")
    run_items = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Results the finding rests on",
        help_text="Their metrics and intervals are copied into the finding when you save.")

    def __init__(self, *args: Any, exercises: list[Any], samples: list[SampleResult], versions: dict[str, Any],
                 run_items: list[Any], slots: int, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_choices("exercise", [(str(e.pk), e.name) for e in exercises])
        if editing:
            self.fields["exercise"].disabled = True
            self.fields["exercise"].required = False
        self._set_choices("risk_area", [(a.slug, a.name) for a in RiskArea.objects.order_by("ordering", "name")])
        self._set_choices("model_versions", [(str(mv.pk), f"{mv.registered_model.name} (version {mv.number})")
                                                 for mv in versions["models"]])
        self._set_choices("task_versions", [(str(tv.pk), f"{tv.eval_task.name} (version {tv.number})")
                                                for tv in versions["tasks"]])
        self._set_choices("run_items", [(str(i.pk), f"{i.run.name}: {i}") for i in run_items])
        sample_choices = [("", "No evidence in this slot")] + [(str(s.pk), sample_label(s)) for s in samples]
        self.slots = []
        for number in range(1, slots + 1):
            sample = forms.ChoiceField(choices=sample_choices, required=False, label=f"Evidence {number}: sample")
            excerpt = forms.CharField(
                widget=forms.Textarea, required=False, label=f"Evidence {number}: excerpt",
                max_length=MAX_EXCERPT + 2_000,  # the excerpt with its redaction markers
                help_text=f"The quoted text. Put anything partners must not see between {REDACT_OPEN} and "
                          f"{REDACT_CLOSE}: it is replaced by [redacted] in everything they can reach.")
            self.fields[f"evidence_{number}_sample"] = sample
            self.fields[f"evidence_{number}_excerpt"] = excerpt
            self.slots.append((f"evidence_{number}_sample", f"evidence_{number}_excerpt"))
        govuk_errors_apply(self, self.error_names)  # the evidence fields, added after PortalForm named the rest

    def evidence_slots(self) -> list[tuple[Any, Any]]:
        return [(self[sample], self[excerpt]) for sample, excerpt in self.slots]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        evidence = []
        for sample_name, excerpt_name in self.slots:
            sample, excerpt = cleaned.get(sample_name), cleaned.get(excerpt_name) or ""
            if not sample and not excerpt.strip():
                continue
            if not sample:
                self.add_error(sample_name, "Choose the sample this excerpt is quoted from.")
                continue
            try:
                text, spans = spans_from_marked(excerpt)
            except ValueError as exc:
                self.add_error(excerpt_name, str(exc))
                continue
            evidence.append({"sample": int(sample), "excerpt": text, "redactions": spans})
        cleaned["evidence"] = evidence
        return cleaned

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {"title": data["title"], "summary": data.get("summary") or "",
                               "severity": data["severity"], "risk_area": data["risk_area"],
                               "evidence": data["evidence"],
                               "run_items": [int(pk) for pk in data.get("run_items") or []]}
        for field in ("model_versions", "task_versions"):
            if data.get(field):
                out[field] = [int(pk) for pk in data[field]]
        return out

    def add_service_errors(self, exc: ValidationError) -> None:
        """A service's ValidationError onto the form: a field it names, or the evidence's first slot."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            if field == "evidence":
                self.add_error(self.slots[0][1] if self.slots else None, messages)
            elif field in self.fields:
                self.add_error(field, messages)
            else:
                self.add_error(None, messages)


def initial_for(finding: Finding) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "exercise": str(finding.exercise_id), "title": finding.title, "summary": finding.summary,
        "severity": finding.severity, "risk_area": finding.risk_area.slug,
        "model_versions": [str(pk) for pk in finding.model_versions.values_list("pk", flat=True)],
        "task_versions": [str(pk) for pk in finding.task_versions.values_list("pk", flat=True)],
        "run_items": [str(pk) for pk in finding.result_links.values_list("run_item_id", flat=True)],
    }
    item: EvidenceItem
    for number, item in enumerate(finding.evidence.order_by("position"), start=1):
        initial[f"evidence_{number}_sample"] = str(item.sample_id)
        initial[f"evidence_{number}_excerpt"] = marked_from_spans(item.excerpt, item.redactions)
    return initial


class ReasonForm(PortalForm):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000, label="What needs to change?")


class ReleaseForm(_ChoicesForm):
    partners = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Release to",
                                         error_messages={"required": "Choose at least one partner organisation to release to."})

    def __init__(self, *args: Any, partners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_choices("partners", [(str(p.pk), p.name) for p in partners])


class CommentForm(PortalForm):
    body = forms.CharField(widget=forms.Textarea, max_length=10_000, label="Add a comment",
                           help_text="Only the institutes see comments. Mention someone with @ and their e-mail "
                                     "address or the part before the @.")


class FlagForm(_ChoicesForm):
    note = forms.CharField(widget=forms.Textarea, required=False, max_length=2000, label="Note",
                           help_text="Why this sample matters. Everyone in the exercise sees flags; partners never do.")
    message_indices = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                                label="Messages to quote")

    def __init__(self, *args: Any, messages: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_choices("message_indices", [(str(i), label) for i, label in messages])


def sample_messages(sample: SampleResult) -> list[tuple[int, str]]:
    out = []
    for index, message in enumerate(sample.messages or []):
        role = message.get("role", "message") if isinstance(message, dict) else "message"
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
        text = " ".join(str(content).split())
        out.append((index, f"{index}: {str(role).capitalize()}: {text[:80]}{'…' if len(text) > 80 else ''}"))
    return out
