"""Reads for comparisons of run items (issue 13): which items may be compared, and the comparison itself.

Over two or more items of one evaluation version (or items imported from Inspect logs of the same task on the
same samples), for every metric found in the samples' ``scores``: each item's mean with its clustered interval,
every pair's paired difference with its interval, p-value (raw, Holm and Benjamini-Hochberg over all the
comparisons of the page) and a verdict in plain words, and the samples where the items disagree or errored. The
statistics are ``evaluations.statistics`` (pure; formulas in its docstrings and ``docs/statistics.md``).

Queries: a fixed number whatever the number of samples (the items, then one query for every item's samples, and
one for the imported items' sample ids when any are imported)."""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Aggregate, Case, F, Func, JSONField, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Left
from django.http import Http404
from django.urls import reverse

from accounts.access import visible_to
from evaluations.models import RunItem, SampleResult
from evaluations.plots.forest import ForestRow, difference_forest
from evaluations.plots.scores import Bar, histogram_bins, score_bars, score_histograms
from evaluations.statistics.estimates import DEFAULT_CONFIDENCE, mean_estimate
from evaluations.statistics.multiple import benjamini_hochberg, holm
from evaluations.statistics.paired import paired_compare

MAX_COMPARED = 20
SIDE_BY_SIDE_PAGE = 50
ALPHA = 1.0 - DEFAULT_CONFIDENCE
CLUSTER_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
ERROR_PREVIEW = 200
# Inspect's letter grades (inspect_ai.scorer.value_to_float)
_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0, "yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}


# --- Which items ---------------------------------------------------------------------------------------------

def _evaluation_key(item: RunItem) -> Any:
    return ("version", item.task_version_id) if item.task_version_id else ("import", item.task_label)


def items_for_compare(*, user: Any, values: list[str]) -> list[RunItem]:
    """The run items named by ``values`` (ids, each value one id or several comma-separated), in that order,
    ready to compare. ValidationError (on "items") for an id that is not a whole number, too many items, or
    items of different evaluation versions (their scores do not measure the same thing); items imported from
    Inspect logs (no evaluation version) compare when they ran the same task on the same samples. Http404 for an
    item the user may not see (as everywhere)."""
    parts = [part.strip() for value in values for part in str(value).split(",") if part.strip()]
    wrong = [part for part in parts if not part.isdigit()]
    if wrong:
        raise ValidationError({"items": f"Item ids are whole numbers, like 12: “{wrong[0][:40]}” is not one."})
    ids = list(dict.fromkeys(int(part) for part in parts))
    if len(ids) > MAX_COMPARED:
        raise ValidationError({"items": f"Choose at most {MAX_COMPARED} items to compare."})
    found = {item.pk: item for item in visible_to(user, RunItem.objects.filter(pk__in=ids).select_related(
        "model_version__registered_model", "task_version__eval_task"))}
    if len(found) != len(ids):
        raise Http404("No such run item.")
    items = [found[pk] for pk in ids]
    versions: dict[Any, list[RunItem]] = {}
    for item in items:
        versions.setdefault(_evaluation_key(item), []).append(item)
    if len(versions) > 1:
        kinds = "; ".join(f"{group[0].task_name} (item{'s' if len(group) > 1 else ''} "
                          f"{', '.join(str(i.pk) for i in group)})" for group in versions.values())
        raise ValidationError({"items": f"Choose items of one evaluation version: scores of different evaluations "
                                        f"or versions are not comparable. These are {kinds}."})
    imported = [item for item in items if not item.task_version_id]
    if len(imported) > 1:
        samples: dict[int, set[str]] = {item.pk: set() for item in imported}
        for item_id, sample_id in (SampleResult.objects.filter(item__in=imported)
                                   .values_list("item_id", "sample_id").distinct()):
            samples[item_id].add(sample_id)
        if len({frozenset(s) for s in samples.values()}) > 1:
            counts = ", ".join(f"item {pk}: {len(s)}" for pk, s in samples.items())
            raise ValidationError({"items": f"These items were imported from Inspect logs of {imported[0].task_name} "
                                            f"but scored different samples ({counts}), so they are not one "
                                            f"evaluation. Choose items that scored the same samples."})
    return items


def cluster_field_clean(value: str | None, *, field: str = "cluster") -> str:
    """A metadata field to cluster samples by ("" for none); ValidationError on ``field`` for anything but a
    field name."""
    value = (value or "").strip()
    if value and not CLUSTER_FIELD.match(value):
        raise ValidationError({field: "Enter a metadata field name of letters, digits, _ . or -, like passage_id "
                                      "(at most 100 characters)."})
    return value


@dataclass(frozen=True)
class Clustering:
    """The clustering a comparison uses and why: ``field`` ("" for by sample only); ``source`` "task" (the
    evaluation version declares it and the request named none), "request" (the request's ``cluster``, an empty
    one meaning by sample only) or "none" (neither); ``declared``: the evaluation version's own field."""

    field: str
    source: str
    declared: str

    def sentence(self) -> str:
        if self.source == "task":
            return f"Samples are clustered by {self.field}, as the evaluation declares."
        if self.source == "request" and self.field:
            if self.declared and self.declared != self.field:
                return (f"Samples are clustered by {self.field}, as asked (the evaluation declares "
                        f"{self.declared}).")
            return f"Samples are clustered by {self.field}, as asked."
        if self.source == "request" and self.declared:
            return f"Clustered by sample only, as asked (the evaluation declares {self.declared})."
        if self.source == "request":
            return "Clustered by sample only, as asked."
        return "Clustered by sample only: the evaluation declares no cluster field."


def comparison_clustering(*, items: list[RunItem], requested: str | None) -> Clustering:
    """The clustering of a comparison of ``items`` (as ``items_for_compare`` returns them, of one evaluation
    version): ``requested`` is the request's ``cluster`` parameter, ``None`` when the request has none — then
    the evaluation version's declared field (``TaskVersion.cluster_field``) applies. An empty ``requested`` means
    by sample only, whatever the evaluation declares. ValidationError on "cluster" for a bad field name. No
    query (``items_for_compare`` has read the versions)."""
    version = items[0].task_version if items and items[0].task_version_id else None
    declared = version.cluster_field if version is not None else ""
    if requested is None:
        return Clustering(field=declared, source="task" if declared else "none", declared=declared)
    return Clustering(field=cluster_field_clean(requested), source="request", declared=declared)


# --- Scores --------------------------------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if text in _LETTERS or text.lower() in _LETTERS:
            return _LETTERS.get(text, _LETTERS.get(text.lower()))
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def score_values(scores: Any, score: float | None = None) -> dict[str, float]:
    """Every metric of one sample's ``scores`` JSON as a number: ``{scorer: value}``, and ``{scorer/key: value}``
    for a scorer whose value is a dict. The portal's ingestion stores ``{scorer: {"value", "numeric", ...}}``; a
    bare value is read too. Nothing there but a ``score`` column: ``{"score": score}``."""
    out: dict[str, float] = {}
    if isinstance(scores, dict):
        for name, entry in scores.items():
            if type(entry) is dict:
                numeric = entry.get("numeric")
                if type(numeric) is float or type(numeric) is int:  # the ingested shape: the fast path
                    if math.isfinite(numeric):
                        out[name] = float(numeric)
                    continue
                value = entry.get("value") if "value" in entry else entry
                if type(value) is float or type(value) is int:  # {"value": 1.0}: the next fastest
                    if math.isfinite(value):
                        out[name] = float(value)
                    continue
            else:
                value = entry
            if isinstance(value, dict):
                for key, part in value.items():
                    number = _number(part)
                    if number is not None:
                        out[f"{name}/{key}"] = number
                continue
            number = _number(value)
            if number is not None:
                out[str(name)] = number
    if not out and score is not None and math.isfinite(score):
        out["score"] = float(score)
    return out


@dataclass(slots=True)
class _Sample:
    pk: int
    epoch: int
    values: dict[str, list[float]]
    error: str
    cluster: str | None
    error_epoch: int = 0
    _means: dict[str, float] | None = None

    def means(self) -> dict[str, float]:
        """Epochs averaged, by metric (computed once)."""
        if self._means is None:
            self._means = {name: (v[0] if len(v) == 1 else math.fsum(v) / len(v))
                           for name, v in self.values.items()}
        return self._means


class _JSONAggText(Aggregate):
    """PostgreSQL's ``json_agg(...)::text``: the group's values as the text of one JSON array (concatenated, not
    built as jsonb), decoded by the caller."""

    function = "JSON_AGG"
    template = "%(function)s(%(distinct)s%(expressions)s)::text"
    output_field = TextField()


def _samples_load(items: list[RunItem], cluster_field: str) -> dict[int, dict[str, _Sample]]:
    """Per item, per sample id: its scores by metric (one per epoch), the first epoch's error, the cluster label;
    one query for all items. PostgreSQL sends each item's rows as one JSON array of
    ``[pk, sample_id, epoch, scores, score, error preview(, cluster label)]``, decoded by one ``json.loads`` per
    item. Fetched row by row, with Django's JSONField converter decoding every ``scores``, two 10,000-sample items
    took 146 ms to fetch and decode (of 353 ms for the whole comparison); as one array per item, 85 ms."""
    parts: list[Any] = [F("pk"), F("sample_id"), F("epoch"), F("scores"), F("score"), Left(F("error"), ERROR_PREVIEW)]
    if cluster_field:
        parts.append(KeyTextTransform(cluster_field, "metadata"))
    row = Func(*parts, function="JSON_BUILD_ARRAY", output_field=JSONField())
    grouped = (SampleResult.objects.filter(item__in=items).order_by().values("item_id")
               .annotate(rows=_JSONAggText(row)).values_list("item_id", "rows"))
    out: dict[int, dict[str, _Sample]] = {item.pk: {} for item in items}
    for item_id, rows in grouped:
        _samples_fill(out[item_id], json.loads(rows), cluster_field)
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while tens of thousands of small objects are made (none of them cyclic):
    CPython would otherwise walk the whole heap again and again (loading 20,000 samples took 30 times as long as
    2,000)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _samples_fill(samples: dict[str, _Sample], rows: Iterable[list[Any]], cluster_field: str) -> None:
    """Into ``samples`` (one item's, by sample id): its rows, as ``_samples_load`` reads them."""
    for row in rows:
        pk, sample_id, epoch, scores, score, error = row[:6]
        sample = samples.get(sample_id)
        if sample is None:
            sample = samples[sample_id] = _Sample(pk=pk, epoch=epoch, values={}, error="",
                                                  cluster=row[6] if cluster_field else None)
        elif epoch < sample.epoch:  # the transcript linked is the first epoch's
            sample.pk, sample.epoch = pk, epoch
        # (JSON has no NaN: PostgreSQL sends a non-finite score as the string "NaN" or "Infinity")
        number = score if type(score) is float or type(score) is int else None
        for name, value in score_values(scores, number).items():
            sample.values.setdefault(name, []).append(value)
        if error and (not sample.error or epoch < sample.error_epoch):
            sample.error, sample.error_epoch = error, epoch


# --- Words ---------------------------------------------------------------------------------------------------

def _is_proportion(values: Iterable[float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values)


def _amount(value: float, *, points: bool) -> str:
    if points:
        number = abs(value) * 100
        return f"{number:.1f} point{'' if round(number, 1) == 1 else 's'}"
    return f"{abs(value):.3g}"


def _bound(value: float, *, points: bool) -> str:
    return f"{abs(value) * 100:.1f}" if points else f"{abs(value):.3g}"


def verdict_text(*, a: str, b: str, difference: float | None, ci: tuple[float, float] | list[float] | None,
                 p_value: float | None, p_holm: float | None, n: int, points: bool,
                 confidence: float = DEFAULT_CONFIDENCE) -> str:
    """"B is lower than A by 4.1 points, 95 % CI 1.2 to 7.0; significant after Holm correction." ``points``:
    scores are proportions, shown in percentage points."""
    if not n or difference is None:
        return f"{b} and {a} have no scored samples in common, so they cannot be compared."
    level = f"{round(confidence * 100)} %"
    if difference == 0 and (ci is None or (ci[0] == 0 and ci[1] == 0)):
        return f"{b} and {a} score the same on all {n} shared sample{'s' if n != 1 else ''}."
    if difference == 0:
        text = f"{b} and {a} have the same mean on the {n} shared samples"
    else:
        direction = "higher" if difference > 0 else "lower"
        text = f"{b} is {direction} than {a} by {_amount(difference, points=points)}"
    if ci is not None:
        low, high = ci
        if low > 0 or high < 0:
            near, far = sorted((abs(low), abs(high)))
            text += f", {level} CI {_bound(near, points=points)} to {_bound(far, points=points)}"
        else:
            text += (f", {level} CI from {_bound(low, points=points)} lower to {_bound(high, points=points)} "
                     f"higher")
    if p_holm is not None and p_holm < ALPHA:
        return text + "; significant after Holm correction."
    if p_value is not None and p_value < ALPHA:
        return text + "; significant on its own but not after Holm correction for the comparisons on this page."
    if p_value is None and ci is not None and ci[0] == ci[1]:
        return text + " on every shared sample, so there is no p-value."
    if p_value is None:
        return text + "; no p-value (too few samples)."
    return text + "; not significant (the difference may be chance)."


# --- The comparison ------------------------------------------------------------------------------------------

def _item_label(item: RunItem) -> str:
    return f"{item.model_name} (item {item.pk})"


def _mean_ci(estimate: Mapping[str, Any]) -> dict[str, Any]:
    """The compact shape CONTRACT.md's ``score`` and ``difference`` always had."""
    return {"n": estimate["n"], "mean": estimate["mean"], "stderr": estimate["stderr"], "ci95": estimate["ci"]}


def comparison_build(*, items: list[RunItem], cluster_field: str | None = None,
                     clustering: Clustering | None = None, page: int | None = 1,
                     page_size: int = SIDE_BY_SIDE_PAGE) -> dict[str, Any]:
    """The comparison of ``items`` (as ``items_for_compare`` returns them; the first is the baseline): see the
    module notes and ``CompareSerializer`` in ``api/comparisons.py`` for the shape. The clustering:
    ``clustering`` (``comparison_clustering``), else ``cluster_field`` as if the request named it ("" by sample
    only), else (neither) the evaluation version's declared field. ``page``: the page of the side by side (from
    1); ``None``: all its rows on one page (exports, and pages that paginate it themselves)."""
    if clustering is None:
        clustering = comparison_clustering(items=items, requested=cluster_field)
    with _gc_paused():
        result = _comparison_build(items=items, cluster_field=clustering.field, page=page, page_size=page_size)
    result["cluster_source"] = clustering.source
    result["cluster_declared"] = clustering.declared or None
    result["clustering"] = clustering.sentence()
    return result


def _comparison_build(*, items: list[RunItem], cluster_field: str, page: int | None,
                      page_size: int) -> dict[str, Any]:
    loaded = _samples_load(items, cluster_field)
    metric_names: list[str] = []
    for samples in loaded.values():
        for sample in samples.values():
            for name in sample.values:
                if name not in metric_names:
                    metric_names.append(name)
    metric_names.sort()  # (PostgreSQL's jsonb keeps no key order)
    clusters: dict[str, str] | None = None
    if cluster_field:
        clusters = {sid: s.cluster for samples in loaded.values() for sid, s in samples.items()
                    if s.cluster is not None}
    metrics: list[dict[str, Any]] = []
    differences: list[dict[str, Any]] = []
    per_metric_means: dict[str, dict[int, dict[str, float]]] = {}
    for name in metric_names:
        estimates: list[dict[str, Any]] = []
        means_by_item: dict[int, dict[str, float]] = {}
        all_values: list[float] = []
        for item in items:
            pairs = [(sid, v) for sid, s in loaded[item.pk].items() for v in s.values.get(name, ())]
            all_values.extend(v for _, v in pairs)
            estimate = mean_estimate(pairs, clusters=clusters).as_dict()
            estimates.append({"item": item.pk, **estimate})
            means_by_item[item.pk] = {sid: m[name] for sid, s in loaded[item.pk].items()
                                      if name in (m := s.means())}
        per_metric_means[name] = means_by_item
        points = _is_proportion(all_values)
        every = [v for means in means_by_item.values() for v in means.values()]
        distribution = [{"item": item.pk, "bins": [
            {"low": b.low, "high": b.high, "count": b.count, "name": b.label}
            for b in histogram_bins(list(means_by_item[item.pk].values()), proportion=points, within=every)]}
            for item in items]
        metrics.append({"name": name, "binary": all(e["binary"] for e in estimates if e["n"]),
                        "points": points, "estimates": estimates, "distribution": distribution})
        for a, b in combinations(items, 2):
            result = paired_compare(means_by_item[a.pk], means_by_item[b.pk], clusters=clusters).as_dict()
            differences.append({**result, "metric": name, "base": a.pk, "item": b.pk,
                                "base_model_name": a.model_name, "model_name": b.model_name,
                                "shared_samples": result["n"], "points": points,
                                "difference": _mean_ci({**result, "mean": result["difference"]})})
    for entry, p_holm, p_bh in zip(differences, holm([d["p_value"] for d in differences]),
                                   benjamini_hochberg([d["p_value"] for d in differences]), strict=True):
        entry["p_holm"], entry["p_bh"], entry["p_adjusted"] = p_holm, p_bh, p_holm
        entry["significant"] = p_holm is not None and p_holm < ALPHA
        by_pk = {item.pk: item for item in items}
        entry["verdict"] = verdict_text(
            a=_item_label(by_pk[entry["base"]]), b=_item_label(by_pk[entry["item"]]),
            difference=entry["difference"]["mean"], ci=entry["ci"], p_value=entry["p_value"], p_holm=p_holm,
            n=entry["shared_samples"], points=entry["points"], confidence=entry["confidence"])
    first = metric_names[0] if metric_names else None
    item_rows = []
    for index, item in enumerate(items):
        scores = {m["name"]: m["estimates"][index] for m in metrics}
        item_rows.append({
            "id": item.pk, "run": item.run_id, "model": item.model_label, "task": item.task_label,
            "model_name": item.model_name, "task_name": item.task_name,
            "model_version": item.model_version_id, "task_version": item.task_version_id, "metrics": item.metrics,
            "score": _mean_ci(scores[first]) if first else {"n": 0, "mean": None, "stderr": None, "ci95": None},
            "scores": scores,
        })
    return {
        "evaluation": items[0].task_name if items else "", "confidence": DEFAULT_CONFIDENCE,
        "cluster": cluster_field or None, "metric_names": metric_names, "items": item_rows, "metrics": metrics,
        "differences": differences,
        "samples": _side_by_side(items, loaded, metric_names, page=page, page_size=page_size),
    }


def comparison_figures(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per metric, its three plots as inline SVG (``evaluations.plots``): score bars with interval whiskers, the
    paired-difference forest plot (when there are pairs) and the score histograms. Safe markup: every text in
    them is escaped by ``plots/svg.py``."""
    from django.utils.safestring import mark_safe

    from evaluations.plots.scores import Bin

    items = {item["id"]: item for item in comparison["items"]}
    figures = []
    for index, metric in enumerate(comparison["metrics"]):
        name, points = metric["name"], metric["points"]
        bars = [Bar(label=_item_label_of(items[e["item"]]), mean=e["mean"], low=_ci_of(e["ci"], 0),
                    high=_ci_of(e["ci"], 1), n=e["n"]) for e in metric["estimates"]]
        pairs = [d for d in comparison["differences"] if d["metric"] == name]
        forest = [ForestRow(label=_item_label_of(items[d["item"]]), base=_item_label_of(items[d["base"]]),
                            difference=d["difference"]["mean"], low=_ci_of(d["ci"], 0), high=_ci_of(d["ci"], 1),
                            significant=d["significant"]) for d in pairs]
        series = [(_item_label_of(items[entry["item"]]),
                   [Bin(b["low"], b["high"], b["count"]) for b in entry["bins"]])
                  for entry in metric["distribution"]]
        figures.append({
            "name": name, "index": index,
            "bars": mark_safe(score_bars(bars, title=f"Mean {name} by item", id_prefix=f"plot-bars-{index}",  # noqa: S308  # nosemgrep: portal-mark-safe - SVG of evaluations/plots, which escapes every text
                                         percent=points)),
            "forest": mark_safe(difference_forest(  # noqa: S308 - escaped by plots/svg.py  # nosemgrep: portal-mark-safe - SVG of evaluations/plots
                forest, title=f"Paired differences in {name}", id_prefix=f"plot-forest-{index}",
                points=points)) if forest else "",
            "histograms": mark_safe(score_histograms(  # noqa: S308 - escaped by plots/svg.py  # nosemgrep: portal-mark-safe - SVG of evaluations/plots
                series, title=f"Distribution of {name} by item", id_prefix=f"plot-hist-{index}")),
            "bins": [b["name"] if b["low"] != b["high"] else f"{b['low']:.3g}"
                     for b in (metric["distribution"][0]["bins"] if metric["distribution"] else [])],
        })
    return figures


def _item_label_of(item: Mapping[str, Any]) -> str:
    return f"{item['model_name']} (item {item['id']})"


def _ci_of(ci: Any, index: int) -> float | None:
    return ci[index] if ci else None


def _natural(text: str) -> tuple[Any, ...]:
    """"s2" before "s10": digits compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text))


def _side_by_side(items: list[RunItem], loaded: dict[int, dict[str, _Sample]], metric_names: list[str], *,
                  page: int | None, page_size: int) -> dict[str, Any]:
    """The samples where the items' epoch-averaged scores differ on any metric, or any item errored, or some item
    lacks the sample, in sample id order ("s2" before "s10"); one page of them (``page`` from 1; ``None``: all),
    each with the transcript of every item. The rows of other pages are only counted, never built."""
    chosen = []
    for sid in dict.fromkeys(sid for item in items for sid in loaded[item.pk]):
        signature: Any = None
        differs = errored = False
        for item in items:
            sample = loaded[item.pk].get(sid)
            if sample is None:
                differs = True
                continue
            means = sample.means()
            own = tuple(means.get(n) for n in metric_names)
            differs = differs or (signature is not None and own != signature)
            signature = own if signature is None else signature
            errored = errored or bool(sample.error)
        if (differs and len(items) > 1) or errored:
            chosen.append((sid, differs, errored))
    chosen.sort(key=lambda row: _natural(row[0]))  # only the rows shown or counted, not every sample
    if page is None:
        pages, page, shown = 1, 1, chosen
    else:
        pages = max(1, math.ceil(len(chosen) / page_size))
        page = min(max(1, page), pages)
        shown = chosen[(page - 1) * page_size: page * page_size]
    placeholder = 2**62
    url_of = reverse("sample-detail", args=[placeholder]).replace(str(placeholder), "{}").format  # once
    rows = []
    for sid, differs, errored in shown:
        cells = []
        for item in items:
            sample = loaded[item.pk].get(sid)
            if sample is None:
                cells.append({"item": item.pk, "present": False, "scores": {}, "error": "", "sample": None,
                              "url": None})
            else:
                cells.append({"item": item.pk, "present": True, "scores": sample.means(), "error": sample.error,
                              "sample": sample.pk, "url": url_of(sample.pk)})
        rows.append({"sample_id": sid, "disagree": differs, "errored": errored, "cells": cells})
    return {"count": len(chosen), "page": page, "pages": pages,
            "page_size": page_size if page is not None and pages > 1 else max(page_size, len(rows)),
            "results": rows}


# --- The exercise report's results (staff only) -------------------------------------------------------------

REPORT_ITEMS_MAX = 100


def exercise_results(*, user: Any, exercise: Any) -> list[dict[str, Any]]:
    """Per evaluation of the exercise, the newest finished item of each model with its mean score (the ``score``
    column: the first scorer) and interval, clustered by the evaluation version's declared cluster field if any
    (``cluster``: that field, or None), for the exercise report. Institute members only (``visible_to``: a
    partner viewer sees no run item, so gets ``[]``). Two queries."""
    items = list(visible_to(user, RunItem.objects.filter(run__exercise=exercise, state__in=RunItem.FINISHED))
                 .select_related("model_version__registered_model", "task_version__eval_task")
                 .order_by("-run__created_at", "-pk")[:REPORT_ITEMS_MAX])
    newest: dict[tuple[Any, Any], RunItem] = {}
    for item in items:
        newest.setdefault((_evaluation_key(item), item.model_version_id or item.model_label), item)
    if not newest:
        return []
    scores: dict[int, list[tuple[str, float]]] = {item.pk: [] for item in newest.values()}  # score is not null
    # each evaluation version's declared cluster field (TaskVersion.cluster_field), read in the same query
    declared: dict[str, list[int]] = {}
    for item in newest.values():
        if item.task_version is not None and item.task_version.cluster_field:
            declared.setdefault(item.task_version.cluster_field, []).append(item.pk)
    rows_qs = SampleResult.objects.filter(item__in=list(newest.values()), score__isnull=False)
    if declared:
        rows_qs = rows_qs.annotate(cluster_label=Case(
            *[When(item_id__in=ids, then=KeyTextTransform(field, "metadata")) for field, ids in declared.items()],
            default=Value(None), output_field=TextField()))
    labels: dict[int, dict[str, str]] = {item.pk: {} for item in newest.values()}
    for row in rows_qs.values_list("item_id", "sample_id", "score", *(["cluster_label"] if declared else [])):
        scores[row[0]].append((row[1], float(row[2] or 0.0)))
        if declared and row[3] is not None:
            labels[row[0]][row[1]] = row[3]
    groups: dict[Any, list[RunItem]] = {}
    for item in newest.values():
        groups.setdefault(_evaluation_key(item), []).append(item)
    out = []
    for group in groups.values():
        cluster = group[0].task_version.cluster_field if group[0].task_version is not None else ""
        rows = []
        for item in sorted(group, key=lambda i: i.model_name.lower()):
            estimate = mean_estimate(scores[item.pk], clusters=labels[item.pk] if cluster else None)
            rows.append({"item": item.pk, "model": item.model_name, "provider_model": item.model_label,
                         "n": estimate.n, "mean": estimate.mean, "ci": list(estimate.ci) if estimate.ci else None,
                         "method": estimate.method})
        values = [v for item in group for _, v in scores[item.pk]]
        out.append({"evaluation": group[0].task_name, "points": _is_proportion(values), "rows": rows,
                    "cluster": cluster or None})
    return sorted(out, key=lambda g: g["evaluation"].lower())


def item_score_estimate(*, item: RunItem) -> dict[str, Any]:
    """One item's mean sample score (the ``score`` column: the first scorer) with its interval (epochs averaged
    per sample; Wilson for binary scores), in CONTRACT.md's ``score`` shape: ``n``, ``mean``, ``stderr``,
    ``ci95``. One query."""
    rows = SampleResult.objects.filter(item=item, score__isnull=False).values_list("sample_id", "score")
    return _mean_ci(mean_estimate([(sid, float(value)) for sid, value in rows if value is not None]).as_dict())
