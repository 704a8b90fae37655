from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import ApiToken, Organisation, User
from portal.forms import PortalForm, PortalModelForm
from portal.limits import PASSWORD_MAX


class InvitationAcceptForm(PortalForm):
    error_names = {"email": "your email address", "password1": "a password", "password2": "the password again"}
    email = forms.EmailField(label="Your email address", help_text="The address the invitation was sent to.")
    full_name = forms.CharField(label="Full name", max_length=200, required=False)
    password1 = forms.CharField(label="Choose a password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                max_length=PASSWORD_MAX, help_text="At least 12 characters.")
    password2 = forms.CharField(label="Confirm the password", max_length=PASSWORD_MAX,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "Enter the password again, exactly as above: the two do not match")
        return data


class InvitationCreateForm(PortalForm):
    email = forms.EmailField(label="Email address")
    organisation = forms.ModelChoiceField(queryset=Organisation.objects.order_by("name"), label="Organisation")
    role = forms.ChoiceField(choices=User.Role.choices, label="Role")
    is_admin = forms.BooleanField(label="Portal admin (institute members only)", required=False)


class OrganisationForm(PortalModelForm):
    class Meta:
        model = Organisation
        fields = ["name", "kind", "country_code"]


class UserRoleForm(PortalForm):
    role = forms.ChoiceField(choices=User.Role.choices, label="Role")
    is_portal_admin = forms.BooleanField(label="Portal admin", required=False)
    is_active = forms.BooleanField(label="Account active", required=False)


class TokenCreateForm(PortalForm):
    name = forms.CharField(label="Name", max_length=100, required=False, help_text="What the token is for.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, label="Scope")
    days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=366, initial=90)


class AuditFilterForm(PortalForm):
    action = forms.CharField(label="Action", required=False, help_text="For example invitation.create, or token. for all")
    actor = forms.CharField(label="Actor email", required=False)
    exercise: forms.ModelChoiceField = forms.ModelChoiceField(label="Exercise", required=False, queryset=None,
                                                             empty_label="Any exercise")
    date_from = forms.DateField(label="From date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To date", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        """Exercises by name: those whose events the reader may see."""
        from django.apps import apps

        from accounts.access import visible_to

        Exercise = apps.get_model("evaluations", "Exercise")  # by name: accounts imports nothing of evaluations

        super().__init__(*args, **kwargs)
        self.fields["exercise"].queryset = visible_to(  # type: ignore[attr-defined]
            user, Exercise.objects.order_by("name"))
