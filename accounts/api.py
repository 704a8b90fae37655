"""/api/v1/ endpoints of the accounts area: me, organisations, audit-events, tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import access
from accounts.models import ApiToken, Organisation
from accounts.reauth import ReauthenticationRequiredMixin, is_token_request
from accounts.selectors import audit_events_filter, audit_exercise_ids
from accounts.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEventSerializer,
    MeSerializer,
    OrganisationSerializer,
)
from accounts.services import api_token_create, api_token_revoke, organisation_create, organisation_update
from portal.api import CappedPagination, date_param, request_user, text_param
from portal.models import AuditEvent

NO_AUDIT_TRAIL = "Partner viewers have no access to the audit trail."


@extend_schema(responses=MeSerializer, operation_id="me_retrieve")
@api_view(["GET"])
def me(request: Request) -> Response:
    """The current user, their organisation and role."""
    return Response(MeSerializer(request.user).data)


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("kind", OpenApiTypes.STR, enum=Organisation.Kind.values),
        OpenApiParameter("q", OpenApiTypes.STR, description="Name contains."),
    ])
)
class OrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Organisations: institute members see all, partner viewers their own; admins create and edit."""

    serializer_class = OrganisationSerializer
    queryset = Organisation.objects.all()

    def get_queryset(self) -> QuerySet[Organisation]:
        qs = access.visible_to(self.request.user, Organisation.objects.order_by("name"))
        if self.action == "list":
            kind = text_param(self.request, "kind")
            if kind:
                qs = qs.filter(kind=kind)
            q = text_param(self.request, "q")
            if q:
                qs = qs.filter(name__icontains=q)
        return qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access.require(request.user, access.CREATE, Organisation, "Only admins create organisations.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        org = organisation_create(actor=request_user(request), request=request._request, **serializer.validated_data)
        return Response(self.get_serializer(org).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        org = self.get_object()
        access.require(request.user, access.EDIT, org, "Only admins edit organisations.")
        serializer = self.get_serializer(org, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        org = organisation_update(actor=request_user(request), organisation=org, request=request._request,
                                  **serializer.validated_data)
        return Response(self.get_serializer(org).data)


@extend_schema_view(
    list=extend_schema(parameters=[
        OpenApiParameter("action", OpenApiTypes.STR, description="Action, e.g. run.approve; a prefix ending in "
                         "'.' matches all actions of an object type."),
        OpenApiParameter("actor", OpenApiTypes.STR, description="Actor id or email."),
        OpenApiParameter("exercise", OpenApiTypes.STR, description="The exercise's id, or its name as the audit "
                         "page shows it (case ignored); an exercise the reader may not see is a 400."),
        OpenApiParameter("object_type", OpenApiTypes.STR),
        OpenApiParameter("object_id", OpenApiTypes.STR),
        OpenApiParameter("date_from", OpenApiTypes.DATE),
        OpenApiParameter("date_to", OpenApiTypes.DATE),
    ])
)
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail: admins all, approvers their exercises' events and their own, staff their own."""

    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    pagination_class = CappedPagination  # the trail grows without end: count stops at COUNT_CAP (count_capped)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        access.require(request.user, access.VIEW, AuditEvent, NO_AUDIT_TRAIL)

    def _exercise_ids(self) -> list[int] | None:
        return audit_exercise_ids(user=self.request.user, value=text_param(self.request, "exercise"))  # 400: bad

    def get_queryset(self) -> QuerySet[AuditEvent]:
        qs = access.visible_to(self.request.user, AuditEvent.objects.order_by("-id"))
        if self.action != "list":
            return qs
        request = self.request
        return audit_events_filter(
            queryset=qs, action=text_param(request, "action"), actor=text_param(request, "actor"),
            exercise_ids=self._exercise_ids(), object_type=text_param(request, "object_type"),
            object_id=text_param(request, "object_id"), date_from=date_param(self.request, "date_from"),
            date_to=date_param(self.request, "date_to"),
        )


@extend_schema_view(
    create=extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer}),
    destroy=extend_schema(description="Revoke the token."),
    list=extend_schema(parameters=[OpenApiParameter("active", OpenApiTypes.BOOL)]),
)
class ApiTokenViewSet(
    ReauthenticationRequiredMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own API tokens. Created only from an MFA-verified, recently re-authenticated browser session; the
    token is shown once."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.all()

    def reauthentication_needed(self, request: Request) -> bool:
        return self.action == "create"

    def get_queryset(self) -> QuerySet[ApiToken]:
        qs = access.visible_to(self.request.user, ApiToken.objects.order_by("-created_at", "-id"))
        if self.action == "list" and self.request.query_params.get("active", "").lower() in ("1", "true", "yes"):
            from django.utils import timezone

            qs = qs.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
        return qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if is_token_request(request):
            raise exceptions.PermissionDenied("Tokens are created from a signed-in browser session, not with a token.")
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = api_token_create(user=request_user(request), request=request._request, **serializer.validated_data)
        data = ApiTokenSerializer(created.token).data
        data["token"] = created.plain
        return Response(data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = self.get_object()
        api_token_revoke(actor=request_user(request), token=token, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
