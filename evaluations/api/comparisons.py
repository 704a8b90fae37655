"""REST API for comparisons (CONTRACT.md): ``compare/?items=ID,ID`` — every metric of the items' samples with its
clustered interval, every pair's paired difference with ``p_value`` and ``p_adjusted`` (Holm; ``p_bh``:
Benjamini-Hochberg, both over all the comparisons of the answer), a verdict in words, and the side by side of the
samples where the items disagree or errored (paginated with ``page``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.gates import InstituteMembersOnly
from evaluations.selectors.comparisons import (
    cluster_field_clean,
    comparison_build,
    comparison_clustering,
    items_for_compare,
)
from portal.api import int_param, text_param


def _interval(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True,
                                 help_text=help_text)


class MeanCISerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Samples (epochs averaged within each)")
    mean = serializers.FloatField(allow_null=True)
    stderr = serializers.FloatField(allow_null=True, help_text="Standard error clustered by sample")
    ci95 = _interval("95% confidence interval: Wilson for binary scores, Student's t otherwise")


class EstimateSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    n = serializers.IntegerField(help_text="Samples (epochs averaged within each)")
    scores = serializers.IntegerField(help_text="Scores averaged (samples × epochs)")
    clusters = serializers.IntegerField(help_text="Independent clusters (n without a cluster field)")
    mean = serializers.FloatField(allow_null=True)
    stderr = serializers.FloatField(allow_null=True)
    ci = _interval("Confidence interval at `confidence`")
    method = serializers.ChoiceField(choices=["wilson", "t", ""], help_text="How the interval was computed")
    binary = serializers.BooleanField(help_text="Every score 0 or 1")
    confidence = serializers.FloatField()


class BinSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()
    count = serializers.IntegerField()
    name = serializers.CharField(help_text="The bin in words")


class DistributionSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    bins = BinSerializer(many=True)


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Scorer name, or scorer/key for a scorer with several values")
    binary = serializers.BooleanField()
    points = serializers.BooleanField(help_text="Scores are proportions (0 to 1): differences read in points")
    estimates = EstimateSerializer(many=True)
    distribution = DistributionSerializer(many=True, help_text="Histogram of each item's sample scores")


class CompareItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField()
    model = serializers.CharField(help_text="The Inspect model string (provider/model)")
    model_name = serializers.CharField(help_text="The registered model and version")
    model_version = serializers.IntegerField(allow_null=True)
    task = serializers.CharField()
    task_name = serializers.CharField(help_text="The evaluation and version")
    task_version = serializers.IntegerField(allow_null=True)
    metrics = serializers.JSONField(help_text="The metrics Inspect's log reported")
    score = MeanCISerializer(help_text="The first metric's estimate")
    scores = serializers.DictField(child=EstimateSerializer(), help_text="Every metric's estimate, by name")


class CompareDifferenceSerializer(serializers.Serializer):
    metric = serializers.CharField()
    base = serializers.IntegerField(help_text="Item A (the earlier of the pair in the order given)")
    item = serializers.IntegerField(help_text="Item B")
    base_model_name = serializers.CharField()
    model_name = serializers.CharField()
    shared_samples = serializers.IntegerField(help_text="Samples scored in both items")
    clusters = serializers.IntegerField()
    points = serializers.BooleanField()
    difference = MeanCISerializer(help_text="Mean paired difference (item − base)")
    n = serializers.IntegerField()
    mean_a = serializers.FloatField(allow_null=True, help_text="A's mean on the shared samples")
    mean_b = serializers.FloatField(allow_null=True, help_text="B's mean on the shared samples")
    stderr = serializers.FloatField(allow_null=True, help_text="Clustered standard error of the difference")
    ci = _interval("Confidence interval of the difference (Student's t, clusters − 1 degrees of freedom)")
    t_p_value = serializers.FloatField(allow_null=True, help_text="Paired t test, two-sided")
    correlation = serializers.FloatField(allow_null=True, help_text="Pearson's r of the pair's sample scores")
    binary = serializers.BooleanField()
    only_b = serializers.IntegerField(allow_null=True, help_text="Binary: samples only B got right")
    only_a = serializers.IntegerField(allow_null=True, help_text="Binary: samples only A got right")
    mcnemar_p_value = serializers.FloatField(allow_null=True, help_text="McNemar's exact test (binary scores)")
    test = serializers.ChoiceField(choices=["mcnemar-exact", "paired-t", ""], help_text="The test of p_value")
    p_value = serializers.FloatField(allow_null=True, help_text="Two-sided, of a zero difference")
    p_adjusted = serializers.FloatField(allow_null=True, help_text="Holm's correction over all the comparisons")
    p_holm = serializers.FloatField(allow_null=True)
    p_bh = serializers.FloatField(allow_null=True, help_text="Benjamini-Hochberg (false discovery rate)")
    significant = serializers.BooleanField(help_text="p_holm below 0.05")
    bootstrap_ci = _interval("Paired bootstrap percentile interval (a check; fixed seed)")
    confidence = serializers.FloatField()
    verdict = serializers.CharField(help_text="The difference in plain words")


class SideBySideCellSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    present = serializers.BooleanField(help_text="The item has this sample")
    scores = serializers.DictField(child=serializers.FloatField(), help_text="Epoch-averaged, by metric")
    error = serializers.CharField(help_text="The start of the sample's error, if any")
    sample = serializers.IntegerField(allow_null=True, help_text="The sample result's id (its transcript)")
    url = serializers.CharField(allow_null=True, help_text="The transcript page")


class SideBySideRowSerializer(serializers.Serializer):
    sample_id = serializers.CharField()
    disagree = serializers.BooleanField()
    errored = serializers.BooleanField()
    cells = SideBySideCellSerializer(many=True)


class SideBySideSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = SideBySideRowSerializer(many=True)


class CompareSerializer(serializers.Serializer):
    evaluation = serializers.CharField()
    confidence = serializers.FloatField()
    cluster = serializers.CharField(allow_null=True, help_text="The metadata field samples are clustered by "
                                                                "(null: by sample only)")
    cluster_source = serializers.ChoiceField(
        choices=["task", "request", "none"],
        help_text="Why: task (the evaluation version declares it and the request named none), request (the "
                  "`cluster` parameter; empty: by sample only), none (neither)")
    cluster_declared = serializers.CharField(allow_null=True,
                                             help_text="The evaluation version's declared cluster field")
    clustering = serializers.CharField(help_text="The clustering used and why, in words")
    metric_names = serializers.ListField(child=serializers.CharField())
    items = CompareItemSerializer(many=True)
    metrics = MetricSerializer(many=True)
    differences = CompareDifferenceSerializer(many=True, help_text="Every pair of items, for every metric")
    samples = SideBySideSerializer(help_text="Samples where the items disagree or errored")


class CompareView(InstituteMembersOnly, APIView):
    """Compare run items of one evaluation version: every metric's mean with its clustered interval (Wilson for
    binary scores), every pair's paired difference with its interval, p-value (McNemar exact or paired t), Holm
    and Benjamini-Hochberg adjusted p-values over all the comparisons, a verdict in words, and the samples where
    the items disagree or errored. Formulas: docs/statistics.md."""

    serializer_class = CompareSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("items", str, required=True,
                             description="1 to 20 run item ids of one evaluation version, comma-separated (or the "
                                         "parameter repeated); the first is the baseline"),
            OpenApiParameter("cluster", str, required=False,
                             description="A metadata field whose samples are not independent (clustered SEs). "
                                         "Absent: the evaluation version's declared field (if any); empty: by "
                                         "sample only"),
            OpenApiParameter("page", int, required=False, description="Page of the side by side (50 a page)"),
        ],
        responses=CompareSerializer,
    )
    def get(self, request: Request) -> Response:
        values = [v for v in request.query_params.getlist("items") if v.strip()]
        if not values:
            raise serializers.ValidationError({"items": "Give 1 to 20 run item ids, comma-separated."})
        page = int_param(request, "page")
        if page is not None and page < 1:
            raise serializers.ValidationError({"page": "Must be 1 or more."})
        # no "cluster": the evaluation version's declared field; "cluster=" (empty): by sample only
        requested = text_param(request, "cluster") if "cluster" in request.query_params else None
        try:
            if requested is not None:
                cluster_field_clean(requested)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        # 400 for an id that is not a number, too many, or items of different evaluation versions; 404 unseen
        items = items_for_compare(user=request.user, values=values)
        clustering = comparison_clustering(items=items, requested=requested)
        return Response(comparison_build(items=items, clustering=clustering, page=page or 1))
