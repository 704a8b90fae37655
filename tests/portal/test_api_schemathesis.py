"""schemathesis against /api/schema/ as each role and anonymously, in-process (WSGI): no 5xx and no response that
breaks the schema. Anonymous (no credentials) gets more: every answer is a refusal (401, 403 or 404; or the 400 of
a control character in a parameter, refused before authentication) whose status the schema declares
(portal.api.schema_error_responses), of a declared content type, and whose body is an error message, never data.
Every answer must also leave the test's transaction usable (``transaction_intact``): a request that broke it fails
there, naming the error, instead of every later request failing with TransactionManagementError. Bounded: a few
examples per operation, no shrinking, no deadline (a loaded machine is slow, not wrong), and each example runs in
a savepoint rolled back after it, so that every example (and Hypothesis's replay of a failing one) starts from the
same rows: a replay that passes because an earlier example changed the data ("Flaky") cannot happen."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.db import connection, transaction
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_token_create
from tests.support.factories import ExerciseFactory, OrganisationFactory, UserFactory

ROLES = ["uk_staff", "uk_approver", "admin", "partner_viewer", "other_partner_viewer"]
REFUSALS = {401, 403, 404}
DECLARED = {400, 401, 403, 404}  # every operation's schema declares these (portal.api.schema_error_responses)


def anonymous_is_refused(ctx: Any, response: Any, case: Any) -> None:
    """A request without credentials is refused, and the refusal carries no data: only the error message. The one
    400: portal/middleware.py refuses a control character in any parameter before authentication, naming only the
    request's own parameters."""
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), f"anonymous: {str(body)[:300]}"
    if response.status_code == 400:
        sent = set(case.query or {}) | set(case.path_parameters or {}) | set(
            case.body if isinstance(case.body, dict) else {})
        assert set(body) == {"detail", "errors"} and set(body["errors"]) <= sent, (
            f"anonymous: a 400 about more than the request's own parameters: {str(body)[:300]}")
        return
    assert response.status_code in REFUSALS, f"anonymous: {response.status_code}, not a refusal"
    assert set(body) == {"detail"}, f"anonymous: a {response.status_code} with more than an error message: {body}"


def transaction_intact(ctx: Any, response: Any, case: Any) -> None:
    """The request left the test's transaction usable: nothing in it caught a database error inside the
    transaction without a savepoint (tests/findings/test_findings_api_transaction.py)."""
    assert not connection.needs_rollback, (
        f"the request broke the test's transaction: {connection.rollback_exc!r}")


SIGNED_IN_CHECKS = [not_a_server_error, response_schema_conformance, transaction_intact]
ANONYMOUS_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance, anonymous_is_refused, transaction_intact]


@pytest.fixture
def api_schema(db):
    """The schema, served by the real WSGI app in this process. Like Django's test client, keep the request
    signals from closing the test's database connection (the test runs inside a transaction)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from portal.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def bearers(db):
    """An Authorization header per role (write-scoped where the role allows it)."""
    uk = OrganisationFactory(name="UK AISI", kind="institute", country_code="GB")
    us = OrganisationFactory(name="US AISI", kind="institute", country_code="US")
    ca = OrganisationFactory(name="Partner Institute CA", kind="partner", country_code="CA")
    jp = OrganisationFactory(name="Partner Institute JP", kind="partner", country_code="JP")
    joint = ExerciseFactory(name="Joint", institutes=[uk, us], partners=[ca])
    users = {
        "uk_staff": UserFactory(organisation=uk, role="staff"),
        "uk_approver": UserFactory(organisation=uk, role="approver"),
        "admin": UserFactory(organisation=uk, role="staff", is_portal_admin=True),
        "partner_viewer": UserFactory(organisation=ca, role="partner_viewer"),
        "other_partner_viewer": UserFactory(organisation=jp, role="partner_viewer"),
    }
    _registry_and_runs(joint, users["uk_staff"])
    headers = {}
    for role, user in users.items():
        scope = "read" if role.endswith("partner_viewer") else "write"
        headers[role] = {"Authorization": f"Bearer {api_token_create(user=user, scope=scope).plain}"}
    return headers


def _registry_and_runs(exercise: Any, user: Any) -> None:
    """Rows for the models/, tasks/ and runs/ endpoints to find: a model with a credential, a built-in task, a
    draft run and a finished one with a sample (ids are small, so generated path ids often hit them)."""
    from evaluations.models import RunItem, SampleResult
    from evaluations.services.catalogue import task_create_registry
    from evaluations.services.registry import model_create
    from evaluations.services.runs import run_create

    model = model_create(user=user, name="Mock", exercises=[exercise], provider_model="mockllm/model",
                         api_key="sk-schemathesis-0123456789")
    task = task_create_registry(user=user, name="Arithmetic", exercises=[exercise], registry_name="arithmetic",
                                args={})
    versions = {"models": [model.current_version], "tasks": [task.current_version]}
    run_create(actor=user, exercise=exercise, options={"name": "Draft"}, **versions)
    done = run_create(actor=user, exercise=exercise, options={"name": "Done"}, **versions)
    item = done.items.get()
    RunItem.objects.filter(pk=item.pk).update(state="succeeded", metrics={"match": {"accuracy": 1.0}})
    SampleResult.objects.create(item=item, sample_id="arith-1", epoch=1, input="2 + 3", input_text="2 + 3",
                                target="5", output="5", scores={"match": {"value": "C", "numeric": 1.0}}, score=1.0)


# The operations are split over SHARDS tests (every SHARDS-th operation each), so that xdist spreads the few minutes
# over its workers; together they send the same examples to the same operations with the same checks as one test.
SHARDS = 3


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"operations {n} mod {SHARDS}" for n in range(SHARDS)])
def test_the_api_answers_every_role_without_server_errors_or_schema_violations(api_schema, bearers, shard):
    failures: list[str] = []
    operations = 0
    refusals: dict[int, int] = {}  # anonymous answers by status
    for index, result in enumerate(api_schema.get_all_operations()):
        if index % SHARDS != shard:
            continue
        operation = result.ok()
        operations += 1
        undeclared = {str(status) for status in DECLARED} - set(operation.responses.status_codes)
        assert not undeclared, f"{operation.label} does not declare {sorted(undeclared)}"

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            with transaction.atomic():  # a savepoint: rolled back after the example, whatever it wrote
                for role in ROLES:
                    case.call_and_validate(headers=bearers[role], checks=SIGNED_IN_CHECKS)
                anonymous = case.call_and_validate(headers={}, checks=ANONYMOUS_CHECKS)
                refusals[anonymous.status_code] = refusals.get(anonymous.status_code, 0) + 1
                transaction.set_rollback(True)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every operation's failure
            # Hypothesis's "flaky" failure is a group: show what failed the first time, not only that it did.
            inner = "".join(f"\n  {type(e).__name__}: {e}" for e in getattr(exc, "exceptions", ()))
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}{inner}")
    assert operations >= 15 // SHARDS
    paths = {result.ok().path for result in api_schema.get_all_operations()}
    for wanted in ("/api/v1/models/", "/api/v1/tasks/", "/api/v1/runs/", "/api/v1/runs/{id}/approve/",
                   "/api/v1/compare/", "/api/v1/samples/{id}/", "/api/v1/run-items/{id}/log/"):
        assert wanted in paths, f"{wanted} is not in the schema"
    assert not failures, "\n\n".join(failures)
    print(f"shard {shard}: {operations} operations; anonymous answers by status: {dict(sorted(refusals.items()))}")
    assert set(refusals) <= DECLARED and refusals.get(401, 0) >= operations, refusals
