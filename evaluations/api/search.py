"""REST API for search (CONTRACT.md ``search/``, issue 13 part 7): ``GET search/?q=`` over the samples and findings
the caller may see (a partner viewer: the current release snapshots of their organisation), ranked, paginated."""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import is_partner_viewer
from evaluations.selectors.search import (
    NO_SAMPLES,
    QUERY_MAX,
    UNINDEXED_COUNT_MAX,
    kind_clean,
    samples_unindexed_count,
    search_hits,
    search_hits_count,
    search_query_clean,
    search_results,
    search_sample_matches,
)
from portal.api import Pagination
from portal.pagination import CountedPaginator


class SearchResultSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["sample", "finding"])
    id = serializers.IntegerField(help_text="The sample's or the finding's id (samples/{id}/, findings/{id}/)")
    rank = serializers.FloatField(help_text="ts_rank of the match; results come best first")
    title = serializers.CharField(help_text="Plain text")
    title_html = serializers.CharField(help_text="The title as HTML: escaped text, matched words in <mark>")
    highlight = serializers.CharField(
        help_text="Passages around the matched words as HTML: the text is escaped, then matched words are put in "
                  "<mark> and </mark>; no other markup")
    url = serializers.CharField(help_text="The page of the sample or finding")
    context = serializers.DictField(  # type: ignore[assignment]
        help_text="sample: exercise, exercise_id, run, run_id, model, evaluation, sample_id, epoch, score, error; "
                  "finding: exercise, exercise_id, severity, state, state_label (partners: released_at, version)")


class SearchPagination(Pagination):
    """Pages of hits whose count the selectors gave (``search_hits_count``): no COUNT(*) of the hits."""

    page_size = 20
    max_page_size = 100

    def __init__(self, *, count: int = 0) -> None:
        self.django_paginator_class = partial(CountedPaginator, count=count)  # type: ignore[assignment]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["capped"] = {
            "type": "boolean",
            "description": "More samples match than a search ranks (SEARCH_RANK_MAX): only the first SEARCH_RANK_MAX "
                           "matches found (the newest samples searched first, not the best of all) are ranked, "
                           "and count is that many; add words to narrow the search"}
        paginated["properties"]["unindexed_samples"] = {
            "type": "integer",
            "description": f"Samples the caller may see that are not indexed yet, so not found (counted up to "
                           f"{UNINDEXED_COUNT_MAX + 1}: more means more than {UNINDEXED_COUNT_MAX})"}
        return paginated


class SearchView(APIView):
    pagination_class = SearchPagination
    serializer_class = SearchResultSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True,
                             description=f"Words to look for, 1 to {QUERY_MAX} characters, in web search syntax: "
                                         '"a phrase", either OR other, -excluded'),
            OpenApiParameter("kind", str, required=False, enum=["sample", "finding"],
                             description="Only samples or only findings (default: both, in one ranked list)"),
            OpenApiParameter("page", int, required=False),
            OpenApiParameter("page_size", int, required=False, description="1 to 100 (default 20)"),
        ],
        responses=SearchResultSerializer(many=True),
        description="Full-text search of what the caller may see: samples (output, input, scorer's explanation, "
                    "transcript text) and findings (title, summary, evidence). A partner viewer searches only the "
                    "current release snapshots of their organisation, redacted as released.",
    )
    def get(self, request: Request) -> Response:
        q = search_query_clean(request.query_params.get("q", ""))
        kind = kind_clean(request.query_params.get("kind"))
        user: Any = request.user
        searches_samples = kind != "finding" and not is_partner_viewer(user)
        # the samples ranked and whether more match: one bounded query (the first SEARCH_RANK_MAX + 1 matches)
        samples = search_sample_matches(user=user, q=q) if searches_samples else NO_SAMPLES
        paginator = self.pagination_class(count=search_hits_count(user=user, q=q, kind=kind, samples=samples))
        page = paginator.paginate_queryset(search_hits(user=user, q=q, kind=kind, samples=samples), request, view=self)
        results = search_results(user=user, q=q, hits=list(page or []))
        response = paginator.get_paginated_response(SearchResultSerializer(results, many=True).data)
        response.data["capped"] = samples.capped
        response.data["unindexed_samples"] = samples_unindexed_count(user=user) if searches_samples else 0
        return response
