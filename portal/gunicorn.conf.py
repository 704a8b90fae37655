"""gunicorn settings for the web process (used by the Procfile and the Docker image)."""

import os

workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
# Idle keep-alive connections are kept well beyond a client's poll interval (the run page and API clients poll every
# 2 s): with gunicorn's 2 s default a poll raced the server's close and got "connection reset" (`make load`); with
# 5 s a poll sent 2 s after the last answer was still reset when the worker's main loop, busy, saw it only after the
# 5 s were up (at the keep-alive deadline to the millisecond, on a loaded machine).
keepalive = int(os.environ.get("WEB_KEEPALIVE", "15"))
graceful_timeout = 20
accesslog = "-"
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections over them. With
# one shared socket, kept-alive connections stayed with whichever worker accepted them first: under `make load` one
# of two workers got 59 of the 60 clients' connections (and all their requests) while the other idled
# (docs/benchmarks.md §5). Linux lets only processes of the same user share the port, and on_starting (below)
# refuses to start on a port another server listens on (which would otherwise share its connections silently).
reuse_port = True
# The app is loaded once in the master and warmed up (when_ready, below) before the workers are forked from it:
# a worker's first requests no longer import every view module and compile templates (~1.5 s of CPU, the slowest
# requests of `make load`), a restarted worker serves at once, and the workers share that memory. Code changes
# need a restart (not a HUP), as without it. Nothing in the master connects to the database or Redis.
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse a port that is in use (with reuse_port the workers' binds would succeed and share it)."""
    import socket

    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a unix socket
        host, port = address[0], int(address[1])
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed one's TIME_WAIT does not count
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise SystemExit(f"{host}:{port} is in use ({exc.strerror}): is another portal running there?") from None


def when_ready(server):  # type: ignore[no-untyped-def]
    """In the master, after the app is loaded and before the workers are forked (preload_app)."""
    from portal.warmup import heap_freeze, warm_up

    done = warm_up()
    server.log.info("Warmed up: URLconf %.0f ms of CPU, %d templates compiled, %.0f ms in all; %d objects frozen "
                    "(out of the workers' garbage collections)", done["urls_cpu"] * 1000, done["templates"],
                    done["cpu"] * 1000, heap_freeze())


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """In each worker, before it accepts a request: open every request thread's database and Redis connection (a
    user's first request on a thread paid for them: the slowest requests of `make load`, docs/benchmarks.md §5)."""
    from portal.warmup import worker_threads_connect

    pool = getattr(worker, "tpool", None)  # the gthread worker's request threads; the sync worker serves in its own
    done = worker_threads_connect(submit=pool.submit if pool else None, threads=worker.cfg.threads if pool else 1)
    if done["errors"]:  # the database or Redis is down: the worker serves anyway (/readyz says what is wrong)
        worker.log.warning("Request threads not connected in %.0f ms: %s", done["seconds"] * 1000,
                           "; ".join(done["errors"]))
    else:
        worker.log.info("Connected %d request threads to the database and Redis in %.0f ms", done["threads"],
                        done["seconds"] * 1000)
