"""Work a web process would otherwise do on its first requests, done once before it serves (gunicorn.conf.py calls
``warm_up`` in the master, which forks the workers from it: ``preload_app``).

A cold process paid ~1.5 s of CPU on its first request (the URLconf imports every view module, with numpy,
markdown-it and httpx; it was ~4 s while the log viewer imported inspect_ai at import time) and then tens of ms on
the first request of each page (compiling its templates); under `make load` those first requests, and everything
queued behind them, were the slowest of the test (docs/benchmarks.md §5). Touches neither the database nor Redis.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path


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


def heap_freeze() -> int:
    """Put every object alive now out of the cyclic garbage collector's sight (``gc.freeze``), after ``warm_up``:
    what is loaded then lives as long as the process. Without it each collection of the oldest generation walked the
    ~180,000 objects of the loaded portal again (100-200 ms on the 2-core machine of docs/benchmarks.md §3, inside
    whichever request triggered it: part of the one slow request per round of /api/v1/runs/ and the exercise page at
    scale). Also what the gc module's documentation advises before a fork: the workers' collections no longer write
    to (and so copy) the master's memory pages. Returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
