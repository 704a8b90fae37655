"""Locust users of `make load` (bench/load/run.py writes the plan they read; LOAD_PLAN names the file).

- ``ApiPoller`` (``--pollers``, 50 by default): an API client polling a running run's status every 2 s with its own
  bearer token, ``GET /api/v1/runs/{id}/``, as the run page polls while a run executes.
- ``Staff``: a signed-in member of staff (a session that passed MFA) reading the pages staff use, weighted roughly
  as they use them: the run page and its htmx poll most, then lists, samples, a transcript, findings, models.

With ``LOAD_REQUEST_LOG`` set (bench/load/run.py sets it), every request is also written to that CSV file: when it
started, its name, its time, its status, which user sent it and the how-manieth of that user's requests it was (to
tell a session's first requests, and the slowest requests, apart).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from locust import HttpUser, between, constant, events, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
TOKENS = itertools.cycle(PLAN["tokens"])  # one token per poller
USER_IDS = itertools.count(1)
REQUEST_LOG = os.environ.get("LOAD_REQUEST_LOG")


class NumberedUser(HttpUser):
    abstract = True

    def context(self) -> dict[str, int]:
        if not hasattr(self, "number"):
            self.number, self.sent = next(USER_IDS), 0
        self.sent += 1
        return {"user": self.number, "nth": self.sent}


if REQUEST_LOG:
    _log = open(REQUEST_LOG, "w", buffering=1)  # noqa: SIM115 - open for the whole test
    _log.write("start,name,ms,status,user,nth\n")

    @events.request.add_listener
    def _request_log(name: str, response_time: float, response: object, context: dict[str, int],
                     start_time: float = 0.0, **_: object) -> None:
        status = getattr(response, "status_code", 0)
        _log.write(f"{start_time:.3f},{name},{response_time:.1f},{status},{context.get('user', 0)},"
                   f"{context.get('nth', 0)}\n")


class ApiPoller(NumberedUser):
    wait_time = constant(2)
    fixed_count = PLAN["pollers"]

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {next(TOKENS)}"

    @task
    def run_status(self) -> None:
        self.client.get(f"/api/v1/runs/{PLAN['live_run']}/", name="/api/v1/runs/[id]/")


class Staff(NumberedUser):
    wait_time = between(1, 3)
    fixed_count = PLAN["staff"]

    def on_start(self) -> None:
        self.client.cookies.set(PLAN["session_cookie"], random.choice(PLAN["sessions"]))  # nosec B311 - load-test pacing

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True, allow_redirects=False) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {path}")

    @task(6)
    def run_page(self) -> None:
        self._get(f"/runs/{PLAN['live_run']}/", "/runs/[id]/ (running)")

    @task(6)
    def run_items_poll(self) -> None:
        self._get(f"/runs/{PLAN['live_run']}/items/", "/runs/[id]/items/ (htmx poll)")

    @task(3)
    def finished_run_page(self) -> None:
        self._get(f"/runs/{random.choice(PLAN['runs'])}/", "/runs/[id]/ (finished)")  # nosec B311 - load-test pacing

    @task(3)
    def run_list(self) -> None:
        self._get(f"/runs/?page={random.randint(1, PLAN['run_pages'])}", "/runs/?page=[n]")  # nosec B311 - load-test pacing

    @task(2)
    def home(self) -> None:
        self._get("/", "/")

    @task(2)
    def exercise(self) -> None:
        self._get(f"/exercises/{PLAN['exercise']}/", "/exercises/[id]/")

    @task(2)
    def samples(self) -> None:
        self._get(f"/runs/{random.choice(PLAN['runs'])}/samples/", "/runs/[id]/samples/")  # nosec B311 - load-test pacing

    @task(2)
    def transcript(self) -> None:
        self._get(f"/samples/{random.choice(PLAN['samples'])}/", "/samples/[id]/")  # nosec B311 - load-test pacing

    @task(1)
    def findings(self) -> None:
        self._get("/findings/", "/findings/")

    @task(1)
    def models(self) -> None:
        self._get("/models/", "/models/")

    @task(1)
    def task_list(self) -> None:
        self._get("/tasks/", "/tasks/")

    @task(1)
    def notifications(self) -> None:
        self._get("/notifications/", "/notifications/")
