"""Work a web process would otherwise do on its first requests, done once before it serves (gunicorn.conf.py calls
``warm_up`` in the master, which forks the workers from it: ``preload_app``).

A cold process paid ~1.5 s of CPU on its first request (the URLconf imports every view module, with numpy,
markdown-it and httpx; it was ~4 s while the log viewer imported inspect_ai at import time) and then tens of ms on
the first request of each page (compiling its templates); under `make load` those first requests, and everything
queued behind them, were the slowest of the test (docs/benchmarks.md §5). Touches neither the database nor Redis.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any


def template_names(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*.html") if p.is_file())


def warm_up() -> dict[str, float]:
    """Load the URLconf (every view module) and compile the project's templates into the cached loader."""
    from django.apps import apps
    from django.conf import settings
    from django.db import connections
    from django.template import TemplateSyntaxError, engines
    from django.urls import get_resolver

    t0 = time.process_time()
    import redis  # noqa: F401 - the cache's client library, imported by the first cache call otherwise

    resolver = get_resolver()
    len(resolver.reverse_dict)  # imports the URLconf and builds the reverse index (what `reverse` uses)
    urls_cpu = time.process_time() - t0
    base = Path(settings.BASE_DIR)
    ours = [base / "templates"] + [
        base / config.name / "templates"
        for config in apps.get_app_configs()
        if (base / config.name / "apps.py").is_file()
    ]  # the project's apps only
    compiled = 0
    for engine in engines.all():
        for directory in ours:
            if not directory.is_dir():
                continue
            for name in template_names(directory):
                try:
                    engine.get_template(name)
                    compiled += 1
                except TemplateSyntaxError:
                    pass  # a template that is only ever included with its own context libraries: compiled when used
    connections.close_all()  # nothing should have connected; never hand a connection to forked workers
    return {"urls_cpu": urls_cpu, "templates": compiled, "cpu": time.process_time() - t0}


def worker_threads_connect(*, submit: Callable[..., Future[list[str]]] | None, threads: int,
                           timeout: float = 30.0) -> dict[str, Any]:
    """In a gunicorn worker, before it accepts requests (gunicorn.conf.py's post_worker_init): open each request
    thread's database connection and Redis connection (Django keeps both per thread: ``connections`` and
    ``caches`` are thread-local), so that no user's first request pays for them (docs/benchmarks.md §5).

    ``submit`` is the worker's thread pool's ``submit`` (gthread worker); one task per thread, held on a barrier until
    all have started, so that each lands on a thread of its own. ``None`` (the sync worker, one thread): the calling
    thread is the request thread. Best effort: what could not be opened (the database or Redis down while the web
    process starts) is only reported, and a request opens it later, as without the warm-up. Returns the threads
    warmed, the errors and the time taken."""
    t0 = time.monotonic()
    if submit is None:
        results = [_thread_connect(None, timeout)]
    else:
        barrier = threading.Barrier(threads)
        futures = [submit(_thread_connect, barrier, timeout) for _ in range(threads)]
        results = [future.result(timeout=timeout + 10) for future in futures]
    return {"threads": len(results), "errors": sorted({e for errors in results for e in errors}),
            "seconds": time.monotonic() - t0}


def _thread_connect(barrier: threading.Barrier | None, timeout: float) -> list[str]:
    from django.core.cache import caches
    from django.db import connections

    errors = []
    if barrier is not None:
        try:
            barrier.wait(timeout)  # every thread of the pool holds a task: one each
        except threading.BrokenBarrierError:
            errors.append("the threads did not all start")
    for alias in connections:
        try:
            connections[alias].ensure_connection()  # kept: CONN_MAX_AGE, checked by CONN_HEALTH_CHECKS when reused
        except Exception as exc:  # noqa: BLE001 - reported; the first request connects (or fails) as usual
            errors.append(f"database {alias}: {type(exc).__name__}")
    for alias in caches:
        try:
            caches[alias].has_key("portal:warmup")  # builds this thread's cache client and opens its Redis connection
        except Exception as exc:  # noqa: BLE001 - as above
            errors.append(f"cache {alias}: {type(exc).__name__}")
    return errors


def heap_freeze() -> int:
    """In the master, after ``warm_up`` and before the workers are forked: move every object alive now (the app,
    its modules, URLconf and compiled templates: ~180,000 objects) to the collector's permanent generation, where
    the workers' garbage collections never look at them. A full collection of that heap held a worker's GIL for
    ~150 ms of CPU, stalling all its request threads at once (the bursts of slow polls under `make load`,
    docs/benchmarks.md §5); frozen, it looks only at what a worker made since it was forked. (And a worker no
    longer writes to the pages it shares with the master by marking them: less copy-on-write memory.) Returns the
    number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
