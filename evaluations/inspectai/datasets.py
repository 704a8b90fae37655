"""Uploaded datasets (CSV or JSONL) of custom evaluations: validated row by row while streamed (bounded memory),
hashed with sha256, previewed; and re-read from storage by the ``portal_dataset`` task. Errors name the line and
the column. The solvers and scorers such an evaluation may use are listed here too (built by
``evaluations.inspectai.tasks``)."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError

from evaluations.models import TaskVersion
from portal.errors import TooLarge
from portal.parsers import JSONLimitError, JSONSyntaxError, json_loads

MAX_ROWS = 100_000
MAX_CELL_CHARS = 100_000
PREVIEW_ROWS = 5
MAX_REPORTED_ERRORS = 50

SOLVERS = {
    "generate": "Plain generation",
    "system_prompt_generate": "System prompt, then generation",
    "chain_of_thought": "Chain of thought, then generation",
    "multiple_choice": "Multiple choice",
}
SCORERS = {
    "exact": "Exact match",
    "includes": "Target included in the answer",
    "match": "Target at the start or end of the answer",
    "pattern": "Regular expression extracts the answer",
    "choice": "Multiple-choice letter",
    "model_graded_qa": "Model-graded (a grader model from the registry)",
}
COLUMNS = ("id", "input", "target", "choices", "metadata")
REQUIRED_COLUMNS = ("input", "target")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


class DatasetTooLarge(TooLarge):
    def __init__(self) -> None:
        super().__init__(f"The dataset is larger than the {_human_size(settings.DATASET_UPLOAD_MAX_BYTES)} limit. "
                         "Split it into smaller files, or ask an operator to raise DATASET_UPLOAD_MAX_BYTES.")


@dataclass
class ParsedDataset:
    format: str
    sha256: str
    size: int
    sample_count: int
    preview: list[dict[str, Any]]
    formula_cells: int = 0


class DatasetInvalid(ValidationError):
    """Errors of an uploaded dataset, each with its line number and column."""

    def __init__(self, problems: list[dict[str, Any]], total: int | None = None) -> None:
        self.problems = problems[:MAX_REPORTED_ERRORS]
        self.total = total if total is not None else len(problems)
        messages = [_problem_text(p) for p in self.problems]
        if self.total > len(self.problems):
            messages.append(f"… and {self.total - len(self.problems)} more problems.")
        super().__init__({"dataset": messages})


def _problem_text(p: dict[str, Any]) -> str:
    where = []
    if p.get("line"):
        where.append(f"line {p['line']}")
    if p.get("column"):
        where.append(f"column {p['column']}")
    return (", ".join(where).capitalize() + ": " if where else "") + p["message"]


class _HashingReader(io.RawIOBase):
    """Reads a binary file in chunks, hashing and counting what passes, refusing past the size limit."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        if not data:
            return 0
        self.size += len(data)
        if self.size > self.limit:
            raise DatasetTooLarge()
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def dataset_format_for(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise DatasetInvalid([{"message": "Upload a .csv or .jsonl file."}])


def _json_cell(value: str, kind: type, line: int, column: str, problems: list[dict[str, Any]]) -> Any:
    try:
        parsed = json_loads(value, root=column, nul_only=True)
    except JSONSyntaxError:
        parsed = None
    except JSONLimitError as exc:
        problems.append({"line": line, "column": column, "message": f"The JSON at {exc.field} {exc}"})
        return None
    if not isinstance(parsed, kind):
        what = "a JSON list of strings, e.g. [\"A\", \"B\"]" if kind is list else "a JSON object, e.g. {\"k\": 1}"
        problems.append({"line": line, "column": column, "message": f"Enter {what}."})
        return None
    return parsed


def _check_row(row: dict[str, Any], line: int, problems: list[dict[str, Any]], ids: dict[str, int],
               needs_choices: bool) -> dict[str, Any] | None:
    start = len(problems)
    sample: dict[str, Any] = {}
    for column in COLUMNS:
        cell = row.get(column)
        if isinstance(cell, str) and "\x00" in cell:
            problems.append({"line": line, "column": column, "message": "The cell contains a NUL character; remove it."})
    if len(problems) > start:
        return None
    value = row.get("input")
    if not isinstance(value, str) or not value.strip():
        problems.append({"line": line, "column": "input", "message": "Enter the input (it is empty)."})
    else:
        sample["input"] = value
    target = row.get("target")
    if isinstance(target, list) and target and all(isinstance(t, str) for t in target):
        sample["target"] = target
    elif isinstance(target, str | int | float) and not isinstance(target, bool) and str(target).strip():
        sample["target"] = str(target)
    else:
        problems.append({"line": line, "column": "target", "message": "Enter the target (a string or a list of strings)."})
    raw_id = row.get("id")
    if raw_id not in (None, ""):
        sid = str(raw_id).strip()
        if not sid or len(sid) > 200:
            problems.append({"line": line, "column": "id", "message": "Enter an id of 1 to 200 characters."})
        elif sid in ids:
            problems.append({"line": line, "column": "id",
                             "message": f"Duplicate id {sid!r} (first used on line {ids[sid]})."})
        else:
            ids[sid] = line
            sample["id"] = sid
    choices = row.get("choices")
    if choices not in (None, ""):
        if isinstance(choices, str):
            choices = _json_cell(choices, list, line, "choices", problems)
        if choices is not None:
            if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
                problems.append({"line": line, "column": "choices",
                                 "message": "Enter at least two choices, each a non-empty string."})
            else:
                sample["choices"] = choices
    elif needs_choices:
        problems.append({"line": line, "column": "choices",
                         "message": "Enter the choices: the chosen solver or scorer is multiple choice."})
    metadata = row.get("metadata")
    if metadata not in (None, ""):
        if isinstance(metadata, str):
            metadata = _json_cell(metadata, dict, line, "metadata", problems)
        if metadata is not None:
            if not isinstance(metadata, dict):
                problems.append({"line": line, "column": "metadata", "message": "Enter a JSON object."})
            else:
                sample["metadata"] = metadata
    for column in COLUMNS:
        v = row.get(column)
        if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
            problems.append({"line": line, "column": column,
                             "message": f"The cell is longer than {MAX_CELL_CHARS:,} characters."})
    return sample if len(problems) == start else None


def _iter_rows(reader: _HashingReader, fmt: str) -> Iterator[tuple[int, Any]]:
    """(line number, row dict) pairs, streamed. Raises DatasetInvalid for structural problems."""
    text = io.TextIOWrapper(io.BufferedReader(reader, buffer_size=64 * 1024), encoding="utf-8-sig",
                            errors="strict", newline="")
    if fmt == "csv":
        csv_reader = csv.reader(text)
        try:
            header = next(csv_reader, None)
        except csv.Error as exc:
            raise DatasetInvalid([{"line": 1, "message": f"The CSV header cannot be read: {exc}."}]) from None
        if header is None:
            raise DatasetInvalid([{"message": "The file is empty."}])
        header = [h.strip().lower() for h in header]
        unknown = [h for h in header if h not in COLUMNS]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        problems = []
        if missing:
            problems.append({"line": 1, "message": f"Missing column(s): {', '.join(missing)}. "
                                                  f"The columns are {', '.join(COLUMNS)} (input and target required)."})
        if unknown:
            problems.append({"line": 1, "message": f"Unknown column(s): {', '.join(unknown)}. "
                                                  f"Allowed: {', '.join(COLUMNS)}."})
        if len(set(header)) != len(header):
            problems.append({"line": 1, "message": "A column name appears twice."})
        if problems:
            raise DatasetInvalid(problems)
        while True:
            try:
                cells = next(csv_reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DatasetInvalid([{"line": csv_reader.line_num, "message": f"The CSV is malformed: {exc}."}]) from None
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield csv_reader.line_num, {"__width__": (len(cells), len(header))}
                continue
            yield csv_reader.line_num, dict(zip(header, cells, strict=True))
    else:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                obj = json_loads(line, nul_only=True)
            except JSONSyntaxError as exc:
                yield number, {"__json__": str(exc).removeprefix("is not valid JSON (").removesuffix(").")}
                continue
            except JSONLimitError as exc:  # nested past JSON_MAX_DEPTH, a NUL, a number out of range
                column = exc.field.split(".")[0].split("[")[0]
                yield number, {"__limit__": (column, f"{exc.field or 'The row'} {exc}")}
                continue
            yield number, obj


def dataset_parse(upload: IO[bytes], *, filename: str, needs_choices: bool = False,
                  keep_samples: bool = False) -> tuple[ParsedDataset, list[dict[str, Any]]]:
    """Validate every row of an uploaded dataset, streaming it (bounded memory unless keep_samples). Raises
    DatasetInvalid / DatasetTooLarge with clear messages."""
    fmt = dataset_format_for(filename)
    if hasattr(upload, "seek"):
        upload.seek(0)
    reader = _HashingReader(upload, settings.DATASET_UPLOAD_MAX_BYTES)
    problems: list[dict[str, Any]] = []
    ids: dict[str, int] = {}
    preview: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    count = 0
    formula_cells = 0
    seen_any = False
    try:
        for line, row in _iter_rows(reader, fmt):
            seen_any = True
            if not isinstance(row, dict):
                problems.append({"line": line, "message": "Each line must be a JSON object."})
                continue
            if "__json__" in row:
                problems.append({"line": line, "message": f"Not valid JSON: {row['__json__']}."})
                continue
            if "__limit__" in row:
                column, message = row["__limit__"]
                problems.append({"line": line, "column": column, "message": message})
                continue
            if "__width__" in row:
                got, want = row["__width__"]
                problems.append({"line": line, "message": f"The row has {got} cells; the header has {want}."})
                continue
            if fmt == "jsonl":
                unknown = sorted(k for k in row if k not in COLUMNS)
                missing = [c for c in REQUIRED_COLUMNS if c not in row]
                if missing:
                    problems.append({"line": line, "message": f"Missing field(s): {', '.join(missing)}."})
                    continue
                if unknown:
                    problems.append({"line": line, "message": f"Unknown field(s): {', '.join(unknown)}. "
                                                              f"Allowed: {', '.join(COLUMNS)}."})
                    continue
            sample = _check_row(row, line, problems, ids, needs_choices)
            count += 1
            if count > MAX_ROWS:
                raise DatasetInvalid([{"message": f"The dataset has more than {MAX_ROWS:,} samples."}])
            if sample is None:
                continue
            sample.setdefault("id", None)
            sample["line"] = line
            formula_cells += sum(1 for k in ("input", "target") if isinstance(sample.get(k), str)
                                 and sample[k].startswith(FORMULA_PREFIXES))
            if len(preview) < PREVIEW_ROWS:
                preview.append(dict(sample))
            if keep_samples:
                kept.append(sample)
    except UnicodeDecodeError:
        bad_line = _first_undecodable_line(upload)
        raise DatasetInvalid([{"line": bad_line, "message": "The file is not UTF-8 text. Save it as UTF-8 (\"CSV UTF-8\" "
                                                        "in spreadsheet programs) and upload it again."}]) from None
    if reader.size == 0 or not seen_any:
        raise DatasetInvalid([{"message": "The file is empty: it has no samples."}])
    if problems:
        raise DatasetInvalid(problems)
    if count == 0:
        raise DatasetInvalid([{"message": "The file has a header but no samples."}])
    # ids: given ids are kept; missing ones are numbered by line, avoiding clashes with given ones
    for collection in (preview, kept):
        for s in collection:
            if s["id"] is None:
                s["id"] = f"line-{s['line']}"
    parsed = ParsedDataset(format=fmt, sha256=reader.digest.hexdigest(), size=reader.size, sample_count=count,
                           preview=[{k: v for k, v in s.items() if k != "line"} for s in preview],
                           formula_cells=formula_cells)
    return parsed, kept


def _first_undecodable_line(upload: IO[bytes]) -> int | None:
    """The number of the first line that is not UTF-8 (streamed, one line at a time)."""
    if not hasattr(upload, "seek"):
        return None
    upload.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    for number, raw in enumerate(upload, start=1):
        try:
            decoder.decode(raw)
        except UnicodeDecodeError:
            return number
    return None


def dataset_samples_load(version: TaskVersion) -> list[dict[str, Any]]:
    """The samples of a dataset TaskVersion, re-read from the stored file (its sha256 is checked)."""
    with version.dataset_file.open("rb") as fh:
        parsed, samples = dataset_parse(fh, filename=version.dataset_name or str(version.dataset_file.name),
                                        keep_samples=True)
    if parsed.sha256 != version.dataset_sha256:
        raise ValidationError("The stored dataset file does not match its sha256; it has been changed on disk.")
    for s in samples:
        s.pop("line", None)
    return samples
