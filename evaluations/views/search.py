"""The search page (issue 13 part 7): samples and findings the reader may see, ranked and highlighted."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import is_partner_viewer
from evaluations.forms.search import SearchForm
from evaluations.selectors.search import (
    NO_SAMPLES,
    UNINDEXED_COUNT_MAX,
    samples_unindexed_count,
    search_findings,
    search_hits,
    search_hits_count,
    search_query_clean,
    search_results,
    search_sample_matches,
)
from portal.forms import form_errors_add
from portal.pagination import page_of

GROUP_SIZE = {"finding": 5, "sample": 10}  # rows of each group when both are shown; "See all" pages through one


@login_required
@require_GET
def search_view(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET if request.GET else None)
    context: dict[str, object] = {"form": form, "q": "", "kind": "", "groups": [], "page": None,
                                  "partner": is_partner_viewer(request.user)}
    status = 200
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        try:
            q = search_query_clean(form.cleaned_data["q"])
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            kind = form.cleaned_data["kind"] or ""
            context.update(q=q, kind=kind)
            samples = NO_SAMPLES
            if not is_partner_viewer(request.user) and kind != "finding":
                # the first SEARCH_RANK_MAX matching samples found (newest first) are ranked (counted, and whether more match, in
                # one bounded query); unindexed samples are not found yet
                samples = search_sample_matches(user=request.user, q=q)
                context.update(capped=samples.capped, rank_max=settings.SEARCH_RANK_MAX,
                               unindexed=samples_unindexed_count(user=request.user),
                               unindexed_max=UNINDEXED_COUNT_MAX)
            if kind:
                count = search_hits_count(user=request.user, q=q, kind=kind, samples=samples)
                page = page_of(request, search_hits(user=request.user, q=q, kind=kind, samples=samples), count=count)
                context["page"] = page
                context["results"] = search_results(user=request.user, q=q, hits=list(page.object_list))
            else:
                groups = []
                kinds = ("finding",) if is_partner_viewer(request.user) else ("finding", "sample")
                for group in kinds:
                    hits = search_hits(user=request.user, q=q, kind=group, samples=samples)
                    rows = list(hits[:GROUP_SIZE[group]])
                    count = samples.count if group == "sample" else search_findings(user=request.user, q=q).count()
                    groups.append({"kind": group, "count": count,
                                   "results": search_results(user=request.user, q=q, hits=rows)})
                context["groups"] = groups
                context["groups_empty"] = not any(group["count"] for group in groups)
    if form.errors:
        status = 400
    return render(request, "evaluations/search/search.html", context, status=status)
