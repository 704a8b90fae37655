"""Pages for regressions over time (issue 13): the trend of one model version × evaluation version in an exercise
(plot, data table, baseline) and choosing its baseline. Behind accounts.access: an exercise, model or item the
user may not see is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from accounts.access import can, get_visible_or_404
from accounts.gates import institute_member_required
from evaluations.forms.trends import BaselineForm
from evaluations.models import RunItem, TrendBaseline
from evaluations.plots.trend import Point, trend_svg
from evaluations.selectors.trends import trend_page
from evaluations.services.trends import trend_baseline_set
from portal.forms import form_errors_add
from portal.views import bad_request_response

PARAMS = (("exercise", "exercise"), ("model", "model version"), ("task", "evaluation version"))


def _params(request: HttpRequest) -> dict[str, int] | HttpResponse:
    values: dict[str, int] = {}
    for name, label in PARAMS:
        value = request.GET.get(name, "")
        if not value.isdigit() or len(value) > 18:
            return bad_request_response(request, f"Give the {label} as the number of its id, like {name}=3.",
                                        field=name)
        values[name] = int(value)
    return values


def trend_url(*, exercise_id: int, model_version_id: int, task_version_id: int) -> str:
    return (f"{reverse('trend')}?exercise={exercise_id}&model={model_version_id}&task={task_version_id}")


def _context(request: HttpRequest, params: dict[str, int], form: BaselineForm | None = None) -> dict[str, Any]:
    page = trend_page(user=request.user, exercise_id=params["exercise"], model_version_id=params["model"],
                      task_version_id=params["task"])
    for index, series in enumerate(page["series"]):
        points = [Point(label=f"{n + 1}. {row['run'].name}", mean=row["mean"], low=row["low"], high=row["high"],
                        baseline=row["baseline"], below=bool(row["regression"] and row["regression"].significant))
                  for n, row in enumerate(series["rows"])]
        # trend_svg escapes every text it writes
        series["svg"] = mark_safe(trend_svg(points, metric=series["label"], plot_id=f"trend-{index}"))  # noqa: S308  # nosemgrep: portal-mark-safe - SVG of evaluations/plots, which escapes every text
    page["may_set_baseline"] = can(request.user, "create", TrendBaseline(exercise=page["exercise"]))
    page["form"] = form or BaselineForm()
    page["params"] = params
    return page


@login_required
@institute_member_required
def trend_view(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    if isinstance(params, HttpResponse):
        return params
    return render(request, "evaluations/trends/detail.html", _context(request, params))


@login_required
@institute_member_required
@require_POST
def trend_baseline_view(request: HttpRequest) -> HttpResponse:
    """Make a finished item the baseline of its model × evaluation in its exercise; back to its trend."""
    form = BaselineForm(request.POST)
    if not form.is_valid() and "item" in form.errors:
        return bad_request_response(request, "Choose an item of this trend as the baseline.", field="item")
    item = get_visible_or_404(request.user, RunItem.objects.select_related("run"), pk=form.cleaned_data["item"])
    params = {"exercise": item.run.exercise_id, "model": item.model_version_id or 0,
              "task": item.task_version_id or 0}
    if form.errors:  # the reason is wrong: said beside its field on the trend page
        return render(request, "evaluations/trends/detail.html", _context(request, params, form), status=400)
    try:
        trend_baseline_set(actor=request.user, item=item, reason=form.cleaned_data.get("reason") or "",
                           request=request)
    except ValidationError as exc:
        form_errors_add(form, exc)
        return render(request, "evaluations/trends/detail.html", _context(request, params, form), status=400)
    messages.success(request, f"Run {item.run.name} is now the baseline: later results are tested against it.")
    return redirect(trend_url(exercise_id=params["exercise"], model_version_id=params["model"],
                              task_version_id=params["task"]))

