"""The one rule for CSV cells of every export (``evaluations.reports.csv`` builds the findings CSV with it). A cell
whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is neutralised with a leading
apostrophe, so that no spreadsheet reads it as a formula (OWASP "CSV injection")."""

from __future__ import annotations

import json
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "'" + text if text.startswith(_FORMULA_START) else text
