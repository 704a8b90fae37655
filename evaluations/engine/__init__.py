"""The execution engine: runs one run item with inspect-ai as a library, and streams a log into rows.

This package knows nothing of Django (import-linter checks it): the worker's service
(evaluations/services/execution.py, called by the Celery task in evaluations/tasks/runs.py) builds an ``ItemSpec``
from the database, passes ``Callbacks`` that write progress to the database, and ingests the log through
``ingest_log``.

Interface (stable; see docs/architecture.md):

    run_item(spec: ItemSpec, callbacks: Callbacks) -> ItemOutcome
        Runs in the calling process (one evaluation per process: Celery prefork children each run one).
        Credentials are passed for this call only (never via os.environ). Cancels within seconds when
        callbacks.should_cancel() turns True, leaving a readable log with status "cancelled".
        With spec.retry_log set, re-runs only the unfinished/errored samples of that log (inspect eval_retry).

    ingest_log(log_path: str, on_batch: Callable[[list[SampleRecord]], None], batch_size: int = 500) -> LogSummary
        Streams samples from an Inspect .eval/.json log in batches (bounded memory) and returns its summary.

    validate_log_file(log_path: str) -> LogSummary
        Checks an uploaded file before import (truncated zip, zip bomb, foreign JSON/zip, unknown format):
        raises ValueError with a message fit for the user; reads only headers and summaries.

How to call (the Celery task):
    - One run_item per process at a time (a second concurrent call raises RuntimeError); call it from a thread
      without a running event loop (a prefork child's main thread). It restores the root logger, Inspect's
      logger and sys.excepthook afterwards.
    - All callbacks of an item (on_start, on_sample, should_cancel) run in one dedicated thread, one at a time,
      in order, so they may do database I/O on one connection; when the item ends the engine calls the
      optional ``callbacks.on_end()`` in that thread (close the connection there). A callback that raises is logged and ignored; it never fails the item.
      A slow callback slows the evaluation (samples wait for on_sample): keep each to one short write.
    - should_cancel() is polled every 0.5 s: keep it cheap (one indexed SELECT of the item's cancel flag,
      or a Redis GET; or cache for a second). Cancel is seen within ~1 s and the log ends "cancelled".
    - on_sample may fire for a sample that a cancel interrupted (its error says so); the sample rows come from
      ingest_log only. A cancelled or failed item is retried with spec.retry_log = outcome.log_path; the new
      log holds every sample (old finished ones carried over), so ingest it with upserts on
      (item, sample_id, epoch). Keep the task module/file that the log names importable for retries.
    - spec.task: a registered @task name (module imported in the worker) or "path/to/file.py@name". Inspect
      records a task file relative to the working directory and a retry rebuilds the task from it, so run
      workers from the project root.
    - KeyboardInterrupt and Celery's SoftTimeLimitExceeded propagate (Inspect still writes its log as
      "cancelled"); every other failure comes back as an outcome with status "error" and a scrubbed message.
    - Never use Celery revoke(terminate=True) (it hung the pool); set the item's cancel flag instead.

Changes since the first version (additive only):
    ItemSpec.retry_on_error, ItemSpec.model_args; validate_log_file; SampleRecord/LogSummary unchanged;
    the optional Callbacks.on_end() (called in the callbacks' thread when the item ends).
    ItemSpec.endpoint_policy: the model (first run and retry) gets netguard's guarded HTTP client (no redirects,
    every connection resolved and checked against the policy, connected to the checked address); a provider that
    cannot be guarded, or a refused endpoint, ends the item with status "error" before Inspect starts.
    on_start(total_samples=...) reports the item's whole total (samples x epochs), also on a retry, where
    on_sample then fires only for the re-run samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ItemSpec:
    item_id: int
    model: str  # Inspect model string, e.g. "openai-api-completions/llamacpp/gemma3-270m" or "mockllm/model"
    task: str  # Inspect registry name (e.g. "arithmetic", "inspect_evals/gsm8k") or "path.py@name"
    log_dir: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # never logged, never in os.environ
    extra_headers: dict[str, str] = field(default_factory=dict, repr=False)
    model_config: dict[str, Any] = field(default_factory=dict)  # GenerateConfig fields
    task_args: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    sample_ids: list[str | int] | None = None
    epochs: int = 1
    max_samples: int | None = None
    max_connections: int | None = None
    seed: int | None = None
    token_limit: int | None = None
    fail_on_error: bool | float = False
    retry_on_error: int | None = None  # (added) re-run an errored sample up to N times inside the eval
    retry_log: str | None = None  # path of an earlier log of this item to retry
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # (added) extra provider args for get_model, e.g. mockllm's custom_outputs in tests; not for secrets
    model_args: dict[str, Any] = field(default_factory=dict, repr=False)
    # (added) the address policy (evaluations.engine.netguard.EndpointPolicy) checked right before every
    # connection the model makes; None (engine tests only) checks no address but still refuses redirects
    endpoint_policy: Any = None


@dataclass(frozen=True)
class SampleEvent:
    """Reported once per finished sample while the item runs (for live progress)."""

    sample_id: str | int
    epoch: int
    scores: dict[str, Any]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    error: str | None
    working_time: float | None


class Callbacks(Protocol):
    def on_start(self, *, total_samples: int | None) -> None: ...
    def on_sample(self, event: SampleEvent) -> None: ...
    def should_cancel(self) -> bool: ...


@dataclass(frozen=True)
class ItemOutcome:
    status: str  # "success" | "error" | "cancelled"
    log_path: str | None
    total_samples: int
    completed_samples: int
    metrics: dict[str, Any]  # {scorer: {metric: value}} incl. stderr where Inspect reports it
    error: str | None = None  # scrubbed of secrets


@dataclass(frozen=True)
class SampleRecord:
    sample_id: str
    epoch: int
    input: Any
    target: Any
    output: str
    scores: dict[str, Any]  # {scorer: {"value": ..., "answer": ..., "explanation": ..., "numeric": float|None}}
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_time: float | None
    working_time: float | None
    error: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogSummary:
    status: str
    task: str
    model: str
    total_samples: int
    completed_samples: int
    metrics: dict[str, Any]
    started_at: str | None
    completed_at: str | None
    eval_id: str


def run_item(spec: ItemSpec, callbacks: Callbacks) -> ItemOutcome:
    from evaluations.engine.runner import run_item as _run_item

    return _run_item(spec, callbacks)


def ingest_log(log_path: str, on_batch: Callable[[list[SampleRecord]], None], batch_size: int = 500) -> LogSummary:
    from evaluations.engine.ingest import ingest_log as _ingest_log

    return _ingest_log(log_path, on_batch, batch_size=batch_size)


def validate_log_file(log_path: str) -> LogSummary:
    from evaluations.engine.ingest import validate_log_file as _validate_log_file

    return _validate_log_file(log_path)
