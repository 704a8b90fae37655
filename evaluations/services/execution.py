"""Executing one run item in a worker: claim it with a lease, run the engine, stream progress to the database,
ingest the log into SampleResult rows, and finish the item and its run. The database row is the truth:
a claim is a conditional UPDATE (queued -> running), so two workers given the same item never both run it."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from evaluations import engine
from evaluations.credentials import credential_for, scrub
from evaluations.endpoints import endpoint_policy
from evaluations.engine.netguard import error_summary
from evaluations.inspectai.mock_outputs import mockllm_model_args
from evaluations.inspectai.model_factory import api_key_for
from evaluations.models import RunItem, SampleResult
from evaluations.models.runs import ItemState
from evaluations.services import dispatch, search, trends
from evaluations.services import runs as run_services

logger = logging.getLogger(__name__)

ITEM_ERROR_LENGTH = 500  # an item's error is kept as one line of at most this many characters
PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancel polls)
SAMPLE_FIELDS = [
    "input", "input_text", "target", "output", "scores", "score", "explanation", "input_tokens", "output_tokens",
    "total_tokens", "total_time", "working_time", "error", "messages", "metadata",
]


def worker_identity(hostname: str = "") -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def local_path(name: str) -> str:
    """A local file path for a storage name (downloaded to a temporary file when the storage is remote)."""
    try:
        return default_storage.path(name)
    except NotImplementedError:
        suffix = Path(name).suffix
        handle, tmp = tempfile.mkstemp(suffix=suffix)
        with os.fdopen(handle, "wb") as out, default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, out)
        return tmp


def _log_dir(item: RunItem) -> tuple[str, str]:
    """(a temporary directory on the worker's own disk for the engine's log, the log's storage prefix).

    Inspect writes its log there, never straight into the log storage: the finished log is then stored (copied
    into MEDIA_ROOT, or uploaded), tried again while the storage refuses it, so a full log disk (or S3 down) fails
    no evaluation and loses no sample."""
    return tempfile.mkdtemp(prefix="run-log-"), f"run-logs/{item.run_id}/{item.pk}/{item.attempts}"


def _store_log_retrying(log_path: str, prefix: str, callbacks: ItemCallbacks) -> str:
    """``_store_log``, tried again with a growing pause while the storage refuses the write (a full disk, the
    bucket down), for up to RUNS_LOG_STORE_RETRY_SECONDS; the lease is renewed meanwhile (the heartbeat runs)."""
    deadline = time.monotonic() + settings.RUNS_LOG_STORE_RETRY_SECONDS
    pause = 1.0
    while True:
        try:
            return _store_log(log_path, prefix)
        except Exception as exc:
            if callbacks.lease_lost:
                raise LeaseLost(f"item {callbacks.item.pk}: lease lost while storing its log") from exc
            if time.monotonic() + pause > deadline:
                raise LogNotStored(f"The log could not be stored: {type(exc).__name__}: {exc}") from exc
            logger.warning("item %s: storing the log failed (%s); trying again in %.0f s", callbacks.item.pk,
                           exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


class LogNotStored(Exception):
    """The log storage refused the item's log for longer than RUNS_LOG_STORE_RETRY_SECONDS."""


def _store_log(log_path: str, prefix: str) -> str:
    """Store the engine's log under ``prefix`` (a copy into MEDIA_ROOT, or an upload); its storage name."""
    name = f"{prefix}/{Path(log_path).name}"
    try:
        with open(log_path, "rb") as handle:
            return default_storage.save(name, File(handle))
    except Exception:
        # A write refused half-way (a full disk) leaves a partial file under the name: remove it, so that the
        # next try stores the log under that same name and nothing half-written stays in the storage.
        with contextlib.suppress(Exception):
            if default_storage.exists(name):
                default_storage.delete(name)
        raise


def _numeric_score(scores: dict[str, Any]) -> float | None:
    for value in scores.values():
        if isinstance(value, dict) and value.get("numeric") is not None:
            try:
                return float(value["numeric"])
            except (TypeError, ValueError):
                return None
    return None


def _explanation(scores: dict[str, Any]) -> str:
    for value in scores.values():
        if isinstance(value, dict) and value.get("explanation"):
            return str(value["explanation"])
    return ""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for message in value:
            content = message.get("content") if isinstance(message, dict) else message
            parts.append(content if isinstance(content, str) else str(content))
        return "\n".join(parts)
    return "" if value is None else str(value)


def sample_rows(item_id: int, records: list[engine.SampleRecord], secrets: list[str] | None = None,
                ) -> list[SampleResult]:
    """Rows for ingested samples; a sample's error (text from a model endpoint) is kept as a short summary,
    scrubbed of ``secrets``."""
    return [
        SampleResult(
            item_id=item_id, sample_id=str(r.sample_id)[:300], epoch=r.epoch, input=r.input,
            input_text=_text(r.input), target=r.target, output=r.output or "", scores=r.scores,
            score=_numeric_score(r.scores), explanation=_explanation(r.scores), input_tokens=r.input_tokens,
            output_tokens=r.output_tokens, total_tokens=r.total_tokens, total_time=r.total_time,
            working_time=r.working_time, error=error_summary(r.error, lambda t: scrub(t, secrets or [])),
            messages=r.messages, metadata=r.metadata,
        )
        for r in records
    ]


class LeaseLost(Exception):
    """The item's lease went to another worker (this one was stopped or cut off too long): write nothing more."""


def samples_ingest(*, item_id: int, log_path: str, batch_size: int = 500, secrets: list[str] | None = None,
                   owner: str | None = None) -> engine.LogSummary:
    """Stream a log into SampleResult rows in batches. Unique per (item, sample id, epoch): a second ingest of
    the same log writes nothing twice, and a retry's log replaces the rows of the samples it re-ran.

    The rows are not searchable yet: the search indexing task is sent once they are (``services.search``).

    ``owner`` (a worker): each batch is written in one transaction with the item's row locked, only while that
    worker still holds the item's lease; otherwise ``LeaseLost`` is raised and nothing more is written (a worker
    resumed after its lease expired never overwrites the samples of the worker that took the item over)."""

    batches = 0

    def on_batch(records: list[engine.SampleRecord]) -> None:
        nonlocal batches
        batches += 1
        with transaction.atomic():
            if owner is not None:
                # A worker stopped (SIGSTOP) inside this transaction would hold the item's row lock for ever:
                # the server ends such a transaction after 30 s idle, and the write fails on resume.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL idle_in_transaction_session_timeout = '30s'")
            if owner is not None and not list(RunItem.objects.select_for_update().filter(
                    pk=item_id, state=ItemState.RUNNING, lease_owner=owner).values_list("pk", flat=True)):
                raise LeaseLost(f"item {item_id}: the lease of {owner} is gone")
            SampleResult.objects.bulk_create(
                sample_rows(item_id, records, secrets), batch_size=batch_size, update_conflicts=True,
                unique_fields=["item", "sample_id", "epoch"], update_fields=SAMPLE_FIELDS,
            )
            if settings.RUNS_INGEST_PAUSE_MS:  # test-only, 0 by default: the fault suite stops a worker here
                logger.warning("item %s: ingestion batch %d (%d samples) written, not committed; pausing %d ms",
                               item_id, batches, len(records), settings.RUNS_INGEST_PAUSE_MS)
                time.sleep(settings.RUNS_INGEST_PAUSE_MS / 1000)

    summary = engine.ingest_log(log_path, on_batch, batch_size=batch_size)
    # Search indexing is not on the insert path (migration 0012): a task fills the rows' vectors once they are in
    # (after the caller's transaction commits: at once for a worker, at the end of an import).
    search.samples_index_on_commit(item_id=item_id)
    return summary


def item_cost(item: RunItem, input_tokens: int, output_tokens: int) -> Decimal:
    mv = item.model_version
    if mv is None:
        return Decimal(0)
    cost = Decimal(0)
    if mv.price_input_per_million:
        cost += mv.price_input_per_million * input_tokens / Decimal(1_000_000)
    if mv.price_output_per_million:
        cost += mv.price_output_per_million * output_tokens / Decimal(1_000_000)
    return cost


@dataclass
class ItemCallbacks:
    """Engine callbacks: progress goes to the database from a heartbeat thread every PROGRESS_INTERVAL (with F()
    updates), which also renews the lease and reads the cancel flag; ``should_cancel`` only reads a flag."""

    item: RunItem
    owner: str
    lease: int
    token_budget: int | None = None
    cost_budget: Decimal | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[str, Any] = field(default_factory=dict)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = field(default_factory=time.monotonic)
    total: int | None = None
    done: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)
    lease_lost: bool = False
    budget_exceeded: str = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._heartbeat, name=f"item-{self.item.pk}-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    # Engine interface
    def on_start(self, *, total_samples: int | None) -> None:
        with self._lock:
            self.total = total_samples
            self._pending["total_samples"] = total_samples

    def on_sample(self, event: engine.SampleEvent) -> None:
        cost = item_cost(self.item, event.input_tokens, event.output_tokens)
        with self._lock:
            self.done += 1
            self.tokens += event.total_tokens
            self.cost += cost
            p = self._pending
            p["done"] = p.get("done", 0) + 1
            p["errors"] = p.get("errors", 0) + (1 if event.error else 0)
            p["input_tokens"] = p.get("input_tokens", 0) + event.input_tokens
            p["output_tokens"] = p.get("output_tokens", 0) + event.output_tokens
            p["cost"] = p.get("cost", Decimal(0)) + cost
            if self.token_budget and self.tokens >= self.token_budget:
                self.budget_exceeded = f"The run's token budget ({self.token_budget}) was reached."
            if self.cost_budget and self.cost >= self.cost_budget:
                self.budget_exceeded = f"The run's cost budget ({self.cost_budget}) was reached."
            if self.budget_exceeded:
                self._cancel.set()

    def should_cancel(self) -> bool:
        return self._cancel.is_set()

    def on_end(self) -> None:
        """In the engine's callbacks thread, once the item ends: close the connection the callbacks used."""
        connections.close_all()

    # Database side
    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            done, total = self.done, self.total
        updates: dict[str, Any] = {"lease_expires_at": timezone.now() + timedelta(seconds=self.lease)}
        if "total_samples" in pending:
            updates["total_samples"] = pending["total_samples"]
        for column, key in (("done_samples", "done"), ("error_samples", "errors"), ("input_tokens", "input_tokens"),
                            ("output_tokens", "output_tokens"), ("cost", "cost")):
            if pending.get(key):
                updates[column] = F(column) + pending[key]
        if total and done:
            elapsed = time.monotonic() - self._started
            updates["eta_seconds"] = int(elapsed / done * max(total - done, 0))
        renewed = RunItem.objects.filter(pk=self.item.pk, state=ItemState.RUNNING, lease_owner=self.owner).update(
            **updates)
        if not renewed:
            self.lease_lost = True
            self._cancel.set()
            return
        if RunItem.objects.filter(pk=self.item.pk, cancel_requested_at__isnull=False).exists():
            self._cancel.set()

    def _heartbeat(self) -> None:
        try:
            while not self._stop.wait(PROGRESS_INTERVAL):
                try:
                    self.flush()
                except Exception:  # a database blip: log it, drop the broken connection, try again next tick
                    logger.exception("progress write for item %s failed", self.item.pk)
                    close_old_connections()
        finally:
            connection.close()


def item_claim(*, item_id: int, owner: str) -> RunItem | None:
    """queued -> running with a lease for ``owner``; None when another worker has it or it needs no run."""
    now = timezone.now()
    item = RunItem.objects.filter(pk=item_id).select_related("run").first()
    if item is None:
        return None
    if item.cancel_requested_at is not None and item.state == ItemState.QUEUED:
        RunItem.objects.filter(pk=item_id, state=ItemState.QUEUED).update(state=ItemState.CANCELLED, finished_at=now)
        run_services.run_refresh_state(run_id=item.run_id)
        return None
    # A retry continues from its earlier log: the samples already kept count as done.
    kept = SampleResult.objects.filter(item_id=item_id, error="").count() if item.previous_log_path else 0
    fresh: dict[str, Any] = {} if item.previous_log_path else {"input_tokens": 0, "output_tokens": 0, "cost": 0}
    claimed = RunItem.objects.filter(
        # queued; or ours already (a retry after a database error); or a dead worker's whose lease ran out
        Q(state=ItemState.QUEUED) | Q(state=ItemState.RUNNING, lease_owner=owner)
        | Q(state=ItemState.RUNNING, lease_expires_at__lt=now, cancel_requested_at__isnull=True), pk=item_id,
    ).update(state=ItemState.RUNNING, lease_owner=owner, attempts=F("attempts") + 1, started_at=now,
             lease_expires_at=now + timedelta(seconds=settings.RUNS_LEASE_SECONDS),
             done_samples=kept, error_samples=0, eta_seconds=None, **fresh)
    if not claimed:
        return None
    run_services.run_refresh_state(run_id=item.run_id)
    return RunItem.objects.select_related("run", "model_version", "task_version").get(pk=item_id)


def item_spec(item: RunItem, log_dir: str) -> engine.ItemSpec:
    run = item.run
    mv, tv = item.model_version, item.task_version
    if mv is None or tv is None:
        raise ValueError("This item has no model version or evaluation to run.")
    credential = credential_for(mv)
    if tv.kind == tv.Kind.DATASET:
        task, task_args = "portal_dataset", {"task_version_id": tv.pk}
    else:
        task, task_args = tv.registry_name, dict(tv.args or {})
    connections = min(run.max_connections or mv.max_connections, mv.max_connections)
    fail_on_error: bool | float = False
    if run.fail_on_error is not None:
        fail_on_error = True if run.fail_on_error == 0 else float(run.fail_on_error)
    return engine.ItemSpec(
        item_id=item.pk, model=mv.provider_model, task=task, log_dir=log_dir, base_url=mv.base_url or None,
        api_key=api_key_for(mv.provider_model, credential),
        extra_headers=dict(credential.headers) if credential else {},
        model_config=dict(mv.config or {}), task_args=task_args, limit=run.limit,
        sample_ids=list(run.sample_ids) or None, epochs=run.epochs, max_samples=run.max_samples,
        max_connections=connections, seed=run.seed, fail_on_error=fail_on_error,
        retry_log=local_path(item.previous_log_path) if item.previous_log_path else None,
        tags=[f"run:{run.pk}", f"item:{item.pk}"],
        metadata={"portal_run": run.pk, "portal_item": item.pk, "exercise": run.exercise_id},
        model_args=mockllm_model_args(mv.provider_model),
        endpoint_policy=endpoint_policy(),
    )


def item_execute(*, item_id: int, hostname: str = "") -> str | None:
    """The whole life of one item in a worker. Returns the item's final state, or None when nothing was done."""
    owner = worker_identity(hostname)
    item = item_claim(item_id=item_id, owner=owner)
    if item is None:
        return None
    log_dir, prefix = _log_dir(item)
    try:
        return _item_run(item=item, owner=owner, log_dir=log_dir, prefix=prefix)
    finally:  # the log is stored (or the item failed): nothing stays on the worker
        shutil.rmtree(log_dir, ignore_errors=True)


def _item_run(*, item: RunItem, owner: str, log_dir: str, prefix: str) -> str | None:
    item_id = item.pk
    run = item.run
    # Budgets are the run's: what its other items already used is taken off this item's share.
    others = RunItem.objects.filter(run=run).exclude(pk=item.pk).aggregate(
        tokens=Sum(F("input_tokens") + F("output_tokens")), cost=Sum("cost"))
    token_budget = max(run.token_budget - (others["tokens"] or 0), 1) if run.token_budget else None
    cost_budget = max(run.cost_budget - (others["cost"] or 0), Decimal("0.000001")) if run.cost_budget else None
    callbacks = ItemCallbacks(item=item, owner=owner, lease=settings.RUNS_LEASE_SECONDS,
                              token_budget=token_budget, cost_budget=cost_budget)
    outcome: engine.ItemOutcome | None = None
    error = ""
    secrets: list[str] = []
    log_name = ""
    metrics: dict[str, Any] = {}
    # The heartbeat renews the lease until the item is finished: through the engine, the ingestion and the
    # storing of the log (either may take longer than a lease), so the reconciler never re-queues a live item.
    callbacks.start()
    try:
        try:
            import evaluations.inspectai.tasks  # noqa: F401 - registers the built-in @task functions (also retries)

            spec = item_spec(item, log_dir)
            secrets = [spec.api_key or "", *spec.extra_headers.values()]
            outcome = engine.run_item(spec, callbacks)
        except Exception as exc:
            logger.exception("item %s failed", item_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            close_old_connections()
        if callbacks.lease_lost:
            raise LeaseLost(f"item {item_id}: lease lost while it ran")
        if outcome is not None:
            error = outcome.error or ""
            metrics = outcome.metrics or {}
            state = {"success": ItemState.SUCCEEDED, "cancelled": ItemState.CANCELLED}.get(outcome.status,
                                                                                            ItemState.FAILED)
            if outcome.log_path and Path(outcome.log_path).exists():
                samples_ingest(item_id=item.pk, log_path=outcome.log_path, secrets=secrets, owner=owner)
                try:
                    log_name = _store_log_retrying(outcome.log_path, prefix, callbacks)
                except LogNotStored as exc:
                    state, error = ItemState.FAILED, str(exc)
            if callbacks.budget_exceeded:
                state, error = ItemState.FAILED, callbacks.budget_exceeded
        else:
            state = ItemState.FAILED
    except LeaseLost:
        logger.warning("item %s: lease lost; another worker owns it now, this one writes nothing more", item_id)
        return None
    finally:
        callbacks.stop()
    if callbacks.lease_lost:
        logger.warning("item %s: lease lost before it finished; another worker owns it now", item_id)
        return None
    error = error_summary(error, lambda t: scrub(t, secrets), limit=ITEM_ERROR_LENGTH)
    return item_finish(item=item, owner=owner, state=state, log_name=log_name, metrics=metrics, error=error)


@transaction.atomic
def item_finish(*, item: RunItem, owner: str, state: str, log_name: str, metrics: dict[str, Any],
                error: str) -> str | None:
    now = timezone.now()
    rows = SampleResult.objects.filter(item=item)
    updated = RunItem.objects.filter(pk=item.pk, state=ItemState.RUNNING, lease_owner=owner).update(
        state=state, log_path=log_name or F("log_path"), metrics=metrics, error=error, finished_at=now,
        lease_owner="", lease_expires_at=None, eta_seconds=0,
        done_samples=rows.count() or F("done_samples"), error_samples=rows.exclude(error="").count(),
    )
    if not updated:
        return None
    run_services.run_refresh_state(run_id=item.run_id)
    dispatch.dispatch_on_commit()
    if state == ItemState.SUCCEEDED:  # issue 13: below its baseline? (after commit; never fails the item)
        trends.item_regression_check_on_commit(item_id=item.pk)
    return state
