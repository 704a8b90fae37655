"""Writes of the evaluation catalogue: tasks from Inspect's registry (validated against the task function's
signature) and custom evaluations from an uploaded CSV/JSONL dataset (validated row by row, streamed, stored with
its sha256). Editing makes a new TaskVersion; versions are never edited. Every write is audited."""

from __future__ import annotations

import codecs
import csv
import hashlib
import importlib
import inspect
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import IO, Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.uploadhandler import FileUploadHandler
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import APIException

from accounts.access import CREATE, DELETE, EDIT, VIEW, can, require
from evaluations.models import EvalTask, Exercise, ModelVersion, TaskVersion
from evaluations.selectors.common import exercises_user_may_add_to
from portal.audit import audit_record

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
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


def max_upload_bytes() -> int:
    return int(getattr(settings, "DATASET_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))


def _human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


class DatasetTooLarge(APIException):
    status_code = 413
    default_code = "dataset_too_large"

    def __init__(self) -> None:
        super().__init__(detail=f"The dataset is larger than the {_human_size(max_upload_bytes())} limit. "
                                "Split it into smaller files, or ask an operator to raise DATASET_UPLOAD_MAX_BYTES.")


class DatasetUploadLimitHandler(FileUploadHandler):
    """First upload handler of the dataset endpoints: refuses an oversized request from its Content-Length before
    reading the body, and stops a file part as soon as it passes the limit (so a 2 GB upload is never read)."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # type: ignore[no-untyped-def]  # noqa: N803
        if content_length and content_length > max_upload_bytes() + 1024 * 1024:
            raise DatasetTooLarge()
        return None

    def receive_data_chunk(self, raw_data, start):  # type: ignore[no-untyped-def]
        if start + len(raw_data) > max_upload_bytes():
            raise DatasetTooLarge()
        return raw_data

    def file_complete(self, file_size):  # type: ignore[no-untyped-def]
        return None


def install_upload_limit(request: HttpRequest) -> None:
    """Call before anything reads request.POST / request.FILES."""
    request.upload_handlers.insert(0, DatasetUploadLimitHandler(request))


# --- The catalogue of installed tasks -------------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogueEntry:
    name: str  # the registry name stored on TaskVersion and passed to Inspect
    title: str
    description: str
    source: str  # "portal" | "inspect_evals"
    needs_network: bool
    downloads: list[str] = field(default_factory=list)
    group: str = ""


@lru_cache(maxsize=1)
def catalogue_entries() -> tuple[CatalogueEntry, ...]:
    from evaluations.inspect_tasks import BUILTIN_TASKS

    entries = [
        CatalogueEntry(name=name, title=name.replace("_", " ").capitalize(),
                       description=(fn.__doc__ or "").strip(), source="portal", needs_network=False, group="Built-in")
        for name, fn in BUILTIN_TASKS.items()
    ]
    try:
        from inspect_evals.metadata import load_listing

        listing = load_listing()
    except Exception:  # inspect_evals missing or its listing unreadable: the built-ins still work
        listing = None
    for ev in listing.evals if listing is not None else []:
        ev = cast(Any, ev)
        downloads = [str(asset.source) for asset in (ev.external_assets or [])]
        for t in ev.tasks:
            entries.append(CatalogueEntry(
                name=f"inspect_evals/{t.name}", title=ev.title, description=" ".join(ev.description.split()),
                source="inspect_evals", needs_network=bool(downloads), downloads=downloads,
                group=str(getattr(ev.group, "value", ev.group) or ""),
            ))
    return tuple(entries)


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return next((e for e in catalogue_entries() if e.name == name), None)


def _inspect_evals_eval_id(task_name: str) -> str | None:
    from inspect_evals.metadata import load_listing

    for ev in load_listing().evals:
        if any(t.name == task_name for t in ev.tasks):
            return str(ev.id)
    return None


def task_function(registry_name: str) -> Callable[..., Any]:
    """The @task function of a catalogue entry."""
    if catalogue_entry(registry_name) is None:
        raise ValidationError(f"{registry_name!r} is not a task in the catalogue of installed tasks.")
    if "/" not in registry_name:
        from evaluations.inspect_tasks import BUILTIN_TASKS

        return BUILTIN_TASKS[registry_name]
    _, _, task_name = registry_name.partition("/")
    eval_id = _inspect_evals_eval_id(task_name)
    with_module = None
    try:
        with_module = importlib.import_module(f"inspect_evals.{eval_id}")
    except Exception:
        with_module = None
    fn = getattr(with_module, task_name, None) if with_module is not None else None
    if fn is None:
        from inspect_ai._util.registry import registry_lookup

        importlib.import_module("inspect_evals._registry")
        fn = registry_lookup("task", registry_name)
    if fn is None:
        raise ValidationError(f"The task {registry_name} is listed but cannot be loaded in this installation.")
    return cast(Callable[..., Any], fn)


def task_args_validate(*, registry_name: str, args: Any) -> dict[str, Any]:
    """Check ``args`` against the task function's signature: no unknown argument, every required one given,
    values JSON-serialisable."""
    if args in (None, ""):
        args = {}
    if not isinstance(args, dict):
        raise ValidationError({"args": ["Task arguments must be an object of argument names to values."]})
    return signature_check(fn=task_function(registry_name), registry_name=registry_name, args=args)


def signature_check(*, fn: Callable[..., Any], registry_name: str, args: dict[str, Any]) -> dict[str, Any]:
    signature = inspect.signature(fn)
    params = signature.parameters
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    errors = []
    for name in args:
        if name not in params and not accepts_kwargs:
            allowed = ", ".join(params) or "none"
            errors.append(f"{registry_name} has no argument {name!r} (its arguments: {allowed}).")
    for name, p in params.items():
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if p.default is inspect.Parameter.empty and name not in args:
            errors.append(f"{registry_name} needs the argument {name!r}.")
    try:
        json.dumps(args)
    except (TypeError, ValueError):
        errors.append("Task arguments must be JSON values.")
    if errors:
        raise ValidationError({"args": errors})
    return dict(args)


def task_parameters(registry_name: str) -> list[dict[str, Any]]:
    fn = task_function(registry_name)
    out = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        required = p.default is inspect.Parameter.empty
        out.append({"name": name, "required": required,
                    "default": None if required else repr(p.default),
                    "annotation": "" if p.annotation is inspect.Parameter.empty else str(p.annotation)})
    return out


# --- Uploaded datasets -----------------------------------------------------------------------------------------

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
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, kind):
        what = "a JSON list of strings, e.g. [\"A\", \"B\"]" if kind is list else "a JSON object, e.g. {\"k\": 1}"
        problems.append({"line": line, "column": column, "message": f"Enter {what}."})
        return None
    return parsed


def _check_row(row: dict[str, Any], line: int, problems: list[dict[str, Any]], ids: dict[str, int],
               needs_choices: bool) -> dict[str, Any] | None:
    start = len(problems)
    sample: dict[str, Any] = {}
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
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, {"__json__": exc.msg}
                continue
            yield number, obj


def dataset_parse(upload: IO[bytes], *, filename: str, needs_choices: bool = False,
                  keep_samples: bool = False) -> tuple[ParsedDataset, list[dict[str, Any]]]:
    """Validate every row of an uploaded dataset, streaming it (bounded memory unless keep_samples). Raises
    DatasetInvalid / DatasetTooLarge with clear messages."""
    fmt = dataset_format_for(filename)
    if hasattr(upload, "seek"):
        upload.seek(0)
    reader = _HashingReader(upload, max_upload_bytes())
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


def grader_model_for(version: TaskVersion) -> Any:
    from evaluations.credentials import credential_for
    from evaluations.services.registry import inspect_model_for

    grader = version.grader_model_version
    if grader is None:
        return None
    from evaluations.mock_outputs import mockllm_model_args

    return inspect_model_for(grader, credential_for(grader), **mockllm_model_args(grader.provider_model))


# --- Services --------------------------------------------------------------------------------------------------

def _exercises_validate(*, user: Any, exercises: list[Any]) -> list[Exercise]:
    ids = [e.pk if isinstance(e, Exercise) else int(e) for e in exercises or []]
    if not ids:
        raise ValidationError({"exercises": ["Choose at least one exercise."]})
    allowed = list(exercises_user_may_add_to(user).filter(pk__in=ids))
    if len(allowed) != len(set(ids)):
        raise ValidationError({"exercises": ["Choose exercises your institute takes part in."]})
    return allowed


def _name_validate(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": ["Enter a name of 1 to 200 characters."]})
    return name


def solver_scorer_validate(*, user: Any, solver: str, solver_args: dict[str, Any] | None, scorer: str,
                           scorer_args: dict[str, Any] | None, grader_model_version: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    solver = solver or "generate"
    solver_args = dict(solver_args or {})
    scorer_args = dict(scorer_args or {})
    if solver not in SOLVERS:
        errors["solver"] = [f"Choose a solver: {', '.join(SOLVERS)}."]
    if solver == "system_prompt_generate":
        prompt = (solver_args.get("system_prompt") or "").strip()
        if not prompt:
            errors["system_prompt"] = ["Enter the system prompt."]
        solver_args = {"system_prompt": prompt}
    else:
        solver_args = {}
    if scorer not in SCORERS:
        errors["scorer"] = [f"Choose a scorer: {', '.join(SCORERS)}."]
    grader = None
    if scorer == "pattern":
        regex = scorer_args.get("pattern") or ""
        try:
            compiled = re.compile(regex)
            if not regex or compiled.groups < 1:
                raise re.error("needs a group")
        except re.error:
            errors["pattern"] = ["Enter a regular expression with one group that captures the answer, e.g. ANSWER: (\\w+)."]
        scorer_args = {"pattern": regex}
    elif scorer == "model_graded_qa":
        mv = grader_model_version
        if mv in (None, ""):
            errors["grader_model_version"] = ["Choose the grader model."]
        else:
            from accounts.access import visible_to

            pk = mv.pk if isinstance(mv, ModelVersion) else mv
            grader = visible_to(user, ModelVersion.objects.all()).filter(
                pk=pk, registered_model__archived_at__isnull=True).first()
            if grader is None:
                errors["grader_model_version"] = ["Choose a grader model from the registry."]
        scorer_args = {}
    else:
        scorer_args = {}
    if scorer == "choice" and solver != "multiple_choice":
        errors["scorer"] = ["The choice scorer needs the multiple choice solver."]
    if errors:
        raise ValidationError(errors)
    return {"solver": solver, "solver_args": solver_args, "scorer": scorer, "scorer_args": scorer_args,
            "grader_model_version": grader}


def task_snapshot(task: EvalTask) -> dict[str, Any]:
    v = task.current_version
    return {
        "name": task.name, "description": task.description, "owner": task.owner_id,
        "exercises": sorted(task.exercises.values_list("pk", flat=True)),
        "archived": task.archived_at is not None,
        "version": None if v is None else {
            "number": v.number, "kind": v.kind, "registry_name": v.registry_name, "args": v.args,
            "dataset_sha256": v.dataset_sha256, "dataset_name": v.dataset_name, "sample_count": v.sample_count,
            "solver": v.solver, "solver_args": v.solver_args, "scorer": v.scorer, "scorer_args": v.scorer_args,
            "grader_model_version": v.grader_model_version_id,
        },
    }


def _save_dataset_version(*, eval_task: EvalTask, number: int, user: Any, upload: Any, parsed: ParsedDataset,
                          choice: dict[str, Any]) -> TaskVersion:
    version = TaskVersion(
        eval_task=eval_task, number=number, kind=TaskVersion.Kind.DATASET, registry_name="portal_dataset",
        dataset_sha256=parsed.sha256, sample_count=parsed.sample_count, dataset_format=parsed.format,
        dataset_name=PurePath(upload.name or "").name[:255], preview=parsed.preview, created_by=user,
        solver=choice["solver"], solver_args=choice["solver_args"], scorer=choice["scorer"],
        scorer_args=choice["scorer_args"], grader_model_version=choice["grader_model_version"],
    )
    upload.seek(0)
    version.dataset_file.save(f"{parsed.sha256}.{parsed.format}", File(upload), save=False)
    stored = str(version.dataset_file.name)
    try:
        version.save()
        version.args = {"task_version_id": version.pk}
        version.save(update_fields=["args"])
    except Exception:
        version.dataset_file.storage.delete(stored)
        raise
    _saved_files().append((stored, version.dataset_file.storage))
    return version


_local = threading.local()


def _saved_files() -> list[tuple[str, Any]]:
    if not hasattr(_local, "files"):
        _local.files = []
    return _local.files  # type: ignore[no-any-return]


def _atomic_with_file_cleanup(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a transaction; delete dataset files it saved if the transaction fails (nothing half-saved)."""
    files = _saved_files()
    mark = len(files)
    try:
        with transaction.atomic():
            result = fn()
    except BaseException:
        for name, storage in files[mark:]:
            storage.delete(name)
        raise
    finally:
        del files[mark:]
    return result


def task_create_registry(*, user: Any, name: str, exercises: list[Any], registry_name: str,
                         args: Any = None, description: str = "", request: HttpRequest | None = None) -> EvalTask:
    require(user, CREATE, EvalTask)
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, fn in [("name", lambda: _name_validate(name)),
                    ("exercises", lambda: _exercises_validate(user=user, exercises=exercises)),
                    ("args", lambda: task_args_validate(registry_name=registry_name, args=args))]:
        try:
            clean[key] = fn()
        except ValidationError as exc:
            for k, v in (exc.message_dict if hasattr(exc, "error_dict") else {"registry_name": exc.messages}).items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationError(errors)
    entry = catalogue_entry(registry_name)

    def create() -> EvalTask:
        task = EvalTask.objects.create(name=clean["name"], description=description or "", owner_id=user.organisation_id,
                                       created_by=user)
        task.exercises.set(clean["exercises"])
        TaskVersion.objects.create(eval_task=task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                   registry_name=registry_name, args=clean["args"], created_by=user,
                                   needs_network=bool(entry and entry.needs_network))
        audit_record(actor=user, action="task.create", obj=task, after=task_snapshot(task), request=request,
                     exercise_id=clean["exercises"][0].pk)
        return task

    return _atomic_with_file_cleanup(create)  # type: ignore[no-any-return]


def task_create_dataset(*, user: Any, name: str, exercises: list[Any], upload: Any, solver: str = "generate",
                        scorer: str = "includes", solver_args: dict[str, Any] | None = None,
                        scorer_args: dict[str, Any] | None = None, grader_model_version: Any = None,
                        description: str = "", request: HttpRequest | None = None) -> EvalTask:
    require(user, CREATE, EvalTask)
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, fn in [("name", lambda: _name_validate(name)),
                    ("exercises", lambda: _exercises_validate(user=user, exercises=exercises)),
                    ("choice", lambda: solver_scorer_validate(user=user, solver=solver, solver_args=solver_args,
                                                              scorer=scorer, scorer_args=scorer_args,
                                                              grader_model_version=grader_model_version))]:
        try:
            clean[key] = fn()
        except ValidationError as exc:
            for k, v in exc.message_dict.items():
                errors.setdefault(k, []).extend(v)
    if upload is None:
        errors.setdefault("dataset", []).append("Choose a CSV or JSONL file to upload.")
    elif "choice" in clean:
        try:
            clean["parsed"], _ = dataset_parse(
                upload, filename=upload.name,
                needs_choices="multiple_choice" in (clean["choice"]["solver"], clean["choice"]["scorer"])
                or clean["choice"]["scorer"] == "choice")
        except ValidationError as exc:
            for k, v in exc.message_dict.items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationError(errors)

    def create() -> EvalTask:
        task = EvalTask.objects.create(name=clean["name"], description=description or "", owner_id=user.organisation_id,
                                       created_by=user)
        task.exercises.set(clean["exercises"])
        _save_dataset_version(eval_task=task, number=1, user=user, upload=upload, parsed=clean["parsed"],
                              choice=clean["choice"])
        audit_record(actor=user, action="task.create", obj=task, after=task_snapshot(task), request=request,
                     exercise_id=clean["exercises"][0].pk)
        return task

    return _atomic_with_file_cleanup(create)  # type: ignore[no-any-return]


def task_update(*, user: Any, eval_task: EvalTask, request: HttpRequest | None = None,
                **changes: Any) -> tuple[EvalTask, TaskVersion | None]:
    """Name, description and exercises change in place; registry args, dataset, solver or scorer make a new
    version."""
    require(user, EDIT, eval_task)
    current = eval_task.current_version
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if "name" in changes:
        try:
            clean["name"] = _name_validate(changes["name"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if changes.get("exercises") is not None:
        try:
            clean["exercises"] = _exercises_validate(user=user, exercises=changes["exercises"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    new_values: dict[str, Any] | None = None
    upload = changes.get("upload")
    if current is not None and current.kind == TaskVersion.Kind.REGISTRY:
        if "args" in changes and changes["args"] is not None:
            try:
                args = task_args_validate(registry_name=current.registry_name, args=changes["args"])
                if args != current.args:
                    new_values = {"args": args}
            except ValidationError as exc:
                errors.update(exc.message_dict)
    elif current is not None:
        keys = ("solver", "solver_args", "scorer", "scorer_args", "grader_model_version")
        wanted = {
            "solver": changes.get("solver") or current.solver,
            "solver_args": changes["solver_args"] if changes.get("solver_args") is not None else current.solver_args,
            "scorer": changes.get("scorer") or current.scorer,
            "scorer_args": changes["scorer_args"] if changes.get("scorer_args") is not None else current.scorer_args,
            "grader_model_version": changes.get("grader_model_version") or current.grader_model_version_id,
        }
        try:
            choice = solver_scorer_validate(user=user, **wanted)
            parsed = None
            if upload is not None:
                parsed, _ = dataset_parse(upload, filename=str(upload.name or ""),
                                          needs_choices="multiple_choice" in (choice["solver"], choice["scorer"])
                                          or choice["scorer"] == "choice")
            changed = parsed is not None and parsed.sha256 != current.dataset_sha256
            for k in keys:
                old = current.grader_model_version if k == "grader_model_version" else getattr(current, k)
                if choice[k] != old:
                    changed = True
            if changed:
                new_values = {"choice": choice, "parsed": parsed}
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    def update() -> tuple[EvalTask, TaskVersion | None]:
        task = EvalTask.objects.select_for_update().get(pk=eval_task.pk)
        before = task_snapshot(task)
        if "name" in clean:
            task.name = clean["name"]
        if "description" in changes and changes["description"] is not None:
            task.description = changes["description"]
        task.save()
        if "exercises" in clean:
            task.exercises.set(clean["exercises"])
        version = None
        assert current is not None
        number = current.number + 1
        if new_values is not None and current.kind == TaskVersion.Kind.REGISTRY:
            version = TaskVersion.objects.create(eval_task=task, number=number, kind=current.kind,
                                                 registry_name=current.registry_name, args=new_values["args"],
                                                 needs_network=current.needs_network, created_by=user)
        elif new_values is not None:
            parsed = new_values["parsed"]
            if parsed is not None:
                version = _save_dataset_version(eval_task=task, number=number, user=user, upload=upload,
                                                parsed=parsed, choice=new_values["choice"])
            else:  # same file, new solver/scorer: the new version points at the same stored file
                c = new_values["choice"]
                version = TaskVersion.objects.create(
                    eval_task=task, number=number, kind=current.kind, registry_name="portal_dataset",
                    dataset_file=current.dataset_file.name, dataset_sha256=current.dataset_sha256,
                    dataset_name=current.dataset_name, dataset_format=current.dataset_format,
                    sample_count=current.sample_count, preview=current.preview, created_by=user,
                    solver=c["solver"], solver_args=c["solver_args"], scorer=c["scorer"],
                    scorer_args=c["scorer_args"], grader_model_version=c["grader_model_version"])
                version.args = {"task_version_id": version.pk}
                version.save(update_fields=["args"])
        after = task_snapshot(task)
        if after != before:
            audit_record(actor=user, action="task.update", obj=task, before=before, after=after, request=request,
                         exercise_id=after["exercises"][0] if after["exercises"] else None)
        return task, version

    return _atomic_with_file_cleanup(update)  # type: ignore[no-any-return]


@transaction.atomic
def task_archive(*, user: Any, eval_task: EvalTask, request: HttpRequest | None = None) -> None:
    task = EvalTask.objects.select_for_update().get(pk=eval_task.pk)
    require(user, DELETE, task)
    before = task_snapshot(task)
    task.archived_at = timezone.now()
    task.save(update_fields=["archived_at"])
    audit_record(actor=user, action="task.archive", obj=task, before=before, after=task_snapshot(task),
                 request=request, exercise_id=before["exercises"][0] if before["exercises"] else None)


def may_view(user: Any, obj: Any) -> bool:
    return can(user, VIEW, obj)

