"""/api/v1/exercises/: admins V C E D; institute members V where their institute takes part; partner viewers V
where invited (and see only their own invitation)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import access
from accounts.models import Organisation
from evaluations.models import Exercise
from evaluations.rules.common import partner_ids_visible_to
from evaluations.selectors.exercises import exercise_list
from evaluations.services.exercises import exercise_archive, exercise_create, exercise_update
from portal.api import request_user, text_param
from portal.limits import TEXT_MAX


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
        extra_kwargs = {"description": {"max_length": TEXT_MAX}}  # noqa: RUF012

    def to_representation(self, instance: Exercise) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        data["partners"] = partner_ids_visible_to(getattr(request, "user", None), data["partners"])
        return data



@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=Exercise.Status.values),
        OpenApiParameter("q", OpenApiTypes.STR, description="Name contains."),
        OpenApiParameter("archived", OpenApiTypes.BOOL, description="Include archived exercises."),
    ]),
    destroy=extend_schema(description="Archive the exercise (admins). Nothing is deleted."),
)
class ExerciseViewSet(viewsets.ModelViewSet):
    """Exercises: admins V C E D; institute members V where their institute takes part; partner viewers V where
    invited."""

    serializer_class = ExerciseSerializer
    queryset = Exercise.objects.all()

    def get_queryset(self) -> QuerySet[Exercise]:
        if self.action != "list":
            return exercise_list(user=self.request.user, include_archived=True)
        return exercise_list(
            user=self.request.user, status=text_param(self.request, "status"), q=text_param(self.request, "q"),
            include_archived=self.request.query_params.get("archived", "").lower() in ("1", "true", "yes"))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access.require(request.user, access.CREATE, Exercise, "Only admins create exercises.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        exercise = exercise_create(
            actor=request_user(request), request=request._request, name=data["name"], institutes=list(data["institutes"]),
            partners=list(data.get("partners", [])), description=data.get("description", ""),
            starts_on=data.get("starts_on"), ends_on=data.get("ends_on"),
            status=data.get("status", Exercise.Status.PLANNING),
        )
        return Response(self.get_serializer(exercise).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        exercise = self.get_object()
        access.require(request.user, access.EDIT, exercise, "Only admins edit exercises.")
        serializer = self.get_serializer(exercise, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        exercise = exercise_update(actor=request_user(request), exercise=exercise, request=request._request,
                                   **serializer.validated_data)
        return Response(self.get_serializer(exercise).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        exercise = self.get_object()
        access.require(request.user, access.DELETE, exercise, "Only admins archive exercises.")
        exercise_archive(actor=request_user(request), exercise=exercise, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
