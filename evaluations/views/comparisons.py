"""The compare page (``runs/compare/``) and its CSV and JSON downloads (``runs/compare/export/``); reads only,
through ``selectors/comparisons.py`` (behind accounts.access: an item the reader may not see is a 404)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.gates import institute_member_required
from evaluations.forms.comparisons import CompareForm
from evaluations.reports.comparisons import comparison_csv, comparison_json
from evaluations.selectors.comparisons import (
    SIDE_BY_SIDE_PAGE,
    cluster_field_clean,
    comparison_build,
    comparison_clustering,
    comparison_figures,
    items_for_compare,
)
from portal.forms import form_errors_add
from portal.views import bad_request_response

EXPORT_FORMATS = {"csv": ("text/csv; charset=utf-8", comparison_csv), "json": ("application/json", comparison_json)}


def _values(request: HttpRequest) -> list[str]:
    return [v for v in request.GET.getlist("items") if v.strip()]


def _requested_cluster(request: HttpRequest) -> str | None:
    """The request's ``cluster`` (an empty one: by sample only), or None when it names none (then the
    evaluation version's declared field applies)."""
    return request.GET.get("cluster", "") if "cluster" in request.GET else None


@login_required
@institute_member_required
@require_GET
def compare_view(request: HttpRequest) -> HttpResponse:
    """The items checked on a run's or an exercise's page (``items`` given several times), or typed ids. The
    cluster field: the request's ``cluster`` when given (empty: by sample only), else the evaluation's own."""
    values = _values(request)
    requested = _requested_cluster(request)
    form = CompareForm({"items": ", ".join(values), "cluster": requested or ""})
    context: dict[str, Any] = {"form": form, "result": None, "items": []}
    code = 200
    if values and form.is_valid():
        try:
            items = items_for_compare(user=request.user, values=values)
            clustering = comparison_clustering(items=items, requested=None if requested is None
                                               else form.cleaned_data["cluster"])
            # the side by side's page: only its rows are built (the pagination counts the others)
            wanted = request.GET.get("page", "1")
            result = comparison_build(items=items, clustering=clustering,
                                      page=int(wanted) if wanted.isascii() and wanted.isdigit() and 0 < len(wanted) < 10 else 1)
        except ValidationError as exc:
            form_errors_add(form, exc)
            code = 400
        else:
            if requested is None:  # the form shows the field used: emptying it compares by sample only
                form = CompareForm({"items": ", ".join(values), "cluster": clustering.field})
                form.is_valid()
            pager = Paginator(range(result["samples"]["count"]), SIDE_BY_SIDE_PAGE)
            export = request.GET.copy()
            export.pop("page", None)
            export["cluster"] = clustering.field  # the download uses the clustering shown
            context.update(form=form, result=result, items=items, figures=comparison_figures(result),
                           samples_page=pager.get_page(result["samples"]["page"]),
                           export_query=export.urlencode())
    elif values:
        code = 400
    return render(request, "evaluations/comparisons/compare.html", context, status=code)


@login_required
@institute_member_required
@require_GET
def compare_export_view(request: HttpRequest) -> HttpResponse:
    """The comparison as CSV (``format=csv``, the default) or JSON (``format=json``), every sample of the side by
    side included; clustered as the page is (``cluster``, else the evaluation's declared field)."""
    kind = request.GET.get("format", "csv")
    if kind not in EXPORT_FORMATS:
        return bad_request_response(request, "Choose the format csv or json.", field="format")
    values = _values(request)
    if not values:
        return bad_request_response(request, "Give the ids of the items to compare.", field="items")
    try:
        requested = _requested_cluster(request)
        if requested is not None:
            cluster_field_clean(requested)  # a bad field name is said before the items are read
        items = items_for_compare(user=request.user, values=values)
        clustering = comparison_clustering(items=items, requested=requested)
    except ValidationError as exc:
        fields = {name: " ".join(messages) for name, messages in exc.message_dict.items()}
        return bad_request_response(request, " ".join(fields.values()), fields=fields)
    content_type, render_as = EXPORT_FORMATS[kind]
    response = HttpResponse(render_as(comparison_build(items=items, clustering=clustering, page=None)),
                            content_type=content_type)
    name = "comparison-" + "-".join(str(item.pk) for item in items)
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response
