"""Runs one run item with inspect-ai as a library (see the interface in evaluations/engine/__init__.py).

Design notes (measured facts in /work/shared/design/INSPECT-NOTES.md):

- One evaluation per process: ``run_item`` raises ``RuntimeError`` if another one is running in this process.
  It runs ``eval_async`` in a fresh event loop (``asyncio.run``), so it must be called from a thread with no
  running event loop (a Celery prefork child's main thread is fine).
- Credentials: the model is built per call with ``get_model(..., api_key=..., memoize=False)``; nothing goes to
  ``os.environ``. Inspect never writes ``api_key`` model args to the log. While the item runs, every log record
  created in this process is scrubbed of the key and of the extra headers' values, and so is the outcome's
  error text. If one nevertheless appears in the finished log (a server that echoes the key in an error body;
  extra headers, which Inspect records with the model args), the log is rewritten without it.
- Endpoints: the model (first run and ``eval_retry``) is given ``netguard``'s guarded HTTP client as its
  ``http_client`` model arg: the base URL (or the provider's default for a blank one) is resolved and checked
  against ``spec.endpoint_policy`` before Inspect starts and again before every connection, which goes to the
  checked address; redirects are never followed. A refused endpoint ends the item with status "error".
- Progress: the ``@hooks``-registered ``_PortalHooks`` forwards ``on_sample_end`` to the callbacks of the item
  running in the current context (a ``ContextVar`` set before the eval).
- Cancel: a watcher coroutine polls ``callbacks.should_cancel()`` every ``CANCEL_POLL_SECONDS`` (in a worker
  thread, so it may do I/O) and cancels the asyncio task running ``eval_async``; Inspect then writes the log
  with status "cancelled", keeping the finished samples.
- Retry: ``eval_retry_async`` on ``spec.retry_log``. That function rebuilds the model from the log, which holds
  no key; we pass it an in-memory copy of the log whose ``model_args`` carry this call's key (and
  ``spec.model_args``), so no environment variable and no custom provider is needed. The model instance
  ``eval_retry`` memoizes is dropped from Inspect's cache afterwards so the key does not outlive the call.
  The task must be a registered ``@task`` in an importable module (or a task file that still exists).
- Logging: Inspect replaces the root logger's level/handlers and ``sys.excepthook`` on its first eval; both
  are saved before and restored after every item so Celery's own logging keeps working.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from evaluations.engine import Callbacks, ItemOutcome, ItemSpec, SampleEvent, netguard
from evaluations.engine.ingest import json_safe, metrics_of
from evaluations.engine.scrub import REDACTED, scrub, secret_fragments

CANCEL_POLL_SECONDS = 0.5
LOG_SUFFIXES = (".eval", ".json")

logger = logging.getLogger(__name__)


@dataclass
class _ItemContext:
    spec: ItemSpec
    callbacks: Callbacks
    total_samples: int | None = None
    started: bool = False
    eval_id: str | None = None
    callback_error: BaseException | None = None
    # every callback (on_start, on_sample, should_cancel) runs in this one thread, in order: the caller's
    # database work then uses a single connection, closed when the item ends
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-item-callbacks")
    )

    async def call(self, fn: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, contextvars.copy_context().run, fn)

    def close(self) -> None:
        """Calls the caller's optional ``on_end()`` in the callbacks' thread (e.g. to close the database
        connection its callbacks opened there), then stops the thread."""
        on_end = getattr(self.callbacks, "on_end", None)
        try:
            if on_end is not None:
                self.executor.submit(on_end).result(timeout=30)
        except Exception:  # a failing clean-up never fails the item
            logger.exception("on_end callback failed")
        finally:
            self.executor.shutdown(wait=True)


_current: contextvars.ContextVar[_ItemContext | None] = contextvars.ContextVar("portal_item", default=None)
_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("portal_secrets", default=())
MIN_SECRET_LENGTH = 8  # shorter header values are not scrubbed (they would redact ordinary words)
_running_lock = threading.Lock()
_hooks_registered = False
_record_factory_installed = False


# ---------------------------------------------------------------------------------------------------------------
# secrets


def secrets_of(spec: ItemSpec) -> tuple[str, ...]:
    """The values that must never leave this call: the API key and the extra headers' values."""
    values = [spec.api_key or "", *spec.extra_headers.values()]
    return tuple(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def _install_record_factory() -> None:
    """Scrubs the current item's key from every log record created while it runs (any logger, any handler)."""
    global _record_factory_installed
    if _record_factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        secrets = _secrets.get()
        if secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it to the handler
                return record
            scrubbed = scrub(message, secrets)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                if scrub(text, secrets) != text:
                    record.exc_text = scrub(text, secrets)
        return record

    logging.setLogRecordFactory(factory)
    _record_factory_installed = True


# ---------------------------------------------------------------------------------------------------------------
# hooks


def _register_hooks() -> None:
    global _hooks_registered
    if _hooks_registered:
        return
    from inspect_ai.hooks import Hooks, SampleEnd, TaskStart, hooks

    @hooks(name="portal_progress", description="Forwards per-sample progress to the portal's run item.")
    class _PortalHooks(Hooks):
        def enabled(self) -> bool:
            return _current.get() is not None

        async def on_task_start(self, data: TaskStart) -> None:
            ctx = _current.get()
            if ctx is None:
                return
            ctx.eval_id = data.eval_id
            if not ctx.started:
                ctx.started = True
                ctx.total_samples = _expected_total(data.spec)
                await _call_callback(ctx, lambda: ctx.callbacks.on_start(total_samples=ctx.total_samples))

        async def on_sample_end(self, data: SampleEnd) -> None:
            ctx = _current.get()
            if ctx is None:
                return
            event = sample_event(data.sample, secrets=secrets_of(ctx.spec))
            await _call_callback(ctx, lambda: ctx.callbacks.on_sample(event))

    _hooks_registered = True


async def _call_callback(ctx: _ItemContext, fn: Any) -> None:
    # Callbacks may do I/O (database writes): run them in the item's callback thread so the event loop keeps
    # serving the model.
    # A failing callback never fails the evaluation; the first error is reported in the outcome's log line.
    try:
        await ctx.call(fn)
    except Exception as ex:  # noqa: BLE001
        if ctx.callback_error is None:
            ctx.callback_error = ex
            logger.warning("run item %s: progress callback failed: %s", ctx.spec.item_id, type(ex).__name__)


def _expected_total(spec: Any) -> int | None:
    """Samples × epochs of the whole item (also on a retry, where only the unfinished ones run again)."""
    config = spec.config
    if config.sample_id is not None:
        count = len(config.sample_id) if isinstance(config.sample_id, list) else 1
    else:
        count = spec.dataset.samples
        if count is None:
            return None
        limit = config.limit
        if isinstance(limit, int):
            count = min(count, limit)
        elif isinstance(limit, list | tuple) and len(limit) == 2:
            count = min(count, max(0, limit[1] - limit[0]))
    return count * (config.epochs or 1)


def _usage_totals(model_usage: dict[str, Any] | None) -> tuple[int, int, int]:
    inp = out = tot = 0
    for usage in (model_usage or {}).values():
        inp += usage.input_tokens or 0
        out += usage.output_tokens or 0
        tot += usage.total_tokens or 0
    return inp, out, tot


def sample_event(sample: Any, *, secrets: tuple[str, ...] = ()) -> SampleEvent:
    inp, out, tot = _usage_totals(sample.model_usage)
    scores = {}
    for name, score in (sample.scores or {}).items():
        scores[name] = json_safe(score.value)
    return SampleEvent(
        sample_id=sample.id,
        epoch=sample.epoch,
        scores=scores,
        input_tokens=inp,
        output_tokens=out,
        total_tokens=tot,
        error=scrub(sample.error.message, secrets) if sample.error else None,
        working_time=sample.working_time,
    )


# ---------------------------------------------------------------------------------------------------------------
# logging side effects


@dataclass
class _LoggingState:
    level: int
    handlers: list[logging.Handler]
    excepthook: Any
    inspect_level: int
    inspect_handlers: list[logging.Handler]
    inspect_propagate: bool


def _save_logging() -> _LoggingState:
    root = logging.getLogger()
    insp = logging.getLogger("inspect_ai")
    return _LoggingState(
        level=root.level,
        handlers=list(root.handlers),
        excepthook=sys.excepthook,
        inspect_level=insp.level,
        inspect_handlers=list(insp.handlers),
        inspect_propagate=insp.propagate,
    )


def _restore_logging(state: _LoggingState) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in state.handlers:
            root.removeHandler(handler)
    for handler in state.handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(state.level)
    insp = logging.getLogger("inspect_ai")
    insp.handlers[:] = state.inspect_handlers
    insp.setLevel(state.inspect_level)
    insp.propagate = state.inspect_propagate
    sys.excepthook = state.excepthook


# ---------------------------------------------------------------------------------------------------------------
# running


def run_item(spec: ItemSpec, callbacks: Callbacks) -> ItemOutcome:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("run_item must be called from a thread without a running event loop")
    if not _running_lock.acquire(blocking=False):
        raise RuntimeError("another evaluation is running in this process (one evaluation per process)")
    try:
        os.makedirs(spec.log_dir, exist_ok=True)
        _register_hooks()
        _install_record_factory()
        saved = _save_logging()
        ctx = _ItemContext(spec=spec, callbacks=callbacks)
        token = _current.set(ctx)
        secret_token = _secrets.set(secrets_of(spec))
        before = _log_files(spec.log_dir)
        try:
            log, cancelled, error = asyncio.run(_run(spec, ctx))
        finally:
            _secrets.reset(secret_token)
            _current.reset(token)
            _restore_logging(saved)
            ctx.close()
        return _outcome(spec, ctx, log, cancelled, error, before)
    finally:
        _running_lock.release()


def _log_files(log_dir: str) -> set[str]:
    try:
        return {os.path.join(log_dir, n) for n in os.listdir(log_dir) if n.endswith(LOG_SUFFIXES)}
    except FileNotFoundError:
        return set()


async def _run(spec: ItemSpec, ctx: _ItemContext) -> tuple[Any, bool, BaseException | None]:
    """Returns (EvalLog or None, cancelled, exception raised by Inspect or None)."""
    callbacks = ctx.callbacks
    work = asyncio.create_task(_evaluate(spec))
    cancel_requested = asyncio.Event()

    async def watch() -> None:
        while not work.done():
            try:
                wanted = bool(await ctx.call(callbacks.should_cancel))
            except Exception as ex:  # noqa: BLE001 - a flaky check must not kill the item
                logger.warning("run item %s: should_cancel failed: %s", spec.item_id, type(ex).__name__)
                wanted = False
            if wanted:
                cancel_requested.set()
                work.cancel()
                return
            await asyncio.sleep(CANCEL_POLL_SECONDS)

    watcher = asyncio.create_task(watch())
    try:
        logs = await work
        return (logs[0] if logs else None), cancel_requested.is_set(), None
    except asyncio.CancelledError:
        if not cancel_requested.is_set():
            raise
        return None, True, None
    except Exception as ex:  # noqa: BLE001 - reported in the outcome, scrubbed
        return None, cancel_requested.is_set(), ex
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def _common_kwargs(spec: ItemSpec) -> dict[str, Any]:
    import inspect as pyinspect

    from inspect_ai import eval_async

    _init_display_none()
    kwargs: dict[str, Any] = {
        "log_dir": spec.log_dir,
        "log_format": "eval",
        "max_samples": spec.max_samples,
        "max_connections": spec.max_connections,
        "fail_on_error": spec.fail_on_error,
        "retry_on_error": spec.retry_on_error,
    }
    if "ctl_server" in pyinspect.signature(eval_async).parameters:
        kwargs["ctl_server"] = False
    return kwargs


def _init_display_none() -> None:
    # eval_async has no display= argument (eval() sets it up before calling eval_async): set it the same way.
    try:
        from inspect_ai.util._display import init_display_type
    except ImportError:  # pragma: no cover - a later inspect-ai: fall back to its environment variable
        os.environ.setdefault("INSPECT_DISPLAY", "none")
        return
    init_display_type("none")


def _model_args(spec: ItemSpec) -> dict[str, Any]:
    args = dict(spec.model_args)
    if spec.extra_headers:
        # OpenAI-compatible providers pass unknown model args to the OpenAI client; the headers are removed from
        # the Model's recorded args below so they never reach the log.
        args["default_headers"] = dict(spec.extra_headers)
    return args


def _guard(spec: ItemSpec) -> tuple[str | None, dict[str, Any]]:
    """(base URL, guarded http_client model arg) for the item's model, checked now; see netguard."""
    policy = spec.endpoint_policy
    if policy is None:
        if netguard.provider_of(spec.model) not in netguard.GUARDED_PROVIDERS:
            return spec.base_url, {}
        policy = netguard.EndpointPolicy(check_addresses=False)
    return netguard.guarded_model_args(spec.model, spec.base_url, policy)


async def _evaluate(spec: ItemSpec) -> list[Any]:
    from inspect_ai import eval_async
    from inspect_ai.model import GenerateConfig, get_model

    if spec.retry_log:
        return await _retry(spec)

    config = dict(spec.model_config)
    if spec.seed is not None:
        config.setdefault("seed", spec.seed)
    base_url, guard = _guard(spec)
    model = get_model(
        spec.model,
        base_url=base_url,
        api_key=spec.api_key,
        memoize=False,
        config=GenerateConfig(**config),
        **_model_args(spec),
        **guard,
    )
    netguard.verify_guarded(model, guard)
    model.model_args.pop("default_headers", None)  # the recorded copy only: the client keeps its headers
    model.model_args.pop("http_client", None)
    return await eval_async(
        spec.task,
        model=model,
        task_args=dict(spec.task_args),
        limit=spec.limit,
        sample_id=list(spec.sample_ids) if spec.sample_ids else None,
        epochs=spec.epochs,
        token_limit=spec.token_limit,
        tags=list(spec.tags) or None,
        metadata=dict(spec.metadata) or None,
        **_common_kwargs(spec),
    )


async def _retry(spec: ItemSpec) -> list[Any]:
    from inspect_ai import eval_retry_async
    from inspect_ai.log import read_eval_log_async

    assert spec.retry_log is not None
    previous = await read_eval_log_async(spec.retry_log)
    # eval_retry rebuilds the model with get_model(**log.eval.model_args): give it this call's credentials in an
    # in-memory copy (Inspect drops "api_key" from the args it records in the new log).
    previous.eval = copy.copy(previous.eval)
    args = dict(previous.eval.model_args or {})
    args.pop("http_client", None)  # recorded as null by an earlier retry
    args.update(_model_args(spec))
    if spec.api_key:
        args["api_key"] = spec.api_key
    # the guarded client goes in as a model arg (the new log records it as null); the provider table in
    # netguard lists only providers that take it (pinned by tests/security/test_netguard_providers.py)
    base_url, guard = _guard(spec)
    args.update(guard)
    previous.eval.model_args = args
    if base_url:
        previous.eval.model_base_url = base_url
    kwargs = _common_kwargs(spec)
    kwargs.pop("fail_on_error")
    kwargs.pop("retry_on_error")
    cached_before = _model_cache_keys()
    try:
        return await eval_retry_async(
            previous,
            fail_on_error=spec.fail_on_error,
            retry_on_error=spec.retry_on_error,
            **kwargs,
        )
    finally:
        _drop_cached_models(cached_before)


def _model_cache_keys() -> set[str]:
    try:
        from inspect_ai.model._model import _models
    except ImportError:  # pragma: no cover - a later inspect-ai without the private cache
        return set()
    return set(_models)


def _drop_cached_models(keep: set[str]) -> None:
    try:
        from inspect_ai.model._model import _models
    except ImportError:  # pragma: no cover
        return
    for key in list(_models):
        if key not in keep:
            del _models[key]


# ---------------------------------------------------------------------------------------------------------------
# outcome


def _find_log(spec: ItemSpec, ctx: _ItemContext, log: Any, before: set[str]) -> str | None:
    if log is not None and getattr(log, "location", None):
        return str(log.location)
    new = sorted(_log_files(spec.log_dir) - before, key=os.path.getmtime)
    if not new:
        return None
    if ctx.eval_id and len(new) > 1:
        from inspect_ai.log import read_eval_log

        for path in new:
            try:
                if read_eval_log(path, header_only=True).eval.eval_id == ctx.eval_id:
                    return path
            except Exception:  # noqa: BLE001, S112 - a half-written file: try the next  # nosec B112
                continue
    return new[-1]


def _outcome(
    spec: ItemSpec,
    ctx: _ItemContext,
    log: Any,
    cancelled: bool,
    error: BaseException | None,
    before: set[str],
) -> ItemOutcome:
    from inspect_ai.log import read_eval_log

    secrets = secrets_of(spec)
    path = _find_log(spec, ctx, log, before)
    header = None
    if path is not None:
        if secrets:
            scrub_log_file(path, secrets)
        try:
            header = read_eval_log(path, header_only=True)
        except Exception as ex:  # noqa: BLE001
            error = error or ex

    status = "error"
    total = ctx.total_samples or 0
    completed = 0
    metrics: dict[str, Any] = {}
    message: str | None = None
    if header is not None:
        status = header.status
        if header.results is not None:
            total = header.results.total_samples or total
            completed = header.results.completed_samples or 0
            metrics = metrics_of(header.results)
        if header.status in ("cancelled", "started") or header.results is None:
            completed = _count_completed(path)
        if header.error is not None:
            message = header.error.message
    if cancelled:
        status = "cancelled"
    elif status not in ("success", "error", "cancelled"):
        status = "error"
    if isinstance(error, netguard.EndpointRefused) and not cancelled:
        status, message = "error", f"The model endpoint is not allowed: {error}"
    elif error is not None and not cancelled:
        status = "error"
        message = message or f"{type(error).__name__}: {error} (task {spec.task!r}, model {spec.model!r})"
    if status == "error" and message is None:
        message = "the evaluation failed without an error message" if path else "the evaluation wrote no log"
    return ItemOutcome(
        status=status,
        log_path=path,
        total_samples=total,
        completed_samples=completed,
        metrics=metrics,
        error=scrub(message, secrets),
    )


def _count_completed(path: str | None) -> int:
    if path is None:
        return 0
    from inspect_ai.log import read_eval_log_sample_summaries

    try:
        return sum(1 for s in read_eval_log_sample_summaries(path) if s.error is None and s.completed)
    except Exception:  # noqa: BLE001
        return 0


def _replace_all(data: bytes, needles: list[bytes]) -> bytes:
    for needle in needles:
        data = data.replace(needle, REDACTED.encode())
    return data


def scrub_log_file(path: str, secrets: str | tuple[str, ...]) -> bool:
    """Rewrites an ``.eval`` (zip) or ``.json`` log if it contains a secret; returns True if it did.

    Reads every member once (streamed); rewrites only when something is found (the common case is a scan).
    """
    import inspect_ai.log  # noqa: F401 - installs Inspect's zstd support into zipfile (its .eval members use it)

    items = secret_fragments(secrets)
    needles = [s.encode() for s in items] + [json.dumps(s)[1:-1].encode() for s in items]
    needles = list(dict.fromkeys(needles))
    if not needles:
        return False
    if path.endswith(".json"):
        with open(path, "rb") as f:
            data = f.read()
        if not any(n in data for n in needles):
            return False
        with open(path, "wb") as f:
            f.write(_replace_all(data, needles))
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            dirty = [info.filename for info in zf.infolist() if _member_contains(zf, info, needles)]
            if not dirty:
                return False
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
            os.close(fd)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as out:
                for info in zf.infolist():
                    data = zf.read(info)
                    if info.filename in dirty:
                        data = _replace_all(data, needles)
                    out.writestr(info, data, compress_type=info.compress_type)
    except zipfile.BadZipFile:
        return False
    shutil.move(tmp, path)
    return True


def _member_contains(zf: zipfile.ZipFile, info: zipfile.ZipInfo, needles: list[bytes]) -> bool:
    keep = max(len(n) for n in needles)
    overlap = b""
    with zf.open(info) as member:
        while chunk := member.read(1 << 20):
            window = overlap + chunk
            if any(n in window for n in needles):
                return True
            overlap = window[-keep:]
    return False
