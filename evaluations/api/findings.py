"""REST API for findings (CONTRACT.md ``findings/``): findings and their actions, comments and reproduce; evidence
flags on samples; releases; risk areas; the findings export (``findings/?format=csv|json``).

Institute members read and write ``Finding`` rows; a partner viewer's ``findings/`` and ``findings/{id}/`` answer
with their current release snapshots only, ``releases/`` with every version they may read, and everything else is a
404 for them. Views parse, call one service or selector, and render."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import can, get_visible_or_404, is_institute_member, is_partner_viewer, visible_to
from accounts.gates import InstituteMembersOnly
from accounts.reauth import ReauthenticationRequiredMixin
from evaluations.api.runs import RunSerializer
from evaluations.models import (
    EvidenceFlag,
    EvidenceItem,
    Exercise,
    Finding,
    FindingComment,
    FindingRunItem,
    FindingSignOff,
    Release,
    RiskArea,
    SampleResult,
)
from evaluations.selectors import findings as selectors
from evaluations.selectors.reports import findings_export
from evaluations.services import findings as services


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise serializers.ValidationError({"detail": "Give a JSON object."})
    return dict(data)


def _int_field(data: dict[str, Any], name: str, *, required: bool = True) -> Any:
    """An integer field of a JSON body (None when optional and absent); a 400 naming it otherwise."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise serializers.ValidationError({name: "Give an id (a whole number)."})
    return value


# --- Serializers (responses; writes are checked by the services) ------------------------------------------------

class FlagSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True)
    run = serializers.IntegerField(source="sample.item.run_id", read_only=True)
    run_item = serializers.IntegerField(source="sample.item_id", read_only=True)

    class Meta:
        model = EvidenceFlag
        fields = ["id", "sample", "run", "run_item", "note", "message_indices", "created_by", "created_at"]
        read_only_fields = fields


class FlagWriteSerializer(serializers.Serializer):
    sample = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True)
    message_indices = serializers.ListField(child=serializers.IntegerField(min_value=0), required=False)


class EvidenceSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="sample.item.run_id", read_only=True)
    run_item = serializers.IntegerField(source="sample.item_id", read_only=True)
    sample_id = serializers.CharField(source="sample.sample_id", read_only=True)
    epoch = serializers.IntegerField(source="sample.epoch", read_only=True)
    model_version = serializers.IntegerField(source="sample.item.model_version_id", read_only=True, allow_null=True)
    task_version = serializers.IntegerField(source="sample.item.task_version_id", read_only=True, allow_null=True)
    redacted_excerpt = serializers.SerializerMethodField(help_text="What partners see of the excerpt.")
    flags = serializers.SerializerMethodField(help_text="Evidence flags on this sample.")

    class Meta:
        model = EvidenceItem
        fields = ["id", "position", "sample", "run", "run_item", "sample_id", "epoch", "model_version",
                  "task_version", "excerpt", "redactions", "message_indices", "redacted_excerpt", "flags"]
        read_only_fields = fields

    def get_redacted_excerpt(self, item: EvidenceItem) -> str:
        return selectors.evidence_redacted(item)

    @extend_schema_field(FlagSerializer(many=True))
    def get_flags(self, item: EvidenceItem) -> list[dict[str, Any]]:
        return FlagSerializer(item.sample.evidence_flags.all(), many=True).data  # type: ignore[return-value]


class ResultLinkSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_item.run_id", read_only=True)
    model_version = serializers.IntegerField(source="run_item.model_version_id", read_only=True, allow_null=True)
    task_version = serializers.IntegerField(source="run_item.task_version_id", read_only=True, allow_null=True)

    class Meta:
        model = FindingRunItem
        fields = ["run_item", "run", "model_version", "task_version", "metrics", "intervals", "samples",
                  "position"]
        read_only_fields = fields


class SignOffSerializer(serializers.ModelSerializer):
    approver = serializers.EmailField(source="approver.email", read_only=True)
    institute_name = serializers.CharField(source="institute.name", read_only=True)

    class Meta:
        model = FindingSignOff
        fields = ["revision", "approver", "institute", "institute_name", "created_at", "voided_at"]
        read_only_fields = fields


class PartnerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ReleaseSerializer(serializers.ModelSerializer):
    """A release as institute members see it (withdrawn ones too)."""

    released_by = serializers.EmailField(source="released_by.email", read_only=True)
    withdrawn_by = serializers.EmailField(source="withdrawn_by.email", read_only=True, allow_null=True)
    partners = PartnerRefSerializer(many=True, read_only=True)

    class Meta:
        model = Release
        fields = ["id", "finding", "version", "sha256", "audit_head", "partners", "released_by", "released_at",
                  "withdrawn_at", "withdrawn_by", "snapshot"]
        read_only_fields = fields


class VersionSerializer(serializers.Serializer):
    release = serializers.IntegerField(source="pk")
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    released_at = serializers.DateTimeField()


class PartnerFindingSerializer(serializers.Serializer):
    """What a partner viewer reads: one release's snapshot and its SHA-256 (of the snapshot's canonical JSON)."""

    id = serializers.IntegerField(source="finding_id", help_text="The finding's id.")
    release = serializers.IntegerField(source="pk")
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    released_at = serializers.DateTimeField()
    snapshot = serializers.JSONField()


class PartnerFindingDetailSerializer(PartnerFindingSerializer):
    versions = serializers.SerializerMethodField(help_text="Every version of this finding released to you.")

    @extend_schema_field(VersionSerializer(many=True))
    def get_versions(self, release: Release) -> list[dict[str, Any]]:
        return VersionSerializer(self.context["versions"], many=True).data  # type: ignore[return-value]


class FindingListSerializer(serializers.ModelSerializer):
    risk_area: serializers.SlugRelatedField[RiskArea] = serializers.SlugRelatedField(slug_field="slug",
                                                                                    read_only=True)
    risk_area_name = serializers.CharField(source="risk_area.name", read_only=True)
    author = serializers.EmailField(source="author.email", read_only=True)
    exercise_name = serializers.CharField(source="exercise.name", read_only=True)
    models = serializers.SerializerMethodField()
    evaluations = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "exercise", "exercise_name", "title", "severity", "risk_area", "risk_area_name", "state",
                  "revision", "author", "owner", "model_versions", "task_versions", "models", "evaluations",
                  "created_at", "updated_at", "submitted_at", "signed_off_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_models(self, finding: Finding) -> list[dict[str, Any]]:
        return [{"id": mv.pk, "name": mv.registered_model.name, "version": mv.number}
                for mv in finding.model_versions.all()]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_evaluations(self, finding: Finding) -> list[dict[str, Any]]:
        return [{"id": tv.pk, "name": tv.eval_task.name, "version": tv.number} for tv in finding.task_versions.all()]


class FindingSerializer(FindingListSerializer):
    evidence = EvidenceSerializer(many=True, read_only=True)
    run_items = ResultLinkSerializer(source="result_links", many=True, read_only=True)
    sign_offs = SignOffSerializer(many=True, read_only=True)
    releases = ReleaseSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField(help_text="What you may do to the finding now.")

    class Meta(FindingListSerializer.Meta):
        fields = [*FindingListSerializer.Meta.fields, "summary", "changes_requested_reason", "evidence",
                  "run_items", "sign_offs", "releases", "actions"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, finding: Finding) -> list[str]:
        return selectors.finding_actions(user=self.context["request"].user, finding=finding)


class EvidenceWriteSerializer(serializers.Serializer):
    sample = serializers.IntegerField()
    excerpt = serializers.CharField(allow_blank=True, required=False)
    redactions = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField(), min_length=2,
                                                                   max_length=2), required=False)
    message_indices = serializers.ListField(child=serializers.IntegerField(), required=False)


class FindingWriteSerializer(serializers.Serializer):
    """The fields a write accepts (checked by evaluations.services.findings; errors name the field)."""

    exercise = serializers.IntegerField(help_text="On create only.")
    title = serializers.CharField(max_length=services.MAX_TITLE)
    summary = serializers.CharField(allow_blank=True, required=False, help_text="Markdown.")
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    risk_area = serializers.CharField(help_text="A risk area's slug.")
    evidence = EvidenceWriteSerializer(many=True, required=False)
    model_versions = serializers.ListField(child=serializers.IntegerField(), required=False,
                                           help_text="Derived from the evidence when not given.")
    task_versions = serializers.ListField(child=serializers.IntegerField(), required=False,
                                          help_text="Derived from the evidence when not given.")
    run_items = serializers.ListField(child=serializers.IntegerField(), required=False,
                                      help_text="Run items whose metrics and intervals the finding quotes.")
    revision = serializers.IntegerField(required=False, help_text="On edit: the revision you read (409 if stale).")


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(source="author.email", read_only=True)
    mentions: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="email", many=True,
                                                                               read_only=True)

    class Meta:
        model = FindingComment
        fields = ["id", "author", "body", "mentions", "created_at"]
        read_only_fields = ["id", "author", "mentions", "created_at"]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class RevisionSerializer(serializers.Serializer):
    revision = serializers.IntegerField(required=False)


class ReleaseRequestSerializer(serializers.Serializer):
    partners = serializers.ListField(child=serializers.IntegerField(), help_text="Partner organisation ids.")


class WithdrawSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, help_text="Only this version (default: every live one).")


class ReproduceSerializer(serializers.Serializer):
    evidence = serializers.IntegerField(help_text="An evidence item id of this finding.")


class RiskAreaSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskArea
        fields = ["id", "slug", "name", "ordering"]


FINDING_OR_SNAPSHOT = PolymorphicProxySerializer(
    component_name="FindingOrSnapshot", serializers=[FindingListSerializer, PartnerFindingSerializer],
    resource_type_field_name=None, many=False)
FINDING_DETAIL_OR_SNAPSHOT = PolymorphicProxySerializer(
    component_name="FindingDetailOrSnapshot", serializers=[FindingSerializer, PartnerFindingDetailSerializer],
    resource_type_field_name=None, many=False)
FILTER_PARAMETERS = [
    OpenApiParameter("exercise", int, required=False),
    OpenApiParameter("severity", str, required=False, enum=Finding.Severity.values),
    OpenApiParameter("risk_area", str, required=False, description="A risk area's slug"),
    OpenApiParameter("model", str, required=False, description="A registered model's name"),
    OpenApiParameter("state", str, required=False, enum=Finding.State.values, description="Institute members"),
    OpenApiParameter("q", str, required=False, description="Words in the title or summary (institute members)"),
]


# --- Views --------------------------------------------------------------------------------------------------------

REAUTH_ACTIONS = {"sign_off": "sign_off", "release": "release", "withdraw": "withdraw"}


class FindingViewSet(ReauthenticationRequiredMixin, viewsets.GenericViewSet):
    queryset = Finding.objects.all()
    serializer_class = FindingSerializer

    def reauthentication_needed(self, request: Request) -> bool:
        """Signing off, releasing and withdrawing, by someone who may (others get their 403 or 404)."""
        action_name = REAUTH_ACTIONS.get(self.action or "")
        if action_name is None or not is_institute_member(request.user) or not str(self.kwargs["pk"]).isdigit():
            return False
        finding = visible_to(request.user, Finding.objects.filter(pk=self.kwargs["pk"])).first()
        return finding is not None and can(request.user, action_name, finding)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # ``?format=csv|json`` names an export of the list (answered by ``list``), not a renderer.
        if request.query_params.get("format") in ("csv", "json"):
            return (JSONRenderer(), "application/json")
        return super().perform_content_negotiation(request, force)

    def _finding(self) -> Finding:
        if not is_institute_member(self.request.user):
            raise NotFound()
        return selectors.finding_get(user=self.request.user, pk=self.kwargs["pk"])

    def _respond(self, finding: Finding, code: int = status.HTTP_200_OK) -> Response:
        finding = selectors.finding_get(user=self.request.user, pk=finding.pk)
        return Response(FindingSerializer(finding, context={"request": self.request}).data, status=code)

    @extend_schema(parameters=FILTER_PARAMETERS, description=(
        "Institute members: the findings of the exercises their institute takes part in. Partner viewers: their "
        "organisation's current release snapshots. With `?format=csv` or `?format=json` (and the same filters): an "
        "export of every finding the reader may see, as a file, the same as the findings page's downloads "
        "(`findings/export.csv`): CSV columns Finding, Version, Exercise, Title, State (institute members), "
        "Severity, Risk area, Models, Evaluations, Evidence items, Released at, Summary, SHA-256 (partners), cells "
        "starting with = + - @ neutralised; JSON `{schema, generated_at, reader, findings}`."),
        responses=PolymorphicProxySerializer(component_name="FindingOrSnapshotList",
                                             serializers=[FindingListSerializer, PartnerFindingSerializer],
                                             resource_type_field_name=None, many=True))
    def list(self, request: Request) -> Any:
        user = request.user
        partner = is_partner_viewer(user)
        if not partner and not is_institute_member(user):
            raise NotFound()
        filters = selectors.finding_filters_clean(request.query_params, partner=partner)
        export = request.query_params.get("format")
        if export in ("csv", "json"):
            text, content_type = findings_export(user=user, filters=filters, ext=export)  # as the page's
            response = HttpResponse(text, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="findings.{export}"'
            return response
        listed: Any = (selectors.partner_current_releases(user=user, **filters) if partner
                       else selectors.finding_list(user=user, **filters))
        page = self.paginate_queryset(listed)
        serializer = PartnerFindingSerializer if partner else FindingListSerializer
        return self.get_paginated_response(serializer(page, many=True).data)

    @extend_schema(responses=FINDING_DETAIL_OR_SNAPSHOT)
    def retrieve(self, request: Request, pk: str) -> Response:
        if is_partner_viewer(request.user):
            release = selectors.partner_release_get(user=request.user, finding_id=pk)
            versions = selectors.partner_release_versions(user=request.user, finding_id=release.finding_id)
            return Response(PartnerFindingDetailSerializer(release, context={"versions": versions}).data)
        return self._respond(self._finding())

    @extend_schema(request=FindingWriteSerializer, responses={201: FindingSerializer})
    def create(self, request: Request) -> Response:
        user = request.user
        if not is_institute_member(user):
            # Partners never see a finding as such (their findings/ lists release snapshots), so for them
            # creating one is a 404 as on the page (findings/new/), not a 403 (docs/findings.md).
            raise NotFound()
        data = _body(request)
        exercise_id = _int_field(data, "exercise")
        exercise = visible_to(user, Exercise.objects.filter(pk=exercise_id)).first()
        if exercise is None:
            raise serializers.ValidationError({"exercise": "No such exercise."})
        data.pop("exercise")
        finding = services.finding_create(actor=user, exercise=exercise, data=data, request=request._request)
        return self._respond(finding, status.HTTP_201_CREATED)

    @extend_schema(request=FindingWriteSerializer, responses=FindingSerializer)
    def update(self, request: Request, pk: str) -> Response:
        finding = self._finding()
        data = _body(request)
        revision = _int_field(data, "revision", required=False)
        data.pop("revision", None)
        if "exercise" in data:
            exercise = data.pop("exercise")
            if isinstance(exercise, bool) or exercise != finding.exercise_id:  # (True == 1 in Python)
                raise serializers.ValidationError({"exercise": "A finding stays in its exercise."})
        finding = services.finding_update(actor=request.user, finding=finding, data=data, revision=revision,
                                          request=request._request)
        return self._respond(finding)

    @extend_schema(request=FindingWriteSerializer, responses=FindingSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk)

    def _act(self, request: Request, fn: Any, **kwargs: Any) -> Response:
        finding = self._finding()
        fn(actor=request.user, finding=finding, request=request._request, **kwargs)  # 409: portal.errors.Conflict
        return self._respond(finding)

    @extend_schema(request=None, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        return self._act(request, services.finding_submit)

    @extend_schema(request=ReasonSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request: Request, pk: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        return self._act(request, services.finding_request_changes, reason=data.get("reason"))

    @extend_schema(request=RevisionSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request: Request, pk: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        return self._act(request, services.finding_sign_off,
                         revision=_int_field(data, "revision", required=False))

    @extend_schema(request=ReleaseRequestSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        return self._act(request, services.finding_release, partners=data.get("partners"))

    @extend_schema(request=WithdrawSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        return self._act(request, services.finding_withdraw, version=data.get("version"))

    @extend_schema(methods=["GET"], request=None, responses=CommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def comments(self, request: Request, pk: str) -> Response:
        finding = self._finding()
        if request.method == "POST":
            data = request.data if isinstance(request.data, dict) else {}
            comment = services.finding_comment_create(actor=request.user, finding=finding, body=data.get("body"),
                                                      request=request._request)
            return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        return Response(CommentSerializer(selectors.comment_list(user=request.user, finding=finding),
                                          many=True).data)

    @extend_schema(request=ReproduceSerializer, responses={201: OpenApiTypes.OBJECT},
                   description="Creates a draft run of the evidence's model version × evaluation version on its "
                               "sample id only (approval rules apply); answers with the run as runs/{id}/ does.")
    @action(detail=True, methods=["post"])
    def reproduce(self, request: Request, pk: str) -> Response:
        finding = self._finding()
        data = request.data if isinstance(request.data, dict) else {}
        evidence_id = _int_field(data, "evidence")
        evidence = finding.evidence.filter(pk=evidence_id).select_related("sample__item").first()
        if evidence is None:
            raise serializers.ValidationError({"evidence": "No such evidence item in this finding."})
        run = services.finding_reproduce(actor=request.user, evidence=evidence, request=request._request)
        return Response(RunSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED)


class EvidenceFlagViewSet(InstituteMembersOnly, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    """Evidence flags on samples: everyone in the exercise sees them; staff create them and delete their own."""

    serializer_class = FlagSerializer
    queryset = EvidenceFlag.objects.all()

    def get_queryset(self) -> Any:
        params = self.request.query_params
        for name in ("run", "sample"):
            value = params.get(name, "")
            if value and not value.isdigit():
                raise serializers.ValidationError({name: "Give an id (a whole number)."})
        return selectors.evidence_flag_list(user=self.request.user, run=int(params["run"]) if params.get("run")
                                            else None, sample=int(params["sample"]) if params.get("sample") else None)

    def get_object(self) -> EvidenceFlag:
        return get_visible_or_404(self.request.user, EvidenceFlag.objects.select_related("sample__item__run__exercise"),
                                  pk=self.kwargs["pk"])

    @extend_schema(parameters=[OpenApiParameter("run", int, required=False),
                               OpenApiParameter("sample", int, required=False)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=FlagWriteSerializer, responses={201: FlagSerializer})
    def create(self, request: Request) -> Response:
        data = _body(request)
        sample_id = _int_field(data, "sample")
        sample = visible_to(request.user, SampleResult.objects.filter(pk=sample_id)).select_related(
            "item__run__exercise").first()
        if sample is None:
            raise serializers.ValidationError({"sample": "No such sample."})
        unknown = set(data) - {"sample", "note", "message_indices"}
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
        flag = services.evidence_flag_create(actor=request.user, sample=sample, note=data.get("note", ""),
                                             message_indices=data.get("message_indices"), request=request._request)
        return Response(FlagSerializer(flag).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        services.evidence_flag_delete(actor=request.user, flag=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Releases: a partner viewer reads every live version released to their organisation; institute members read
    every release (withdrawn ones too) of the findings they see."""

    queryset = Release.objects.all()

    def get_serializer_class(self) -> Any:
        return PartnerFindingSerializer if is_partner_viewer(self.request.user) else ReleaseSerializer

    def get_queryset(self) -> Any:
        finding = self.request.query_params.get("finding", "")
        if finding and not finding.isdigit():
            raise serializers.ValidationError({"finding": "Give a finding id (a whole number)."})
        return selectors.release_list(user=self.request.user, finding=int(finding) if finding else None)

    def get_object(self) -> Release:
        return get_visible_or_404(self.request.user, self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(parameters=[OpenApiParameter("finding", int, required=False)],
                   responses=PolymorphicProxySerializer(component_name="ReleaseOrSnapshotList",
                                                        serializers=[ReleaseSerializer, PartnerFindingSerializer],
                                                        resource_type_field_name=None, many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=PolymorphicProxySerializer(component_name="ReleaseOrSnapshot",
                                                        serializers=[ReleaseSerializer, PartnerFindingSerializer],
                                                        resource_type_field_name=None, many=False))
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)


class RiskAreaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Risk areas: everyone signed in reads them; admins add and rename them."""

    serializer_class = RiskAreaSerializer
    queryset = RiskArea.objects.all()
    pagination_class = None

    def get_queryset(self) -> Any:
        return selectors.risk_area_list(user=self.request.user)

    def get_object(self) -> RiskArea:
        return get_visible_or_404(self.request.user, RiskArea.objects.all(), pk=self.kwargs["pk"])

    @extend_schema(request=RiskAreaSerializer, responses={201: RiskAreaSerializer})
    def create(self, request: Request) -> Response:
        data = _body(request)
        area = services.risk_area_create(actor=request.user, slug=data.get("slug"), name=data.get("name"),
                                         ordering=data.get("ordering", 0), request=request._request)
        return Response(RiskAreaSerializer(area).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RiskAreaSerializer, responses=RiskAreaSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _body(request)
        risk_area = self.get_object()
        if "slug" in data and data["slug"] != risk_area.slug:  # refused, not ignored
            raise serializers.ValidationError({"slug": "A risk area's slug cannot be changed; add a new area."})
        area = services.risk_area_update(actor=request.user, risk_area=risk_area, name=data.get("name"),
                                         ordering=data.get("ordering"), request=request._request)
        return Response(RiskAreaSerializer(area).data)
