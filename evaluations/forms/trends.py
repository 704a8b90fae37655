"""Forms for trends (issue 13): choosing a baseline."""

from __future__ import annotations

from django import forms

from portal.forms import PortalForm
from portal.limits import TEXT_MAX


class BaselineForm(PortalForm):
    error_names = {"item": "the item to use as the baseline"}
    item = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=TEXT_MAX, required=False,
                             label="Why this baseline", help_text="Optional, e.g. the signed-off run of the release.")
