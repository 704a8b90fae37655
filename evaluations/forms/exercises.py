"""Forms of exercises (admins create and edit them)."""

from __future__ import annotations

from django import forms

from accounts.models import Organisation
from evaluations.models import Exercise


class ExerciseForm(forms.ModelForm):
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
