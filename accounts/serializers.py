"""API serializers for people, organisations, audit events and tokens. Thin: writes go through services."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import ApiToken, Organisation, User
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
    token = serializers.CharField(  # nosemgrep: portal-readable-credential-field - the new token, shown once, never stored
        read_only=True, help_text="The token. Shown once: it is not stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]  # nosemgrep: portal-readable-credential-meta-field - shown once
        read_only_fields = fields
