"""A comparison of run items (``selectors.comparisons.comparison_build``) as CSV and JSON downloads. Pure of
models. One CSV row per item and metric ("estimate"), per pair and metric ("difference") and per sample shown in
the side by side ("sample"); every text cell neutralised against spreadsheet formulas (``tables.csv_cell``).
Every row carries the clustering used (``cluster_field``, empty for by sample only, and ``cluster_source``: task,
request or none); the JSON has it as ``cluster``, ``cluster_source``, ``cluster_declared`` and ``clustering``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evaluations.reports.tables import rows_to_csv

COLUMNS = [
    "row", "metric", "item", "model", "provider_model", "base_item", "base_model", "evaluation", "n", "clusters",
    "value", "ci_low", "ci_high", "stderr", "method", "p_value", "p_holm", "p_bh", "correlation",
    "bootstrap_low", "bootstrap_high", "verdict", "sample_id", "scores", "error", "cluster_field", "cluster_source",
]


def _ci(value: Any, index: int) -> Any:
    return value[index] if value else None


def comparison_rows(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = {item["id"]: item for item in comparison["items"]}
    rows: list[dict[str, Any]] = []
    for metric in comparison["metrics"]:
        for estimate in metric["estimates"]:
            item = items[estimate["item"]]
            rows.append({"row": "estimate", "metric": metric["name"], "item": item["id"],
                         "model": item["model_name"], "provider_model": item["model"],
                         "evaluation": item["task_name"], "n": estimate["n"], "clusters": estimate["clusters"],
                         "value": estimate["mean"], "ci_low": _ci(estimate["ci"], 0),
                         "ci_high": _ci(estimate["ci"], 1), "stderr": estimate["stderr"],
                         "method": estimate["method"]})
    for d in comparison["differences"]:
        rows.append({"row": "difference", "metric": d["metric"], "item": d["item"], "model": d["model_name"],
                     "provider_model": items[d["item"]]["model"], "base_item": d["base"],
                     "base_model": d["base_model_name"], "evaluation": comparison["evaluation"],
                     "n": d["shared_samples"], "clusters": d["clusters"], "value": d["difference"]["mean"],
                     "ci_low": _ci(d["ci"], 0), "ci_high": _ci(d["ci"], 1), "stderr": d["stderr"],
                     "method": d["test"], "p_value": d["p_value"], "p_holm": d["p_holm"], "p_bh": d["p_bh"],
                     "correlation": d["correlation"], "bootstrap_low": _ci(d["bootstrap_ci"], 0),
                     "bootstrap_high": _ci(d["bootstrap_ci"], 1), "verdict": d["verdict"]})
    for sample in comparison["samples"]["results"]:
        for cell in sample["cells"]:
            item = items[cell["item"]]
            rows.append({"row": "sample", "item": cell["item"], "model": item["model_name"],
                         "provider_model": item["model"], "evaluation": comparison["evaluation"],
                         "sample_id": sample["sample_id"],
                         "scores": json.dumps(cell["scores"], sort_keys=True) if cell["present"] else "",
                         "error": cell["error"] if cell["present"] else "not in this item"})
    clustering = {"cluster_field": comparison.get("cluster") or "",  # "" by sample only
                  "cluster_source": comparison.get("cluster_source") or ""}
    for row in rows:
        row.update(clustering)
    return rows


def comparison_csv(comparison: Mapping[str, Any]) -> str:
    return rows_to_csv(COLUMNS, comparison_rows(comparison))


def comparison_json(comparison: Mapping[str, Any]) -> str:
    return json.dumps(comparison, ensure_ascii=False, indent=2, default=str)
