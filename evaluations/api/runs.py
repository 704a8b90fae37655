"""REST API for runs (CONTRACT.md): runs/, its actions, runs/{id}/samples/, runs/import/, item logs (compare/: api/comparisons.py)."""

from __future__ import annotations

import threading
import zlib
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch
from django.http import Http404
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import can, get_visible_or_404, is_admin, require, visible_to
from accounts.gates import InstituteMembersOnly
from accounts.reauth import ReauthenticationRequiredMixin
from evaluations.models import (
    EvalTask,
    Exercise,
    ModelVersion,
    RegisteredModel,
    Run,
    RunApproval,
    RunItem,
    SampleResult,
    TaskVersion,
)
from evaluations.rules.runs import item_state_label, run_state_label
from evaluations.selectors.runs import (
    queue_positions,
    run_item_error_reason,
    run_list,
    sample_list,
)
from evaluations.services import runs as services
from evaluations.services.imports import run_import
from evaluations.services.runs import MAX_EPOCHS, MAX_SAMPLE_IDS, SAMPLE_ID_MAX
from portal.files import storage_file_response
from portal.limits import ID_MAX, TEXT_MAX
from portal.parsers import FormParser, MultiPartParser
from portal.queries import prefetched_release

# --- Serializers ------------------------------------------------------------------------------------------

class RunItemSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_label", help_text="The Inspect model string (provider/model)")
    model_name = serializers.CharField(read_only=True, help_text="The registered model and version, e.g. 'Gemma v2'")
    task = serializers.CharField(source="task_label")
    task_name = serializers.CharField(read_only=True, help_text="The evaluation and version, e.g. 'Arithmetic v1'")
    status = serializers.CharField(source="state")
    progress = serializers.SerializerMethodField()
    log_url = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    status_label = serializers.SerializerMethodField(help_text="The status in words, as the run page says it")
    error = serializers.SerializerMethodField(help_text="Why the item failed, in plain words (empty when it did not)")
    error_detail = serializers.SerializerMethodField(
        help_text="The technical detail of the error (scrubbed): portal admins only, null for everyone else")

    class Meta:
        model = RunItem
        fields = ["id", "model", "model_name", "task", "task_name", "model_version", "task_version", "status",
                  "status_label", "progress", "metrics",
                  "log_url", "queue_position", "error", "error_detail", "attempts", "started_at", "finished_at"]

    def get_error(self, item: RunItem) -> str:
        return run_item_error_reason(error=item.error)

    def get_error_detail(self, item: RunItem) -> str | None:
        request = self.context.get("request")
        return item.error if request is not None and is_admin(request.user) else None

    def get_status_label(self, item: RunItem) -> str:
        return item_state_label(state=item.state, run_state=item.run.state, sent=item.enqueued_at is not None,
                                stopping=item.cancel_requested_at is not None).text

    def get_progress(self, item: RunItem) -> dict[str, Any]:
        return {"total": item.total_samples, "done": item.done_samples, "errors": item.error_samples,
                "input_tokens": item.input_tokens, "output_tokens": item.output_tokens, "cost": str(item.cost),
                "eta_seconds": item.eta_seconds, "fraction": item.progress}

    def get_log_url(self, item: RunItem) -> str | None:
        if not item.log_path:
            return None
        url = reverse("api-run-item-log", kwargs={"pk": item.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def get_queue_position(self, item: RunItem) -> int | None:
        positions = self.context.get("queue_positions")
        if positions is None:  # a serializer used on its own: compute it for this item
            positions = queue_positions(items=[item])
        return positions.get(item.pk)


class RunApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.EmailField(source="approver.email")
    institute = serializers.CharField(source="institute.name")

    class Meta:
        model = RunApproval
        fields = ["revision", "approver", "institute", "decision", "reason", "voided_at", "created_at"]


@extend_schema_field({"oneOf": [{"type": "string", "minLength": 1, "maxLength": SAMPLE_ID_MAX},
                                 {"type": "integer"}]})
class SampleIdField(serializers.Field):
    """A sample id as Inspect has it: text or a whole number (never a boolean, an object or null)."""

    default_error_messages = {  # noqa: RUF012
        "invalid": "A sample id is text or a whole number.",
        "length": f"A sample id is 1 to {SAMPLE_ID_MAX} characters.",
    }

    def to_internal_value(self, data: Any) -> str | int:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        if isinstance(data, str) and not 1 <= len(data.strip()) <= SAMPLE_ID_MAX:
            self.fail("length")
        return data.strip() if isinstance(data, str) else data

    def to_representation(self, value: Any) -> Any:
        return value


class RunSerializer(serializers.ModelSerializer):
    """Exercises, model versions and evaluation versions are looked up among those the user may use: one they may
    not see answers exactly as one that does not exist ("Invalid pk ... - object does not exist.")."""

    exercise = serializers.PrimaryKeyRelatedField(queryset=Exercise.objects.none(), pk_field=serializers.IntegerField())
    models = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), write_only=True, required=False,
                                   max_length=100, help_text="Registered model ids (their current version is pinned).")
    model_versions = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=ModelVersion.objects.none(),
                                                        pk_field=serializers.IntegerField())
    tasks = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), write_only=True, required=False,
                                  max_length=100, help_text="Evaluation task ids (their current version is pinned).")
    task_versions = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=TaskVersion.objects.none(),
                                                       pk_field=serializers.IntegerField())
    sample_ids = serializers.ListField(child=SampleIdField(), required=False, max_length=MAX_SAMPLE_IDS,
                                       help_text="Ids of the samples to run (text or whole numbers), instead of a limit.")
    cost_budget = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), required=False,
                                           allow_null=True)
    fail_on_error = serializers.FloatField(min_value=0, max_value=1e9, required=False, allow_null=True,
                                           help_text="Fraction (0-1) or count (>1) of sample errors that fails an item.")
    status = serializers.CharField(source="state", read_only=True)
    status_label = serializers.SerializerMethodField(help_text="The status in words, as the run page says it")
    created_by = serializers.EmailField(source="created_by.email", read_only=True)
    items = RunItemSerializer(many=True, read_only=True)
    approvals = RunApprovalSerializer(many=True, read_only=True)
    power_plan = serializers.JSONField(read_only=True, help_text=(
        "Stored with every create and edit: per evaluation the minimum detectable difference (points) at the "
        "planned samples and epochs, the samples needed for power_difference, and where the variance came from "
        "(see GET /api/v1/power/)."))
    power_difference = serializers.FloatField(write_only=True, required=False, allow_null=True, min_value=0,
                                              max_value=100, help_text="A difference to detect, in points (0-100).")

    class Meta:
        model = Run
        fields = ["id", "exercise", "name", "status", "status_label", "origin", "revision", "created_by", "owner",
                  "models", "model_versions", "tasks", "task_versions", "limit", "sample_ids", "epochs", "max_samples",
                  "max_connections", "seed", "token_budget", "cost_budget", "fail_on_error", "schedule", "run_at",
                  "cron", "approval_valid_until", "rejection_reason", "parent", "created_at", "submitted_at",
                  "approved_at", "started_at", "finished_at", "items", "approvals", "power_plan",
                  "power_difference"]
        extra_kwargs = {"name": {"required": False}, "epochs": {"max_value": MAX_EPOCHS}}  # noqa: RUF012
        read_only_fields = ["owner", "origin", "revision", "rejection_reason", "parent", "created_at",
                            "submitted_at", "approved_at", "started_at", "finished_at"]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        # The choices of the writable relations matter only when input is validated (not to show a run).
        if user is not None and user.is_authenticated and hasattr(self, "initial_data"):
            fields["exercise"].queryset = Exercise.objects.filter(institutes=user.organisation_id)  # type: ignore[attr-defined]
            fields["model_versions"].child_relation.queryset = visible_to(user, ModelVersion.objects.all())  # type: ignore[attr-defined]
            fields["task_versions"].child_relation.queryset = visible_to(user, TaskVersion.objects.all())  # type: ignore[attr-defined]
        return fields

    def get_status_label(self, run: Run) -> str:
        return run_state_label(state=run.state).text

    def _pinned(self, attrs: dict[str, Any], key: str, versions_key: str, parent: Any, label: str,
                user: Any) -> list[Any] | None:
        ids = attrs.pop(key, None)
        versions = attrs.pop(versions_key, None)
        if ids is None and versions is None:
            return None
        chosen = list(versions or [])
        for pk in ids or []:
            # run_create checks that each version belongs to the run's exercise (which the user takes part in).
            # Picked through the access layer: an invisible one reads as unknown; an archived one is refused.
            obj = visible_to(user, parent.objects.filter(pk=pk)).first()
            if obj is not None and obj.archived_at is not None:
                raise serializers.ValidationError({key: f"{obj.name} is archived: it cannot be chosen for a run."})
            version = obj.current_version if obj is not None else None
            if version is None:
                raise serializers.ValidationError({key: f"No {label} {pk} with a version that you may use."})
            chosen.append(version)
        return list(dict.fromkeys(chosen))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        attrs["_models"] = self._pinned(attrs, "models", "model_versions", RegisteredModel, "model", user)
        attrs["_tasks"] = self._pinned(attrs, "tasks", "task_versions", EvalTask, "evaluation", user)
        return attrs


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = SampleResult
        fields = ["id", "item", "sample_id", "epoch", "input", "target", "output", "scores", "score",
                  "explanation", "input_tokens", "output_tokens", "total_tokens", "total_time", "working_time",
                  "error", "metadata"]


class SampleDetailSerializer(SampleSerializer):
    class Meta(SampleSerializer.Meta):
        fields = [*SampleSerializer.Meta.fields, "messages"]


class ImportSerializer(serializers.Serializer):
    exercise = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    file = serializers.FileField()


class ApproveSerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                        help_text="The revision you read; a run changed since is not approved (409).")
    reason = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True,
                                   help_text="Why the run is rejected (required).")


class RetrySerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True,
                                    help_text="One item to retry; without it, every failed or cancelled item.")


def _body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data if hasattr(request.data, "get") else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- Views ------------------------------------------------------------------------------------------------

ITEM_VERSIONS_UNSHOWN = ("model_version__config", "model_version__registered_model__notes",
                         "task_version__args", "task_version__solver_args", "task_version__scorer_args",
                         "task_version__preview", "task_version__eval_task__description")


def _options(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in services.OPTION_FIELDS}



# A run's JSON is made again by one request at a time per process and key (striped: a fixed number of locks).
_FILL_LOCKS = [threading.Lock() for _ in range(32)]

class RunViewSet(ReauthenticationRequiredMixin, InstituteMembersOnly, viewsets.GenericViewSet):
    serializer_class = RunSerializer
    queryset = Run.objects.all()

    def reauthentication_needed(self, request: Request) -> bool:
        """Approving and rejecting (by someone who may: others get their 403, not a re-authentication)."""
        if self.action not in {"approve", "reject"}:
            return False
        run = visible_to(request.user, Run.objects.filter(pk=self.kwargs["pk"])).first()
        return run is not None and can(request.user, self.action, run)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = self.request.query_params
        exercise = params.get("exercise")
        return run_list(user=self.request.user, exercise_id=int(exercise) if exercise and exercise.isdigit() else None,
                        state=params.get("status") or params.get("state"), q=params.get("q")).prefetch_related(
            # One query per relation (a run's JSON: 5 with the run's own; it was 11, fetched twice).
            # Without the versions' JSON (settings, arguments, the dataset preview), which the run's JSON does not
            # show: decoding it was a tenth of a page of 50 runs (issue 13).
            Prefetch("items", queryset=RunItem.objects.select_related("model_version__registered_model",
                                                                      "task_version__eval_task")
                     .defer(*ITEM_VERSIONS_UNSHOWN)),
            Prefetch("model_versions", queryset=ModelVersion.objects.only("pk")),
            Prefetch("task_versions", queryset=TaskVersion.objects.only("pk")),
            Prefetch("approvals", queryset=RunApproval.objects.select_related("approver", "institute")))

    def get_object(self) -> Run:
        return get_visible_or_404(self.request.user, self.get_queryset(), pk=self.kwargs["pk"])

    def _context(self, runs: list[Run]) -> dict[str, Any]:
        """The serializers' context: the queue positions of every item of these runs, computed once."""
        items = [item for run in runs for item in run.items.all()]
        return {"request": self.request, "queue_positions": queue_positions(items=items)}

    def _cache_key(self, run_pk: int) -> str:
        # The JSON names no user; its log URLs name the host it was asked on.
        return f"api-run-json:{run_pk}:{self.request.scheme}:{self.request.get_host()}"

    def _respond(self, run: Run, code: int = status.HTTP_200_OK) -> Response:
        cache.delete(self._cache_key(run.pk))  # after a write: the next poll sees it
        run = self.get_queryset().get(pk=run.pk)
        return Response(RunSerializer(run, context=self._context([run])).data, status=code)

    def list(self, request: Request) -> Response:
        # The run's JSON names its exercise and owner by id only: not joined for a page of runs.
        runs = self.get_queryset().select_related(None).select_related("created_by")
        page = list(self.paginate_queryset(runs) or [])
        data = list(RunSerializer(page, many=True, context=self._context(page)).data)
        # The runs and their items are freed when this returns, not by a later cyclic collection: their prefetch
        # cycles broken, and neither the serializer (its fields and it are a cycle) nor the paginator's page (the
        # view's, which the request refers back to) holds them any more.
        prefetched_release(page)
        page.clear()
        response = self.get_paginated_response(data)
        paginator: Any = self.paginator  # a PageNumberPagination, with the page it cut
        paginator.page.object_list = []
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        """API clients poll this while a run executes. Who may see the run is decided on every request; what they
        see may be kept ``RUNS_API_CACHE_SECONDS`` (the same for all who may see it), so that many pollers cost one
        serialisation a second. An API write to the run drops it at once."""
        if not settings.RUNS_API_CACHE_SECONDS:
            run = self.get_object()  # already with everything the JSON shows: not fetched again
            return Response(RunSerializer(run, context=self._context([run])).data)
        run_pk = get_visible_or_404(request.user, Run.objects.only("pk"), pk=pk).pk
        key = self._cache_key(run_pk)
        data = cache.get(key)
        if data is None:
            # Polls come in bursts (tens of clients every 2 s): when the kept JSON has just expired, one request per
            # process makes it again and the others wait for it and read it, rather than all making it at once
            # (18 serialisations in one burst under `make load`, docs/benchmarks.md §5). Each has been let in above.
            with _FILL_LOCKS[zlib.crc32(key.encode()) % len(_FILL_LOCKS)]:
                data = cache.get(key)
                if data is None:
                    run = self.get_object()
                    data = dict(RunSerializer(run, context=self._context([run])).data)
                    cache.set(key, data, settings.RUNS_API_CACHE_SECONDS)
        return Response(data)

    def create(self, request: Request) -> Response:
        require(request.user, "create", Run)
        serializer = RunSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        exercise = data.pop("exercise")
        run = services.run_create(actor=request.user, exercise=exercise, models=data.pop("_models") or [],
                                  tasks=data.pop("_tasks") or [], options=_options(data), request=request._request,
                                  submit=bool(isinstance(request.data, dict) and request.data.get("submit")),
                                  power_difference=data.pop("power_difference", None))
        return self._respond(run, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        require(request.user, "edit", run)
        serializer = RunSerializer(run, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("exercise", None)
        run = services.run_update(actor=request.user, run=run, models=data.pop("_models", None),
                                  tasks=data.pop("_tasks", None), options=_options(data), request=request._request,
                                  power_difference=data.pop("power_difference", None))
        return self._respond(run)

    partial_update = update

    def _act(self, request: Request, fn: Any, **kwargs: Any) -> Response:
        run = self.get_object()
        fn(actor=request.user, run=run, request=request._request, **kwargs)  # InvalidTransition: 409
        return self._respond(run)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        return self._act(request, services.run_submit)

    @extend_schema(request=ApproveSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = _body(ApproveSerializer, request)
        return self._act(request, services.run_approve, revision=data.get("revision"),
                         reason=data.get("reason", ""))

    @extend_schema(request=RejectSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        data = _body(RejectSerializer, request)
        return self._act(request, services.run_reject, reason=data.get("reason", ""))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._act(request, services.run_cancel)

    @extend_schema(request=RetrySerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        item_id = _body(RetrySerializer, request).get("item")
        if item_id:
            item = get_visible_or_404(request.user, RunItem.objects.filter(run=run), pk=item_id)
            services.run_item_retry(actor=request.user, item=item, request=request._request)
        else:
            require(request.user, "retry", run)
            services.run_retry_failed_items(actor=request.user, run=run, request=request._request)
        return self._respond(run)

    # A detail action answers one object in drf-spectacular's eyes: many=True declares the paginated page it is.
    @extend_schema(responses=SampleSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=SampleSerializer)
    def samples(self, request: Request, pk: str) -> Response:
        run = self.get_object()
        params = request.query_params
        item = params.get("item")
        samples = sample_list(user=request.user, run=run, item_id=int(item) if item and item.isdigit() else None,
                              score=params.get("score"), error=params.get("error"), text=params.get("text"))
        page = self.paginate_queryset(samples)
        return self.get_paginated_response(SampleSerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": ImportSerializer})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser],
            serializer_class=ImportSerializer)
    def import_log(self, request: Request) -> Response:
        require(request.user, "create", Run)
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Among the exercises the user's institute takes part in: one they may not see (or not plan runs in) answers
        # exactly as one that does not exist.
        exercise = Exercise.objects.filter(institutes=getattr(request.user, "organisation_id", None),
                                           pk=serializer.validated_data["exercise"]).first()
        if exercise is None:
            raise serializers.ValidationError({"exercise": "No such exercise."})
        run = run_import(actor=request.user, exercise=exercise, upload=serializer.validated_data["file"],
                         request=request._request)
        return self._respond(run, status.HTTP_201_CREATED)


class SampleDetailView(InstituteMembersOnly, APIView):
    serializer_class = SampleDetailSerializer

    @extend_schema(responses=SampleDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        sample = get_visible_or_404(request.user, SampleResult.objects.select_related("item__run"), pk=pk)
        return Response(SampleDetailSerializer(sample).data)


class RunItemLogView(InstituteMembersOnly, APIView):
    """GET/HEAD the item's Inspect log (access-checked; Range requests answered with 206)."""

    @extend_schema(
        parameters=[OpenApiParameter("download", str, required=False, enum=["1"],
                                     description="1: as an attachment"),
                    OpenApiParameter("Range", str, OpenApiParameter.HEADER, required=False,
                                     description="bytes=START-END")],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            (206, "application/zip"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such item, or no log yet"),
            416: OpenApiResponse(description="Range not satisfiable"),
        },
        description="The item's Inspect `.eval` log (or `.json` for an imported one), as stock Inspect tools read it.",
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=pk)
        if not item.log_path:
            raise Http404("This item has no log yet.")
        return storage_file_response(request, item.log_path, content_type=item.log_content_type)
