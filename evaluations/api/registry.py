"""/api/v1/models/: the model registry. Writes go through evaluations.services.registry; the API key is
write-only (never in a response)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import CREATE, EDIT, can, get_visible_or_404, require, visible_to
from accounts.gates import InstituteMembersOnly
from accounts.reauth import ReauthenticationRequiredMixin
from evaluations.models import ConnectionTest, ModelVersion, RegisteredModel
from evaluations.selectors import registry as selectors
from evaluations.services import registry as services
from portal.limits import ID_MAX, LINE_MAX, NAME_MAX, TEXT_MAX


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="provider_model")
    created_by = serializers.EmailField(source="created_by.email")

    class Meta:
        model = ModelVersion
        fields = ["id", "number", "model", "base_url", "config", "max_connections", "price_input_per_million",
                  "price_output_per_million", "created_by", "created_at"]


class CredentialStatusSerializer(serializers.Serializer):
    set_by = serializers.EmailField()
    set_at = serializers.DateTimeField()
    header_names = serializers.ListField(child=serializers.CharField())


class RegisteredModelSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=NAME_MAX)
    exercise = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX, help_text="An exercise id (or use exercises).")
    exercises = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False,
                                      max_length=100)
    owner = serializers.IntegerField(read_only=True, source="owner_id")
    owner_name = serializers.CharField(read_only=True, source="owner.name")
    model = serializers.CharField(max_length=300, help_text="Inspect model string, e.g. openai-api/local/gemma.")
    base_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True,
                                    max_length=services.MAX_API_KEY, style={"input_type": "password"})
    extra_headers = serializers.DictField(child=serializers.CharField(max_length=LINE_MAX, allow_blank=True),
                                          write_only=True, required=False,
                                          help_text="Sent with api_key; not Host, hop-by-hop or Proxy- headers.")
    max_connections = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    config = serializers.DictField(required=False)
    price_input_per_million = serializers.DecimalField(max_digits=12, decimal_places=4, required=False,
                                                       allow_null=True)
    price_output_per_million = serializers.DecimalField(max_digits=12, decimal_places=4, required=False,
                                                        allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    version = serializers.IntegerField(read_only=True)
    version_id = serializers.IntegerField(read_only=True)
    versions = ModelVersionSerializer(many=True, read_only=True)
    credential = CredentialStatusSerializer(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    archived = serializers.BooleanField(read_only=True)

    def to_representation(self, instance: RegisteredModel) -> dict[str, Any]:
        versions = getattr(instance, "ordered_versions", None)
        if versions is None:
            versions = list(instance.versions.select_related("created_by").order_by("-number"))
        current = versions[0] if versions else None
        exercises = sorted(e.pk for e in instance.exercises.all())
        try:
            cred = instance.credential
        except RegisteredModel.credential.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
            cred = None
        return {
            "id": instance.pk,
            "name": instance.name,
            "exercise": exercises[0] if exercises else None,
            "exercises": exercises,
            "owner": instance.owner_id,
            "owner_name": instance.owner.name,
            "model": current.provider_model if current else "",
            "base_url": current.base_url if current else "",
            "max_connections": current.max_connections if current else None,
            "config": current.config if current else {},
            "price_input_per_million": str(current.price_input_per_million)
            if current and current.price_input_per_million is not None else None,
            "price_output_per_million": str(current.price_output_per_million)
            if current and current.price_output_per_million is not None else None,
            "notes": instance.notes,
            "version": current.number if current else None,
            "version_id": current.pk if current else None,
            "versions": ModelVersionSerializer(versions, many=True).data,
            "credential": None if cred is None else {"set_by": cred.set_by.email, "set_at": cred.set_at.isoformat(),
                                                     "header_names": list(cred.header_names)},
            "created_at": instance.created_at.isoformat(),
            "archived": instance.archived_at is not None,
        }


class ConnectionTestSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="model_version.number")
    requested_by = serializers.EmailField(source="requested_by.email")

    class Meta:
        model = ConnectionTest
        fields = ["id", "status", "version", "latency_ms", "output_excerpt", "error", "requested_by",
                  "requested_at", "finished_at"]


def _exercises_of(data: dict[str, Any]) -> list[int] | None:
    if data.get("exercises") is not None:
        return list(data["exercises"])
    if data.get("exercise") is not None:
        return [data["exercise"]]
    return None


class RegisteredModelViewSet(ReauthenticationRequiredMixin, InstituteMembersOnly, viewsets.GenericViewSet):
    serializer_class = RegisteredModelSerializer
    queryset = RegisteredModel.objects.all()

    def reauthentication_needed(self, request: Request) -> bool:
        """Setting or removing a credential, by someone who may (a write token is not asked)."""
        if self.action not in {"create", "update", "partial_update", "credential"}:
            return False
        data = request.data if self.action != "credential" and hasattr(request.data, "get") else {}
        if self.action == "create":
            return bool(data.get("api_key")) and can(request.user, CREATE, RegisteredModel)
        if self.action == "credential" or data.get("api_key"):
            model = visible_to(request.user, RegisteredModel.objects.filter(pk=self.kwargs["pk"])).first()
            return model is not None and can(request.user, "set_credential", model)
        return False

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        params = self.request.query_params
        exercise = params.get("exercise")
        return selectors.model_list(
            user=self.request.user, q=params.get("q", ""), sort=params.get("sort", "name"),
            exercise=int(exercise) if exercise and exercise.isdigit() else None,
            include_archived=params.get("archived") in ("1", "true"),
        )

    def get_object(self) -> RegisteredModel:
        return get_visible_or_404(self.request.user, RegisteredModel.objects.select_related("owner"),
                                  pk=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RegisteredModelSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(RegisteredModelSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        require(request.user, CREATE, RegisteredModel)
        ser = RegisteredModelSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        model = services.model_create(
            user=request.user, name=d["name"], exercises=_exercises_of(d) or [], provider_model=d["model"],
            base_url=d.get("base_url", ""), config=d.get("config"), max_connections=d.get("max_connections", 4),
            price_input_per_million=d.get("price_input_per_million"),
            price_output_per_million=d.get("price_output_per_million"), notes=d.get("notes", ""),
            api_key=d.get("api_key") or None, extra_headers=d.get("extra_headers"), request=request._request,
        )
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        require(request.user, EDIT, model)
        ser = RegisteredModelSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        changes: dict[str, Any] = {}
        for api_name, field in [("name", "name"), ("notes", "notes"), ("model", "provider_model"),
                                ("base_url", "base_url"), ("config", "config"), ("max_connections", "max_connections"),
                                ("price_input_per_million", "price_input_per_million"),
                                ("price_output_per_million", "price_output_per_million")]:
            if api_name in d:
                changes[field] = d[api_name]
        exercises = _exercises_of(d)
        if exercises is not None:
            changes["exercises"] = exercises
        if d.get("api_key") or d.get("extra_headers"):
            changes.update(api_key=d.get("api_key"), extra_headers=d.get("extra_headers"))
        # One service call, one transaction: the model, its new version and its credential, or nothing.
        model, _ = services.model_update(user=request.user, registered_model=model, request=request._request,
                                         **changes)
        return Response(RegisteredModelSerializer(RegisteredModel.objects.get(pk=model.pk)).data)

    def update(self, request: Request, pk: str | None = None) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.model_archive(user=request.user, registered_model=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ConnectionTestSerializer)
    @action(detail=True, methods=["get", "post"], url_path="test-connection")
    def test_connection(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        if request.method == "POST":
            row = services.connection_test_request(user=request.user, registered_model=model,
                                                   request=request._request)
            return Response(ConnectionTestSerializer(row).data, status=status.HTTP_202_ACCEPTED)
        latest = selectors.connection_test_latest(registered_model=model)
        if latest is None:
            return Response({"detail": "No connection test yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response(ConnectionTestSerializer(latest).data)

    @extend_schema(request=None, responses=None)
    @action(detail=True, methods=["delete"], url_path="credential")
    def credential(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        services.credential_clear(user=request.user, registered_model=model, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
