"""REST API for power planning (issue 13): GET /api/v1/power/ — the minimum detectable difference of a planned
paired comparison per evaluation, and the samples needed for a difference (formulas: docs/runs.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.gates import InstituteMembersOnly
from evaluations.selectors.power import MAX_PLANNED, power_plan_preview
from evaluations.services.runs import MAX_EPOCHS, NUMBER_RANGES


def _ids(value: str, name: str) -> list[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if any(not p.isdigit() or len(p) > 18 for p in parts):
        raise serializers.ValidationError({name: "Give ids as whole numbers, comma-separated, like 3,4."})
    if len(parts) > MAX_PLANNED:
        raise serializers.ValidationError({name: f"Give at most {MAX_PLANNED} ids."})
    return [int(p) for p in parts]


class PowerQuerySerializer(serializers.Serializer):
    tasks = serializers.CharField(max_length=2000, help_text="Evaluation version ids (task_versions), comma-separated")
    models = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                   help_text="Model version ids, comma-separated (the pairs compared)")
    limit = serializers.IntegerField(min_value=1, max_value=NUMBER_RANGES["limit"][1], required=False,
                                     help_text="Planned sample limit (else the dataset's size)")
    epochs = serializers.IntegerField(min_value=1, max_value=MAX_EPOCHS, required=False, default=1)
    difference = serializers.FloatField(min_value=0.01, max_value=100, required=False,
                                        help_text="A difference to detect, in points (0.01 of the score)")

    def validate_tasks(self, value: str) -> list[int]:
        ids = _ids(value, "tasks")
        if not ids:
            raise serializers.ValidationError("Give at least one evaluation version id.")
        return ids

    def validate_models(self, value: str) -> list[int]:
        return _ids(value, "models")


class PowerEvaluationSerializer(serializers.Serializer):
    task_version = serializers.IntegerField()
    name = serializers.CharField()
    samples = serializers.IntegerField(allow_null=True, help_text="Planned samples (limit, ids or dataset size)")
    dataset_samples = serializers.IntegerField(allow_null=True)
    epochs = serializers.IntegerField()
    minimum_detectable_difference = serializers.FloatField(allow_null=True, help_text="Points, at alpha and power")
    difference = serializers.FloatField(allow_null=True)
    samples_needed = serializers.IntegerField(allow_null=True, help_text="For the difference asked, per model")
    needs_more_than_dataset = serializers.BooleanField()
    variance_between = serializers.FloatField()
    variance_within = serializers.FloatField()
    correlation = serializers.FloatField()
    source = serializers.ChoiceField(choices=["task_version", "task", "default"],  # type: ignore[assignment]
                                     help_text="Where the variance came from: earlier items of this version, of "
                                               "other versions of the evaluation, or the stated default")
    items = serializers.IntegerField()
    pairs = serializers.IntegerField()
    alpha = serializers.FloatField()
    power = serializers.FloatField()


class PowerPlanSerializer(serializers.Serializer):
    alpha = serializers.FloatField()
    power = serializers.FloatField()
    models = serializers.IntegerField()
    pairs = serializers.IntegerField()
    epochs = serializers.IntegerField()
    difference = serializers.FloatField(allow_null=True)
    evaluations = PowerEvaluationSerializer(many=True)


class PowerView(InstituteMembersOnly, APIView):
    serializer_class = PowerPlanSerializer

    @extend_schema(
        parameters=[PowerQuerySerializer],
        responses={200: PowerPlanSerializer, 400: OpenApiResponse(description="A parameter is wrong (named)"),
                   404: OpenApiResponse(description="An evaluation or model version you may not see")},
        description="Power planning for a paired comparison of models on each evaluation: the minimum detectable "
                    "difference at alpha 0.05 (two-sided) and 80 % power with the planned samples and epochs, and "
                    "the samples needed for `difference`. Variance and paired correlation come from earlier "
                    "finished items of the same evaluation version (else of the same evaluation); with none, the "
                    "default: a binary score with p = 0.5 and a correlation of 0.5.",
    )
    def get(self, request: Request) -> Response:
        query = PowerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data: dict[str, Any] = query.validated_data
        return Response(power_plan_preview(user=request.user, task_version_ids=data["tasks"],
                                           model_version_ids=data.get("models") or [], limit=data.get("limit"),
                                           epochs=data.get("epochs") or 1, difference=data.get("difference")))
