"""API serializers for people, organisations, exercises, audit events and tokens. Thin: writes go through services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts import access
from accounts.models import ApiToken, Organisation, User
from evaluations.models import Exercise
from portal.models import AuditEvent


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind", "country_code", "created_at"]
        read_only_fields = ["id", "created_at"]


class MeSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "organisation", "role", "is_portal_admin"]
        read_only_fields = fields


class ExerciseSerializer(serializers.ModelSerializer):
    institutes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Organisation.objects.filter(kind=Organisation.Kind.INSTITUTE)
    )
    partners = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Organisation.objects.filter(kind=Organisation.Kind.PARTNER), required=False
    )

    class Meta:
        model = Exercise
        fields = [
            "id", "name", "description", "institutes", "partners", "starts_on", "ends_on", "status",
            "archived_at", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "archived_at", "created_at", "updated_at"]

    def to_representation(self, instance: Exercise) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and access.is_partner_viewer(user):
            # A partner sees only its own invitation, not which other countries are invited.
            data["partners"] = [pk for pk in data["partners"] if pk == user.organisation_id]
        return data


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "actor", "actor_email", "organisation", "action", "object_type", "object_id",
            "exercise_id", "before", "after", "ip_address", "user_agent", "prev_hash", "hash",
        ]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices)
    days = serializers.IntegerField(min_value=1, max_value=366, required=False, default=90)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token. Shown once: it is not stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
