"""Every list page and API list makes the same number of SQL queries with little and with more data (issue 13,
"Speed": no N+1 anywhere). The URLs come from the URL resolver (every pattern named ``*-list`` / ``*_list`` without
parameters, the people pages and the samples of a run), so a new list is covered the day it is added; the sizes
differ in every kind of row those lists show (runs with their items and samples, models, tasks, exercises,
findings, notifications, audit events, users, invitations), each new row with its own related rows. Some shapes only
the bigger size has, for lists whose queries once depended on them: a run waiting in the queue (the API's run list
read the queue only for a page with a waiting item) and findings that name their models and evaluations (the
finding lists read the registered models and evaluations only for a page where one did)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from evaluations.models import Finding, FindingRunItem, Notification, Run, RunItem, SampleResult
from portal.audit import audit_record
from tests.findings.factories import risk_area
from tests.support.factories import ExerciseFactory, UserFactory, model_version, task_version

pytestmark = pytest.mark.django_db

EXTRA = {"run-samples", "api-run-samples", "manage_users", "manage_invitations", "manage_organisations"}
NOT_ROWS = {"task-catalogue"}  # Inspect's installed tasks, not database rows
ADMIN_PAGES = {"manage_users", "manage_invitations", "manage_organisations", "api-organisation-list"}
APPROVER_PAGES = {"audit_list", "api-audit-event-list"}


def _list_names() -> list[str]:
    names: set[str] = set()

    def walk(patterns: Any, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name and p.name not in NOT_ROWS:
                route = prefix + str(p.pattern)
                listed = p.name.endswith(("-list", "_list")) and "<" not in route and "(?P" not in route
                if listed or p.name in EXTRA:
                    names.add(p.name)

    walk(get_resolver().url_patterns, "")
    return sorted(names)


LIST_NAMES = _list_names()
SMALL = 2  # batches at the small size; the bigger size has 4 more


class World:
    """Rows of every kind the lists show, grown a batch at a time (each batch with its own models, tasks and
    exercise, so that a per-row query for a related object would show as a different count)."""

    def __init__(self, *, uk_aisi: Any, us_aisi: Any, partner_ca: Any, uk_staff: Any, us_staff: Any,
                 uk_approver: Any, admin_user: Any, exercise: Any) -> None:
        self.uk_aisi, self.us_aisi, self.partner_ca = uk_aisi, us_aisi, partner_ca
        self.uk_staff, self.us_staff, self.uk_approver, self.admin = uk_staff, us_staff, uk_approver, admin_user
        self.exercise = exercise
        self.batches = 0
        self.big_run: Run | None = None

    def grow(self, batches: int) -> None:
        for _ in range(batches):
            self._batch()

    def _batch(self) -> None:
        from accounts.services import invitation_create

        n = self.batches = self.batches + 1
        exercise = self.exercise if n == 1 else ExerciseFactory(
            institutes=[self.uk_aisi, self.us_aisi], partners=[self.partner_ca])
        author = self.uk_staff if n % 2 else self.us_staff
        mv = model_version(exercise=exercise, user=author, name=f"Model {n}")
        tv = task_version(exercise=exercise, user=author, name=f"Task {n}")
        mv.registered_model.exercises.add(self.exercise)
        tv.eval_task.exercises.add(self.exercise)
        run = Run.objects.create(exercise=exercise, created_by=author, owner_id=author.organisation_id,
                                 name=f"Run {n}", state=Run.State.SUCCEEDED, finished_at=timezone.now())
        run.model_versions.add(mv)
        run.task_versions.add(tv)
        item = RunItem.objects.create(run=run, model_version=mv, task_version=tv, state=RunItem.State.SUCCEEDED,
                                      model_label=mv.provider_model, task_label=tv.registry_name,
                                      done_samples=3, total_samples=3, metrics={"match": {"accuracy": 0.5}})
        if self.big_run is None:
            self.big_run = run
        if n == SMALL + 1:  # only the bigger size has a run waiting in the queue (the API shows its items' places)
            waiting = Run.objects.create(exercise=exercise, created_by=author, owner_id=author.organisation_id,
                                         name=f"Run {n}, queued", state=Run.State.QUEUED)
            RunItem.objects.create(run=waiting, model_version=mv, task_version=tv, state=RunItem.State.QUEUED,
                                   model_label=mv.provider_model, task_label=tv.registry_name,
                                   queued_at=timezone.now())
        # each item has its samples, and the first run's grow with every batch (its samples page is measured)
        for target in {item, self.big_run.items.get()}:
            for s in range(3):
                SampleResult.objects.create(item=target, sample_id=f"{n}-{s}", epoch=1, input_text=f"Question {s}",
                                            output=f"Answer {s}", score=float(s % 2), scores={"match": "C"},
                                            error="Timed out" if s == 2 else "")
        for user in (self.uk_staff, self.us_staff, self.uk_approver):
            Notification.objects.create(user=user, run=run, kind=Notification.Kind.FINISHED, text=f"Run {n} finished")
        audit_record(actor=author, action="run.create", obj=run, after={"state": "draft"}, exercise_id=exercise.pk)
        audit_record(actor=self.uk_approver, action="run.approve", obj=run, before={"state": "submitted"},
                     after={"state": "approved"}, exercise_id=exercise.pk)
        finding = Finding.objects.create(exercise=exercise, author=author, owner_id=author.organisation_id,
                                         title=f"Finding {n}", severity="high", risk_area=risk_area())
        if n > SMALL:  # a finding may name no model or evaluation: at the small size none does
            finding.model_versions.add(mv)
            finding.task_versions.add(tv)
        FindingRunItem.objects.create(finding=finding, run_item=item)
        UserFactory(organisation=self.uk_aisi if n % 2 else self.us_aisi)
        invitation_create(actor=self.admin, email=f"invitee{n}@example.org",
                          organisation=self.uk_aisi if n % 2 else self.us_aisi, role="staff")


@pytest.fixture
def world(uk_aisi, us_aisi, partner_ca, uk_staff, us_staff, uk_approver, admin_user, exercise) -> World:
    return World(uk_aisi=uk_aisi, us_aisi=us_aisi, partner_ca=partner_ca, uk_staff=uk_staff, us_staff=us_staff,
                 uk_approver=uk_approver, admin_user=admin_user, exercise=exercise)


def _queries(client: Client, url: str) -> int:
    headers = {"HTTP_ACCEPT": "application/json"} if url.startswith("/api/") else {}
    client.get(url, **headers)  # warm up: the session's first request writes its once-only rows
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    return len(captured)


def test_the_resolver_lists_the_portals_main_lists():
    """The table below really is driven by the resolver: the lists issue 13 names are all in it."""
    for name in ("exercise_list", "model-list", "task-list", "run-list", "run-samples", "finding-list",
                 "notification-list", "audit_list", "api-run-list", "api-finding-list", "api-run-samples"):
        assert name in LIST_NAMES


@pytest.mark.parametrize("name", LIST_NAMES)
def test_every_list_makes_the_same_number_of_queries_at_two_sizes(name, world, client, sign_in):
    actor = world.admin if name in ADMIN_PAGES else world.uk_approver if name in APPROVER_PAGES else world.uk_staff
    sign_in(client, actor)
    world.grow(SMALL)
    assert world.big_run is not None
    url = reverse(name, kwargs={"pk": world.big_run.pk} if name in {"run-samples", "api-run-samples"} else {})
    small = _queries(client, url)
    world.grow(4)
    assert _queries(client, url) == small, f"{url}: the query count grew with the rows"
