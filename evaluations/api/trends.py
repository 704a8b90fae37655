"""REST API for regressions over time (issue 13): ``GET /api/v1/trends/?exercise=ID&model=ID&task=ID`` — the
trend page's series as JSON (each finished result of one model version × evaluation version in an exercise with
its 95 % interval and the one-sided test against the baseline) — and ``POST /api/v1/trends/baseline/`` — choose the
baseline, as the page's form does (``services.trends.trend_baseline_set``, audited ``trend.baseline_set``). Reads
through ``selectors.trends.trend_page`` (behind accounts.access: what the user may not see is a 404)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import can, get_visible_or_404
from accounts.gates import InstituteMembersOnly
from evaluations.models import RunItem, TrendBaseline
from evaluations.selectors.trends import trend_baseline_of, trend_page
from evaluations.services.trends import trend_baseline_set
from portal.limits import ID_MAX, TEXT_MAX


def _id_field(name: str, label: str) -> serializers.IntegerField:
    message = f"Give the {label} as the number of its id, like {name}=3."
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text=f"The {label}'s id",
                                    error_messages={"required": message, "invalid": message, "min_value": message,
                                                    "max_value": message, "max_string_length": message})


class TrendQuerySerializer(serializers.Serializer):
    """The trend page's parameters."""

    exercise = _id_field("exercise", "exercise")
    model = _id_field("model", "model version")
    task = _id_field("task", "evaluation version")


class TrendRegressionSerializer(serializers.Serializer):
    difference = serializers.FloatField(help_text="This result minus the baseline")
    stderr = serializers.FloatField(help_text="Standard error of the difference (the two results are not paired)")
    p_value = serializers.FloatField(help_text="One-sided: the chance of a difference this low were the result not "
                                               "below the baseline")
    significant = serializers.BooleanField(help_text="Significantly below the baseline (p below 0.05)")


class TrendPointSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text="The run item")
    run = serializers.IntegerField()
    run_name = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    metric = serializers.CharField()
    value = serializers.FloatField(help_text="The mean (the portal's score is clustered by sample)")
    stderr = serializers.FloatField()
    ci = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2,
                               help_text="95 % interval")
    n = serializers.IntegerField(help_text="Samples")
    baseline = serializers.BooleanField(help_text="This result is the baseline")
    below = serializers.BooleanField(help_text="Significantly below the baseline (one-sided test, 5 %)")
    regression = TrendRegressionSerializer(allow_null=True, help_text="The test against the baseline (null: this is "
                                                                      "the baseline, or there is none)")


class TrendSeriesSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="score (the first scorer's value, clustered by sample), or scorer/metric "
                                             "of the logs")
    name = serializers.CharField(help_text="The series in words")
    points = TrendPointSerializer(many=True, help_text="Oldest first")


class TrendBaselineSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    run = serializers.IntegerField()
    run_name = serializers.CharField()
    reason = serializers.CharField()
    set_by = serializers.EmailField()
    set_at = serializers.DateTimeField()


class TrendSerializer(serializers.Serializer):
    exercise = serializers.IntegerField()
    exercise_name = serializers.CharField()
    model_version = serializers.IntegerField()
    model_name = serializers.CharField()
    task_version = serializers.IntegerField()
    task_name = serializers.CharField()
    baseline = TrendBaselineSerializer(allow_null=True)
    may_set_baseline = serializers.BooleanField(help_text="The user may choose the baseline (POST trends/baseline/)")
    series = TrendSeriesSerializer(many=True)


class TrendBaselineWriteSerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=ID_MAX,
                                    help_text="A succeeded item of the trend to make its baseline")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX,
                                   help_text="Why this baseline, e.g. the signed-off run of the release")


class TrendBaselineResultSerializer(serializers.Serializer):
    exercise = serializers.IntegerField()
    model_version = serializers.IntegerField()
    task_version = serializers.IntegerField()
    baseline = TrendBaselineSerializer()


def _baseline(baseline: TrendBaseline | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    return {"item": baseline.item_id, "run": baseline.item.run_id, "run_name": baseline.item.run.name,
            "reason": baseline.reason, "set_by": baseline.set_by.email, "set_at": baseline.set_at}


def trend_representation(page: dict[str, Any], *, may_set_baseline: bool) -> dict[str, Any]:
    series = []
    for s in page["series"]:
        points = []
        for row in s["rows"]:
            regression = row["regression"]
            points.append({
                "item": row["item"].pk, "run": row["run"].pk, "run_name": row["run"].name,
                "finished_at": row["finished_at"], "metric": s["name"], "value": row["mean"], "stderr": row["se"],
                "ci": [row["low"], row["high"]], "n": row["n"], "baseline": row["baseline"],
                "below": bool(regression and regression.significant),
                "regression": None if regression is None else {
                    "difference": regression.difference, "stderr": regression.se, "p_value": regression.p_value,
                    "significant": regression.significant},
            })
        series.append({"metric": s["name"], "name": s["label"], "points": points})
    return {
        "exercise": page["exercise"].pk, "exercise_name": page["exercise"].name,
        "model_version": page["model_version"].pk, "model_name": str(page["model_version"]),
        "task_version": page["task_version"].pk, "task_name": str(page["task_version"]),
        "baseline": _baseline(page["baseline"]), "may_set_baseline": may_set_baseline, "series": series,
    }


class TrendView(InstituteMembersOnly, APIView):
    serializer_class = TrendSerializer

    @extend_schema(
        parameters=[TrendQuerySerializer],
        responses={200: TrendSerializer, 400: OpenApiResponse(description="A parameter is wrong (named)"),
                   404: OpenApiResponse(description="An exercise, model or evaluation version you may not see, or "
                                                    "no finished result of the pair in the exercise")},
        description="The trend of one model version on one evaluation version in an exercise (the trend page, "
                    "`/trends/`): per series (the portal's score, clustered by sample, then each metric of the "
                    "logs) every finished result oldest first (the newest 100) with its 95 % interval, and the "
                    "one-sided test against the baseline staff chose. Formulas: docs/runs.md.",
    )
    def get(self, request: Request) -> Response:
        query = TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = trend_page(user=request.user, exercise_id=params["exercise"], model_version_id=params["model"],
                          task_version_id=params["task"])
        may_set = can(request.user, "create", TrendBaseline(exercise=page["exercise"]))
        return Response(trend_representation(page, may_set_baseline=may_set))


class TrendBaselineView(InstituteMembersOnly, APIView):
    serializer_class = TrendBaselineWriteSerializer

    @extend_schema(
        request=TrendBaselineWriteSerializer,
        responses={200: TrendBaselineResultSerializer,
                   400: OpenApiResponse(description="Not a succeeded item of a registered model and evaluation, or "
                                                    "a field is wrong (named)"),
                   403: OpenApiResponse(description="Only staff and approvers of an institute taking part in the "
                                                    "open exercise choose baselines (admins read, never choose)"),
                   404: OpenApiResponse(description="An item you may not see")},
        description="Make a succeeded item the baseline of its model version × evaluation version in its exercise "
                    "(replacing the one before; audited `trend.baseline_set`). Later results of the pair are tested "
                    "against it and a significantly lower one is notified.",
    )
    def post(self, request: Request) -> Response:
        body = TrendBaselineWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=body.validated_data["item"])
        baseline = trend_baseline_set(actor=request.user, item=item, reason=body.validated_data.get("reason") or "",
                                      request=request._request)
        saved = trend_baseline_of(exercise_id=baseline.exercise_id, model_version_id=baseline.model_version_id,
                                  task_version_id=baseline.task_version_id)
        return Response({"exercise": baseline.exercise_id, "model_version": baseline.model_version_id,
                         "task_version": baseline.task_version_id, "baseline": _baseline(saved)})
