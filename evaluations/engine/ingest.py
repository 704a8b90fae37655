"""Streams an Inspect log into ``SampleRecord`` batches, and validates uploaded log files before import.

``ingest_log`` reads one sample at a time (bounded memory: at most ``batch_size`` records are alive at once;
``.eval`` logs through one open zip, see ``iter_eval_samples``; ``.json`` logs with ``read_eval_log_samples``) and hands batches to ``on_batch`` (the caller bulk-inserts them). Records are unique
per (sample_id, epoch), in the order the log holds them. Sample events are not ingested (the transcript page
reads them from the log on demand); messages are, in a compact JSON-safe form.

``validate_log_file`` checks a file someone uploads (import of a log made elsewhere) before anything is saved:
unknown format, truncated or corrupt zip, zip bomb (declared sizes and ratios are checked before anything is
decompressed), a zip or JSON that is not an Inspect log. It raises ``ValueError`` with a message for the user.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from evaluations.engine import LogSummary, SampleRecord

# limits for uploaded files (validate_log_file); a 100,000-sample .eval log of short samples is ~1.5 GB unpacked
MAX_UNCOMPRESSED_BYTES = 8 * 1024**3
MAX_ENTRY_BYTES = 512 * 1024**2
MAX_RATIO = 200  # uncompressed/compressed for one entry; Inspect's JSON compresses ~5-30x
MAX_ENTRIES = 1_000_000
MAX_JSON_BYTES = 2 * 1024**3
EVAL_MARKERS = ("header.json", "_journal/start.json")

_to_float: Callable[[Any], float] | None = None


def _value_to_float(value: Any) -> float | None:
    global _to_float
    if value is None or isinstance(value, dict | list | tuple):
        return None
    if _to_float is None:
        from inspect_ai.scorer import value_to_float

        _to_float = value_to_float()
    try:
        number = float(_to_float(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def json_safe(value: Any, *, max_str: int | None = None) -> Any:
    """Plain JSON types only (pydantic models dumped, NaN/inf as None, unknown objects as str)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if max_str is None or len(value) <= max_str else value[:max_str]
    if isinstance(value, dict):
        return {str(k): json_safe(v, max_str=max_str) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v, max_str=max_str) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return json_safe(dump(exclude_none=True), max_str=max_str)
    return str(value)


def _content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        kind = getattr(part, "type", None)
        if kind == "text":
            parts.append({"type": "text", "text": part.text})
        elif kind == "reasoning":
            parts.append({"type": "reasoning", "text": getattr(part, "reasoning", "") or ""})
        elif kind == "image":
            image = str(getattr(part, "image", ""))
            parts.append(
                {"type": "image", "image": image if not image.startswith("data:") else "(inline image)"}
            )
        else:
            parts.append(json_safe(part))
    return parts


def message_dict(message: Any) -> dict[str, Any]:
    """A compact JSON-safe chat message: role, content, and tool call fields when present."""
    out: dict[str, Any] = {"role": message.role, "content": _content(message.content)}
    if getattr(message, "source", None):
        out["source"] = message.source
    if message.role == "assistant":
        if getattr(message, "model", None):
            out["model"] = message.model
        calls = getattr(message, "tool_calls", None)
        if calls:
            out["tool_calls"] = [
                {"id": c.id, "function": c.function, "arguments": json_safe(c.arguments)} for c in calls
            ]
    elif message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["function"] = message.function
        if message.error is not None:
            out["error"] = {"type": message.error.type, "message": message.error.message}
    return out


def sample_record(sample: Any) -> SampleRecord:
    inp = sample.input if isinstance(sample.input, str) else [message_dict(m) for m in sample.input]
    scores: dict[str, Any] = {}
    for name, score in (sample.scores or {}).items():
        scores[name] = {
            "value": json_safe(score.value),
            "answer": score.answer,
            "explanation": score.explanation,
            "numeric": _value_to_float(score.value),
        }
    inp_tokens = out_tokens = total_tokens = 0
    for usage in (sample.model_usage or {}).values():
        inp_tokens += usage.input_tokens or 0
        out_tokens += usage.output_tokens or 0
        total_tokens += usage.total_tokens or 0
    return SampleRecord(
        sample_id=str(sample.id),
        epoch=int(sample.epoch),
        input=inp,
        target=json_safe(sample.target),
        output=sample.output.completion if sample.output is not None else "",
        scores=scores,
        input_tokens=inp_tokens,
        output_tokens=out_tokens,
        total_tokens=total_tokens,
        total_time=sample.total_time,
        working_time=sample.working_time,
        error=sample.error.message if sample.error is not None else None,
        messages=[message_dict(m) for m in sample.messages or []],
        metadata=json_safe(sample.metadata or {}),
    )


def metrics_of(results: Any) -> dict[str, Any]:
    """{scorer: {metric: value}} of a log's results (the item's metrics; the one place that reads them)."""
    metrics: dict[str, dict[str, Any]] = {}
    if results is None:
        return metrics
    for score in results.scores or []:
        values = metrics.setdefault(score.name, {})
        for name, metric in (score.metrics or {}).items():
            values[name] = json_safe(metric.value)
    return metrics


def log_summary(header: Any) -> LogSummary:
    results = header.results
    total = results.total_samples if results is not None else 0
    completed = results.completed_samples if results is not None else 0
    stats = header.stats
    return LogSummary(
        status=header.status,
        task=header.eval.task,
        model=header.eval.model,
        total_samples=total or 0,
        completed_samples=completed or 0,
        metrics=metrics_of(results),
        started_at=(stats.started_at or None) if stats is not None else None,
        completed_at=(stats.completed_at or None) if stats is not None else None,
        eval_id=header.eval.eval_id,
    )


def _deserializing_context() -> dict[str, Any]:
    try:
        from inspect_ai._util.constants import get_deserializing_context
    except ImportError:  # pragma: no cover - a later inspect-ai
        return {}
    return get_deserializing_context()


def iter_eval_samples(log_path: str, header: Any, *, keep_events: bool = False) -> Iterator[Any]:
    """EvalSamples of an ``.eval`` log, opening the zip once, in the header's (sample id, epoch) order.

    Inspect's ``read_eval_log_samples`` re-opens the zip and re-reads its central directory for every sample,
    so its cost per sample grows with the log (measured: 4 ms per sample in a 500-sample log, 25 ms in a
    5,000-sample one; hours for 100,000). This reads each member once and validates it the same way.
    Samples missing from the log (a cancelled or failed run) are skipped.
    """
    from inspect_ai.log import EvalSample, resolve_sample_attachments

    epochs = header.eval.config.epochs or 1
    with zipfile.ZipFile(log_path) as zf:
        names = set(zf.namelist())
        ids = header.eval.dataset.sample_ids
        if ids is not None:
            wanted = (f"samples/{sid}_epoch_{epoch}.json" for sid in ids for epoch in range(1, epochs + 1))
        else:  # very old logs: no id list in the header
            wanted = (n for n in zf.namelist() if n.startswith("samples/") and n.endswith(".json"))
        for name in wanted:
            if name not in names:
                continue
            data = json.loads(zf.read(name))
            if not keep_events:
                data.pop("events", None)
            sample = EvalSample.model_validate(data, context=_deserializing_context())
            if sample.attachments:
                sample = resolve_sample_attachments(sample, "full")
            yield sample


def iter_records(log_path: str, header: Any | None = None) -> Iterator[SampleRecord]:
    from inspect_ai.log import read_eval_log, read_eval_log_samples

    if header is None:
        header = read_eval_log(log_path, header_only=True)
    if zipfile.is_zipfile(log_path):
        samples: Iterator[Any] = iter_eval_samples(log_path, header)
    else:  # .json: Inspect streams it in one pass
        samples = read_eval_log_samples(
            log_path, all_samples_required=False, resolve_attachments=True, exclude_fields={"events"}
        )
    seen: set[tuple[str, int]] = set()
    for sample in samples:
        record = sample_record(sample)
        key = (record.sample_id, record.epoch)
        if key in seen:  # a log never holds one twice, but results must be unique per (sample, epoch)
            continue
        seen.add(key)
        yield record


def ingest_log(
    log_path: str, on_batch: Callable[[list[SampleRecord]], None], *, batch_size: int = 500
) -> LogSummary:
    from inspect_ai.log import read_eval_log

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    header = read_eval_log(log_path, header_only=True)
    batch: list[SampleRecord] = []
    for record in iter_records(log_path, header):
        batch.append(record)
        if len(batch) >= batch_size:
            on_batch(batch)
            batch = []
    if batch:
        on_batch(batch)
    return log_summary(header)


# ---------------------------------------------------------------------------------------------------------------
# validation of uploaded files


def _sniff(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        raise ValueError("The file is empty.")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "json"
    if head.startswith(b"\x1f\x8b"):
        raise ValueError("This is a gzip file, not an Inspect log: upload the .eval or .json log itself.")
    raise ValueError("Unknown file format: an Inspect log is an .eval file (a zip) or a .json file.")


def _check_zip(path: str) -> None:
    import inspect_ai.log  # noqa: F401 - installs Inspect's zstd support into zipfile (.eval members use it)

    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as ex:
        raise ValueError(
            "The .eval file is truncated or corrupt (its zip directory cannot be read); upload it again."
        ) from ex
    with zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        if not any(marker in names for marker in EVAL_MARKERS):
            raise ValueError("This zip file is not an Inspect .eval log (it has no header.json).")
        if len(infos) > MAX_ENTRIES:
            raise ValueError(f"The .eval file has too many entries ({len(infos)}; at most {MAX_ENTRIES}).")
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise ValueError("The .eval file is encrypted; Inspect logs are not.")
            total += info.file_size
            if info.file_size > MAX_ENTRY_BYTES:
                raise ValueError(
                    f"The .eval file looks like a zip bomb: {info.filename!r} would unpack to "
                    f"{info.file_size:,} bytes (at most {MAX_ENTRY_BYTES:,})."
                )
            if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise ValueError(
                    f"The .eval file looks like a zip bomb: {info.filename!r} is compressed "
                    f"{info.file_size // max(info.compress_size, 1):,} to 1 (at most {MAX_RATIO} to 1)."
                )
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ValueError(
                f"The .eval file looks like a zip bomb: it would unpack to {total:,} bytes "
                f"(at most {MAX_UNCOMPRESSED_BYTES:,})."
            )
        # sizes are now bounded (zipfile never yields more than the declared size): check every CRC
        try:
            bad = zf.testzip()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as ex:
            raise ValueError("The .eval file is truncated or corrupt; upload it again.") from ex
        except Exception as ex:  # zlib.error and friends
            raise ValueError("The .eval file is truncated or corrupt; upload it again.") from ex
        if bad is not None:
            raise ValueError(f"The .eval file is corrupt ({bad!r} fails its checksum); upload it again.")


def validate_log_file(log_path: str) -> LogSummary:
    """Checks an uploaded Inspect log; returns its summary or raises ValueError with a message for the user."""
    from inspect_ai.log import read_eval_log

    try:
        size = os.path.getsize(log_path)
    except OSError as ex:
        raise ValueError("The file cannot be read.") from ex
    kind = _sniff(log_path)
    if kind == "zip":
        _check_zip(log_path)
        fmt = "eval"
    else:
        if size > MAX_JSON_BYTES:
            raise ValueError(f"The .json log is too large ({size:,} bytes; at most {MAX_JSON_BYTES:,}).")
        _check_json_keys(log_path)
        fmt = "json"
    try:
        header = read_eval_log(log_path, header_only=True, format=fmt)  # type: ignore[arg-type]
    except Exception as ex:
        raise ValueError(
            f"This {'.eval' if fmt == 'eval' else '.json'} file is not a readable Inspect log "
            f"({type(ex).__name__})."
        ) from ex
    if not getattr(header.eval, "task", None) or not getattr(header.eval, "model", None):
        raise ValueError("This file is not an Inspect log (it names no task or model).")
    return log_summary(header)


def _check_json_keys(path: str) -> None:
    """A cheap look at both ends of a JSON file: an Inspect log is one object with "version" and "eval"."""
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8", errors="replace")
        f.seek(max(0, os.path.getsize(path) - 64))
        tail = f.read().rstrip()
    if not tail.endswith(b"}"):
        raise ValueError("The .json file is truncated (it does not end its JSON object); upload it again.")
    if '"eval"' not in head and '"version"' not in head:
        raise ValueError('This JSON file is not an Inspect log (it has no "version" or "eval" field).')
    if '"version"' in head and len(head) < 4096:
        # a small file: parse it all and check the shape
        try:
            data = json.loads(head)
        except json.JSONDecodeError as ex:
            raise ValueError("The .json file is truncated or not valid JSON.") from ex
        if not isinstance(data, dict) or "eval" not in data:
            raise ValueError('This JSON file is not an Inspect log (it has no "eval" section).')
