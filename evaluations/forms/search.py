"""The search box (issue 13 part 7): a GET form; the selector checks the words again (evaluations/selectors/search.py)."""

from __future__ import annotations

from django import forms

from evaluations.selectors.search import QUERY_MAX
from portal.forms import PortalForm

KIND_CHOICES = [("", "Samples and findings"), ("finding", "Findings"), ("sample", "Samples")]


class SearchForm(PortalForm):
    error_names = {"q": "search", "kind": "what to show"}

    q = forms.CharField(label="Search samples and findings", required=False, max_length=QUERY_MAX, strip=True,
                        error_messages={"max_length": f"Enter a search of {QUERY_MAX} characters or fewer"})
    kind = forms.ChoiceField(label="Show", required=False, choices=KIND_CHOICES,
                             error_messages={"invalid_choice": "Choose what to show: samples, findings, or both"})
