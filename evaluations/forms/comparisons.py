"""The compare page's form: item ids typed by hand, and an optional metadata field to cluster samples by."""

from __future__ import annotations

from django import forms

from portal.forms import PortalForm


class CompareForm(PortalForm):
    """The ids typed by hand (the run and exercise pages send them as checked boxes, several ``items``)."""

    items = forms.CharField(label="Run item ids, comma-separated", required=False, max_length=2000,
                            help_text="The first item is the baseline for paired differences.")
    cluster = forms.CharField(label="Cluster samples by this metadata field (optional)", required=False,
                              max_length=100,
                              help_text="Samples sharing a value of this field, such as the passage several "
                                        "questions are about, count as one cluster in the standard errors. "
                                        "It starts as the field the evaluation declares; leave it empty to "
                                        "treat every sample as independent.")
