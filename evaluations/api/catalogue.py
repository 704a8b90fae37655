"""/api/v1/tasks/: the evaluation catalogue. Registry tasks (JSON: registry_name + args) or custom evaluations
(multipart: dataset + solver + scorer). /api/v1/tasks/catalogue/ lists the installed tasks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import CREATE, EDIT, get_visible_or_404, require
from accounts.gates import InstituteMembersOnly
from evaluations.inspectai.datasets import SCORERS, SOLVERS, DatasetTooLarge
from evaluations.models import EvalTask, TaskVersion
from evaluations.selectors import catalogue as selectors
from evaluations.selectors.comparisons import cluster_field_clean
from evaluations.services import catalogue as services
from portal.limits import ID_MAX, LINE_MAX, NAME_MAX, PROMPT_MAX, TEXT_MAX
from portal.parsers import (
    FormParser,
    JSONField,
    JSONLimitError,
    JSONParser,
    JSONSyntaxError,
    MultiPartParser,
    json_loads,
)
from portal.uploads import install_upload_limit


class TaskVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email")

    class Meta:
        model = TaskVersion
        fields = ["id", "number", "kind", "registry_name", "args", "dataset_name", "dataset_format",
                  "dataset_sha256", "sample_count", "preview", "solver", "solver_args", "scorer", "scorer_args",
                  "grader_model_version", "needs_network", "cluster_field", "created_by", "created_at"]


class TaskWriteSerializer(serializers.Serializer):
    exercise = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    exercises = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False,
                                      max_length=100)
    name = serializers.CharField(max_length=NAME_MAX, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    registry_name = serializers.CharField(required=False, allow_blank=True, max_length=300)
    args = JSONField(required=False)
    dataset = serializers.FileField(required=False, write_only=True)
    # blank for a registry task (only uploaded-dataset tasks have a solver and a scorer)
    solver = serializers.ChoiceField(choices=list(SOLVERS), required=False, allow_blank=True)
    system_prompt = serializers.CharField(required=False, allow_blank=True, max_length=PROMPT_MAX)
    scorer = serializers.ChoiceField(choices=list(SCORERS), required=False, allow_blank=True)
    pattern = serializers.CharField(required=False, allow_blank=True, max_length=LINE_MAX)
    grader_model_version = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=ID_MAX)
    cluster_field = serializers.CharField(
        required=False, allow_blank=True, max_length=100,
        help_text="A sample metadata field whose samples are not independent (e.g. passage_id): comparisons cluster "
                  "standard errors by it unless the request says otherwise. Empty: by sample only. Changing it "
                  "changes the current version in place (it changes no score).")

    def validate_cluster_field(self, value: str) -> str:
        try:
            return cluster_field_clean(value, field="cluster_field")
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["cluster_field"]) from None


def task_representation(task: EvalTask) -> dict[str, Any]:
    versions = getattr(task, "ordered_versions", None)
    if versions is None:
        versions = list(task.versions.select_related("created_by").order_by("-number"))
    current = versions[0] if versions else None
    exercises = sorted(e.pk for e in task.exercises.all())
    return {
        "id": task.pk, "name": task.name, "description": task.description,
        "exercise": exercises[0] if exercises else None, "exercises": exercises,
        "owner": task.owner_id, "owner_name": task.owner.name,
        "kind": current.kind if current else None,
        "registry_name": current.registry_name if current else "",
        "args": current.args if current else {},
        "solver": current.solver if current else "", "scorer": current.scorer if current else "",
        "cluster_field": current.cluster_field if current else "",
        "version": current.number if current else None, "version_id": current.pk if current else None,
        "versions": TaskVersionSerializer(versions, many=True).data,
        "created_at": task.created_at.isoformat(), "archived": task.archived_at is not None,
    }


def _exercises(d: dict[str, Any]) -> list[int] | None:
    if d.get("exercises") is not None:
        return list(d["exercises"])
    if d.get("exercise") is not None:
        return [d["exercise"]]
    return None


def _args(value: Any) -> Any:
    if isinstance(value, str):  # multipart sends JSON as text
        try:
            return json_loads(value, root="args") if value.strip() else {}
        except JSONSyntaxError:
            raise ValidationError({"args": ["Enter the arguments as a JSON object."]}) from None
        except JSONLimitError as exc:
            raise ValidationError({"args": [f"{exc.field} {exc}"]}) from None
    return value


class EvalTaskViewSet(InstituteMembersOnly, viewsets.GenericViewSet):
    serializer_class = TaskWriteSerializer
    queryset = EvalTask.objects.all()
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if request.method in ("POST", "PUT", "PATCH"):
            install_upload_limit(request, max_bytes=settings.DATASET_UPLOAD_MAX_BYTES,  # before the body is read
                                 error=DatasetTooLarge)
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[EvalTask]:
        params = self.request.query_params
        exercise = params.get("exercise")
        return selectors.task_list(user=self.request.user, q=params.get("q", ""), sort=params.get("sort", "name"),
                                   exercise=int(exercise) if exercise and exercise.isdigit() else None,
                                   include_archived=params.get("archived") in ("1", "true"))

    def get_object(self) -> EvalTask:
        return get_visible_or_404(self.request.user, EvalTask.objects.select_related("owner"), pk=self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([task_representation(t) for t in page or []])

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(task_representation(self.get_object()))

    def create(self, request: Request) -> Response:
        require(request.user, CREATE, EvalTask)
        ser = TaskWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        exercises = _exercises(d) or []
        if d.get("dataset") is not None:
            task = services.task_create_dataset(
                user=request.user, name=d.get("name", ""), exercises=exercises, upload=d["dataset"],
                solver=d.get("solver") or "generate", scorer=d.get("scorer") or "includes",
                solver_args={"system_prompt": d.get("system_prompt", "")}, scorer_args={"pattern": d.get("pattern", "")},
                grader_model_version=d.get("grader_model_version"), description=d.get("description", ""),
                cluster_field=d.get("cluster_field", ""), request=request._request)
        elif d.get("registry_name"):
            task = services.task_create_registry(
                user=request.user, name=d.get("name", ""), exercises=exercises, registry_name=d["registry_name"],
                args=_args(d.get("args")), description=d.get("description", ""),
                cluster_field=d.get("cluster_field", ""), request=request._request)
        else:
            return Response({"detail": "Send registry_name (with args), or a dataset file with solver and scorer."},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(task_representation(task), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        require(request.user, EDIT, task)
        ser = TaskWriteSerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        changes: dict[str, Any] = {k: d[k] for k in ("name", "description", "solver", "scorer",
                                                      "grader_model_version", "cluster_field")
                                   if k in d and not (k in ("solver", "scorer") and d[k] == "")}
        if "args" in d:
            changes["args"] = _args(d["args"])
        if "system_prompt" in d:
            changes["solver_args"] = {"system_prompt": d["system_prompt"]}
        if "pattern" in d:
            changes["scorer_args"] = {"pattern": d["pattern"]}
        if d.get("dataset") is not None:
            changes["upload"] = d["dataset"]
        exercises = _exercises(d)
        if exercises is not None:
            changes["exercises"] = exercises
        task, _ = services.task_update(user=request.user, eval_task=task, request=request._request, **changes)
        return Response(task_representation(EvalTask.objects.get(pk=task.pk)))

    def update(self, request: Request, pk: str | None = None) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.task_archive(user=request.user, eval_task=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=None)
    @action(detail=False, methods=["get"], url_path="catalogue")
    def catalogue(self, request: Request) -> Response:
        entries = selectors.catalogue_search(q=request.query_params.get("q", ""),
                                             source=request.query_params.get("source", ""),
                                             offline_only=request.query_params.get("offline") in ("1", "true"))
        page = self.paginate_queryset(entries)  # type: ignore[arg-type]
        return self.get_paginated_response([
            {"name": e.name, "title": e.title, "description": e.description, "source": e.source,
             "group": e.group, "needs_network": e.needs_network, "downloads": e.downloads} for e in page or []
        ])
