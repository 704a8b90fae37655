"""Forms of exercises (admins create and edit them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxLengthValidator

from accounts.models import Organisation
from evaluations.models import Exercise
from portal.forms import PortalModelForm
from portal.limits import TEXT_MAX


class ExerciseForm(PortalModelForm):
    institutes = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.filter(kind=Organisation.Kind.INSTITUTE),
        widget=forms.CheckboxSelectMultiple, label="Taking-part institutes", help_text="At least two.",
    )
    partners = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.filter(kind=Organisation.Kind.PARTNER),
        widget=forms.CheckboxSelectMultiple, label="Invited partner organisations", required=False,
    )

    class Meta:
        model = Exercise
        fields = ["name", "description", "institutes", "partners", "starts_on", "ends_on", "status"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"starts_on": "Start date", "ends_on": "End date"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        description: Any = self.fields["description"]
        description.max_length = TEXT_MAX
        description.widget.attrs["maxlength"] = str(TEXT_MAX)
        description.validators.append(MaxLengthValidator(TEXT_MAX))
