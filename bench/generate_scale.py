"""Scale data for the speed benchmarks of issue 13: a database with N runs and M per-sample results.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/anything REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python bench/generate_scale.py --runs 10000 --samples 1000000 --database portal_scale_big
    .venv/bin/python bench/generate_scale.py --runs 10 --samples 1000 --database portal_scale_small
    .venv/bin/python -m portal.devservices run -- .venv/bin/python bench/generate_scale.py ...   # embedded services

``DATABASE_URL`` names the server (its database part is replaced by ``--database``). The database is created and
migrated when missing, and reused as it is when it already holds data of the same size made by the same version
of this script (a table ``bench_scale_info`` records it); a different size or ``--force`` drops and rebuilds it.

What it loads (PostgreSQL COPY through psycopg 3's ``cursor.copy``; ids are assigned here, sequences set after):
  - two institutes (UK, US) and a partner (CA); per institute a staff member and an approver, an admin (UK) and a
    partner viewer (CA); the bench signs in as them (``bench.uk.staff@example.org`` ...);
  - max(20, N // 500) exercises of both institutes (the partner invited; 20 at 100 runs too, so that the
    exercise lists' pages hold as many rows at both sizes, the first of them given about 50 runs at least, so that
    its page, the dashboard timed, is as full), 6 registered models x 2 versions and 5 evaluation
    tasks x 2 versions, all in every exercise;
  - N runs spread over the exercises, both owners, 180 days and every state (most finished); each run pins 1-2
    model versions x 1-2 task versions, one item per pair, items in the state the run's state implies;
  - M sample results over the finished items (0/1 scores for four tasks, fractional ones for
    "instruction following", 1 % errors), of which two items of ``--compare-samples`` (default
    min(10,000, M // 4)) on the same task version, other models, same sample ids, correlated scores: the pair the
    compare bench reads (run name "Comparison pair <n>"). When M >= 100,000, pairs of 250, 1,000 and 3,000 samples
    too: 250 is the small database's pair (1,000 // 4), so the same comparison is timed at both sizes, and the
    others show how the comparison scales with the items' samples;
  - a notification per finished run (to its author), two audit events per run (hash-chained as
    ``portal.audit.audit_record`` chains them), max(30, N // 100) findings (a full list page at every size) over
    the exercises, each linked to one item of its exercise.
Prints how long each part took.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

VERSION = 4  # bump when the shape of the data changes: databases made by another version are rebuilt
SMALL_PAIR = 250  # the small database's comparison pair (1,000 samples // 4), also loaded into big ones
USERS = {  # key: (email, organisation key, role, admin)
    "uk_staff": ("bench.uk.staff@example.org", "uk", "staff", False),
    "us_staff": ("bench.us.staff@example.org", "us", "staff", False),
    "uk_approver": ("bench.uk.approver@example.org", "uk", "approver", False),
    "us_approver": ("bench.us.approver@example.org", "us", "approver", False),
    "admin": ("bench.admin@example.org", "uk", "staff", True),
    "partner_viewer": ("bench.partner@example.org", "ca", "partner_viewer", False),
}
MODELS = [("Frontier A", "uk"), ("Frontier B", "uk"), ("Open weights C", "uk"),
          ("Frontier D", "us"), ("Assistant E", "us"), ("Small F", "us")]
TASKS = [("Arithmetic", "arithmetic", "uk"), ("Capital cities", "capital_cities", "uk"),
         ("Instruction following", "instruction_following", "us"), ("Cyber range", "cyber_range", "us"),
         ("Refusals", "refusals", "uk")]
FRACTIONAL_TASK = "instruction_following"
RUN_STATES = (["succeeded"] * 70 + ["partially_succeeded"] * 6 + ["failed"] * 6 + ["cancelled"] * 3
              + ["draft"] * 5 + ["submitted"] * 4 + ["rejected"] * 2 + ["approved"] * 1 + ["queued"] * 2
              + ["running"] * 1)
FINISHED_RUN = {"succeeded", "partially_succeeded", "failed", "cancelled"}


def _environment(database: str) -> str:
    """Point DATABASE_URL at ``database`` (same server) and fill in the settings the strict Env parser needs."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} is not set (or run under `python -m portal.devservices run --`).")
    parts = urlsplit(os.environ["DATABASE_URL"])
    server_url = urlunsplit(parts._replace(path="/postgres"))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
    defaults = {
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef0123456789abcdef",  # nosec B105 - a benchmark database's own key
        "FIELD_ENCRYPTION_KEYS": "dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "HF_HUB_OFFLINE": "1",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return server_url


def database_prepare(*, database: str, runs: int, samples: int, force: bool) -> bool:
    """Create ``database`` if missing (True: it already holds this size and version, nothing to load)."""
    import psycopg
    from psycopg import sql

    server_url = _environment(database)
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
    if exists and not force:
        with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
            table = conn.execute("SELECT to_regclass('bench_scale_info')").fetchone()
            info = conn.execute("SELECT runs, samples, version FROM bench_scale_info").fetchone() if table and \
                table[0] else None
        if info == (runs, samples, VERSION):
            return True
    with psycopg.connect(server_url, autocommit=True) as conn:
        if exists:
            print(f"Dropping {database} (another size or version, or --force)", flush=True)
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return False


def _rows_copy(model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` (dicts by attribute name, explicit ids) into ``model``'s table; fields not given get their
    model default (COPY does not apply Django's defaults)."""
    from django.db import connection
    from django.db.models import JSONField

    fields = list(model._meta.concrete_fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {f.attname: f.get_default() for f in fields}
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    with connection.cursor() as cursor, cursor.cursor.copy(
            f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = []
            for f in fields:
                value = row[f.attname] if f.attname in row else defaults[f.attname]
                if f.attname in json_fields and value is not None:
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)


def _sequences_reset() -> None:
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models(include_auto_created=True))
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


class Loader:
    def __init__(self, *, runs: int, samples: int, compare_samples: int, seed: int) -> None:
        self.n_runs = runs
        self.n_samples = samples
        self.compare_samples = compare_samples
        self.random = random.Random(seed)  # nosec B311 - benchmark data, not security
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    # --- the small fixed part, through the ORM ---
    def base(self) -> None:
        from accounts.models import Organisation, User
        from evaluations.models import (
            EvalTask,
            Exercise,
            ModelVersion,
            RegisteredModel,
            RiskArea,
            TaskVersion,
        )

        self.orgs = {
            "uk": Organisation.objects.create(name="UK AI Security Institute", kind="institute", country_code="GB"),
            "us": Organisation.objects.create(name="US AI Safety Institute", kind="institute", country_code="US"),
            "ca": Organisation.objects.create(name="Canada AI Safety Institute", kind="partner", country_code="CA"),
        }
        self.users = {}
        for key, (email, org, role, admin) in USERS.items():
            user = User.objects.create_user(email, None, organisation=self.orgs[org], role=role,
                                            full_name=key.replace("_", " ").title())
            if admin:
                user.is_portal_admin = True
                user.save(update_fields=["is_portal_admin"])
            self.users[key] = user
        n_exercises = max(20, self.n_runs // 500)  # the lists' pages as full at 100 runs as at 10,000
        self.exercises = []
        for n in range(n_exercises):
            exercise = Exercise.objects.create(name=f"Joint test {n + 1}", status=Exercise.Status.ACTIVE,
                                               description=f"Scale benchmark exercise {n + 1}.")
            exercise.institutes.set([self.orgs["uk"], self.orgs["us"]])
            exercise.partners.set([self.orgs["ca"]])
            self.exercises.append(exercise)
        self.model_versions = []
        for name, org in MODELS:
            staff = self.users[f"{org}_staff"]
            registered = RegisteredModel.objects.create(name=name, owner=self.orgs[org], created_by=staff)
            registered.exercises.set(self.exercises)
            for number in (1, 2):
                self.model_versions.append(ModelVersion.objects.create(
                    registered_model=registered, number=number, created_by=staff,
                    provider_model=f"openai-api/bench/{name.lower().replace(' ', '-')}-v{number}"))
        self.task_versions = []
        for name, registry, org in TASKS:
            staff = self.users[f"{org}_staff"]
            task = EvalTask.objects.create(name=name, owner=self.orgs[org], created_by=staff,
                                           description=f"{name} (scale benchmark).")
            task.exercises.set(self.exercises)
            for number in (1, 2):
                self.task_versions.append(TaskVersion.objects.create(
                    eval_task=task, number=number, kind=TaskVersion.Kind.REGISTRY, created_by=staff,
                    registry_name=f"evaluations/{registry}", args={"version": number}))
        self.risk_areas = list(RiskArea.objects.all())

    # --- runs, items and their links, by COPY ---
    def runs(self) -> None:
        from django.db import connection

        from evaluations.models import Run, RunItem

        rnd = self.random
        run_rows, item_rows, model_links, task_links = [], [], [], []
        self.items_with_samples: list[dict[str, Any]] = []
        staff = {"uk": self.users["uk_staff"], "us": self.users["us_staff"]}
        item_id = 0
        sizes = [self.compare_samples] + ([SMALL_PAIR, 1000, 3000] if self.n_samples >= 100_000 else [])
        sizes = list(dict.fromkeys(sizes))
        regular = max(0, self.n_runs - len(sizes))  # the comparison pairs' runs count among the N
        # the first exercise (the comparison pair's, whose page the bench times) holds about 50 runs at least, at
        # every size: with 20 exercises, 100 runs would leave it 5 and its dashboard a sparse grid
        crowded = min(50, regular // 2) if regular // len(self.exercises) < 50 else 0
        for run_id in range(1, regular + 1):
            owner = "uk" if run_id % 2 else "us"
            state = rnd.choice(RUN_STATES)
            exercise = self.exercises[0 if run_id <= crowded else run_id % len(self.exercises)]
            created = self.now - timedelta(days=180 * (regular - run_id) / max(1, regular),
                                           seconds=rnd.randint(0, 3000))
            finished = state in FINISHED_RUN
            run_rows.append({
                "id": run_id, "exercise_id": exercise.pk, "created_by_id": staff[owner].pk,
                "owner_id": self.orgs[owner].pk, "name": f"{exercise.name} run {run_id}", "state": state,
                "created_at": created, "updated_at": created + timedelta(hours=1),
                "submitted_at": None if state == "draft" else created + timedelta(minutes=5),
                "approved_at": created + timedelta(minutes=30) if finished or state in {"queued", "running",
                                                                                         "approved"} else None,
                "started_at": created + timedelta(minutes=31) if finished or state == "running" else None,
                "finished_at": created + timedelta(minutes=50) if finished else None,
                "limit": rnd.choice([None, 100, 200]), "epochs": rnd.choice([1, 1, 1, 2]),
                "rejection_reason": "Too many samples." if state == "rejected" else "",
            })
            versions_m = rnd.sample(self.model_versions, rnd.choice([1, 2]))
            versions_t = rnd.sample(self.task_versions, rnd.choice([1, 2]))
            model_links += [(run_id, mv.pk) for mv in versions_m]
            task_links += [(run_id, tv.pk) for tv in versions_t]
            for index, (mv, tv) in enumerate((mv, tv) for mv in versions_m for tv in versions_t):
                item_id += 1
                item_state = {"succeeded": "succeeded", "partially_succeeded": "succeeded" if index else "failed",
                              "failed": "failed", "cancelled": "cancelled", "queued": "queued",
                              "running": "running" if index == 0 else "queued"}.get(state, "pending")
                row = self._item_row(item_id, run_id, mv, tv, item_state, created)
                item_rows.append(row)
                if item_state == "succeeded":
                    self.items_with_samples.append(row)
        self.compare_pairs: list[tuple[int, int, int]] = []
        binary = next(tv for tv in self.task_versions if tv.registry_name.endswith("/arithmetic"))
        for size in sizes:
            run_id = len(run_rows) + 1
            exercise = self.exercises[0]
            created = self.now - timedelta(days=1)
            run_rows.append({"id": run_id, "exercise_id": exercise.pk, "created_by_id": staff["uk"].pk,
                             "owner_id": self.orgs["uk"].pk, "name": f"Comparison pair {size}",
                             "state": "succeeded", "created_at": created, "updated_at": created,
                             "submitted_at": created, "approved_at": created, "started_at": created,
                             "finished_at": created + timedelta(hours=1)})
            pair = []
            for mv in self.model_versions[:2]:
                item_id += 1
                item_rows.append(self._item_row(item_id, run_id, mv, binary, "succeeded", created,
                                                done=size))
                model_links.append((run_id, mv.pk))
                pair.append(item_id)
            task_links.append((run_id, binary.pk))
            self.compare_pairs.append((size, pair[0], pair[1]))
        self.run_rows, self.item_rows = run_rows, item_rows
        _rows_copy(Run, run_rows)
        _rows_copy(RunItem, item_rows)
        with connection.cursor() as cursor:
            with cursor.cursor.copy("COPY evaluations_run_model_versions (run_id, modelversion_id) FROM STDIN") as cp:
                for link in model_links:
                    cp.write_row(link)
            with cursor.cursor.copy("COPY evaluations_run_task_versions (run_id, taskversion_id) FROM STDIN") as cp:
                for link in task_links:
                    cp.write_row(link)

    def _item_row(self, item_id: int, run_id: int, mv: Any, tv: Any, state: str, created: datetime,
                  done: int = 0) -> dict[str, Any]:
        finished = state in {"succeeded", "failed", "cancelled"}
        return {
            "id": item_id, "run_id": run_id, "model_version_id": mv.pk, "task_version_id": tv.pk,
            "model_label": mv.provider_model, "task_label": tv.registry_name, "state": state,
            "total_samples": done or None, "done_samples": done, "tv_fractional": tv.registry_name.endswith(
                FRACTIONAL_TASK),
            "queued_at": created + timedelta(minutes=30) if state != "pending" else None,
            "started_at": created + timedelta(minutes=31) if finished or state == "running" else None,
            "finished_at": created + timedelta(minutes=50) if finished else None,
            "error": "The model endpoint answered 503 three times." if state == "failed" else "",
            "metrics": {}, "log_path": f"logs/bench/{item_id}.eval" if finished else "",
        }

    # --- the samples, by COPY ---
    def samples(self) -> None:
        from django.db import connection

        rnd = self.random
        reserved = sum(size * 2 for size, _, _ in self.compare_pairs)
        spread = max(0, self.n_samples - reserved)
        items = self.items_with_samples
        per_item = [spread // len(items) + (1 if i < spread % len(items) else 0) for i in range(len(items))] \
            if items else []
        columns = ("item_id, sample_id, epoch, input, input_text, target, output, scores, score, explanation, "
                   "input_tokens, output_tokens, total_tokens, total_time, working_time, error, messages, metadata, "
                   "created_at")
        created = self.now.isoformat()
        metrics_by_item: dict[int, tuple[float, int]] = {}
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY evaluations_sampleresult ({columns}) FROM STDIN") as copy:
            def write(item_id: int, n: int, fractional: bool, skill: float, base: list[float] | None = None,
                      ) -> list[float]:
                total = 0.0
                scores = []
                for s in range(n):
                    if base is not None:  # correlated with the other item of a compare pair
                        score = base[s] if rnd.random() < 0.8 else float(rnd.random() < skill)
                    elif fractional:
                        score = round(min(1.0, max(0.0, rnd.gauss(skill, 0.25))), 3)
                    else:
                        score = float(rnd.random() < skill)
                    error = "RuntimeError: the model timed out" if rnd.random() < 0.01 else ""
                    if error:
                        score_value: float | None = None
                    else:
                        score_value = score
                        total += score
                    scores.append(score)
                    question = f"Question {s}: what is {s} plus {s * 7 % 13}?"
                    answer = str(s + s * 7 % 13) if score >= 0.5 else "I am not sure."
                    copy.write_row((
                        item_id, f"q{s:05d}", 1, json.dumps(question), question, json.dumps(answer),
                        "" if error else answer,
                        json.dumps({"match": {"value": score_value, "answer": answer}}) if not error else "{}",
                        score_value, "", 40 + s % 17, 6 + s % 5, 46 + s % 17 + s % 5, 0.4 + (s % 10) / 10,
                        0.3 + (s % 10) / 10, error, "[]", "{}", created))
                metrics_by_item[item_id] = (total, n)
                return scores

            for item, n in zip(items, per_item, strict=True):
                if n:
                    write(item["id"], n, item["tv_fractional"], rnd.uniform(0.3, 0.9))
            for size, first, second in self.compare_pairs:
                base = write(first, size, False, 0.72)
                write(second, size, False, 0.66, base=base)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_done (id bigint, done int, accuracy float)")
            with cursor.cursor.copy("COPY bench_done (id, done, accuracy) FROM STDIN") as copy:
                for item_id, (total, n) in metrics_by_item.items():
                    copy.write_row((item_id, n, total / n if n else None))
            cursor.execute(
                "UPDATE evaluations_runitem i SET done_samples = d.done, total_samples = d.done, "
                "metrics = jsonb_build_object('match', jsonb_build_object('accuracy', d.accuracy)) "
                "FROM bench_done d WHERE i.id = d.id")
            cursor.execute("DROP TABLE bench_done")

    # --- notifications, audit events, findings ---
    def search_index(self) -> None:
        """The samples' search vectors, as the indexing task fills them after an ingestion (migration 0012), in one
        statement."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("UPDATE evaluations_sampleresult SET search_vector = evaluations_sample_search_vector("
                           "output, input_text, explanation, messages) WHERE search_vector IS NULL")

    def rest(self) -> None:
        from evaluations.models import Finding, FindingRunItem, Notification
        from portal.audit import GENESIS_HASH, compute_hash, event_content
        from portal.models import AuditEvent

        by_email = {u.pk: u for u in self.users.values()}
        notifications = []
        for n, run in enumerate(r for r in self.run_rows if r["finished_at"]):
            notifications.append({
                "id": n + 1, "user_id": run["created_by_id"], "run_id": run["id"],
                "kind": "finished" if run["state"] != "failed" else "failed",
                "text": f"Run {run['id']} ({run['name']}) has {run['state'].replace('_', ' ')}.",
                "read_at": run["finished_at"] if n % 3 else None, "created_at": run["finished_at"]})
        _rows_copy(Notification, notifications)

        events = []
        prev = GENESIS_HASH
        for run in self.run_rows:
            actor = by_email[run["created_by_id"]]
            for action, at, after in (("run.create", run["created_at"], {"state": "draft"}),
                                      ("run.submit", run["submitted_at"], {"state": "submitted"})):
                if at is None:
                    continue
                event = AuditEvent(id=len(events) + 1, created_at=at, actor_id=actor.pk, actor_email=actor.email,
                                   organisation_id=actor.organisation_id, action=action,
                                   object_type="evaluations.run", object_id=str(run["id"]),
                                   exercise_id=run["exercise_id"], before=None, after=after, ip_address=None,
                                   user_agent="", prev_hash=prev)
                event.hash = compute_hash(prev, event_content(event))
                prev = event.hash
                events.append({f.attname: getattr(event, f.attname) for f in AuditEvent._meta.concrete_fields})
        _rows_copy(AuditEvent, events)

        findings, links = [], []
        items_by_exercise: dict[int, list[dict[str, Any]]] = {}
        runs_by_id = {r["id"]: r for r in self.run_rows}
        for item in self.items_with_samples:
            items_by_exercise.setdefault(runs_by_id[item["run_id"]]["exercise_id"], []).append(item)
        severities = ["informational", "low", "medium", "high", "critical"]
        states = ["draft", "draft", "in_review", "signed_off"]
        for n in range(max(30, self.n_runs // 100)):  # at least a full page (25) at every size
            exercise = self.exercises[n % len(self.exercises)]
            author = self.users["uk_staff" if n % 2 == 0 else "us_staff"]
            at = self.now - timedelta(hours=n)
            findings.append({"id": n + 1, "exercise_id": exercise.pk, "author_id": author.pk,
                             "owner_id": author.organisation_id, "title": f"Finding {n + 1}",
                             "summary": "The model **complied** with a request it should have refused.",
                             "severity": severities[n % 5], "risk_area_id": self.risk_areas[n % len(
                                 self.risk_areas)].pk, "state": states[n % 4], "created_at": at,
                             "updated_at": at, "submitted_at": at if n % 4 else None})
            candidates = items_by_exercise.get(exercise.pk) or self.items_with_samples
            if candidates:
                links.append({"id": n + 1, "finding_id": n + 1, "run_item_id": candidates[n % len(candidates)]["id"],
                              "samples": 0, "position": 1})
        _rows_copy(Finding, findings)
        _rows_copy(FindingRunItem, links)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--compare-samples", type=int, default=None,
                        help="samples in each item of the comparison pair (default min(10,000, samples // 4))")
    parser.add_argument("--database", default=None,
                        help="database name (default portal_scale_<runs>_<samples>)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the database holds this size")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    compare = args.compare_samples or min(10_000, args.samples // 4)
    database = args.database or f"portal_scale_{args.runs}_{args.samples}"
    load(database=database, runs=args.runs, samples=args.samples, compare_samples=compare, force=args.force,
         seed=args.seed)


def _vacuum() -> None:
    """``VACUUM ANALYZE``: what autovacuum does soon after a load in a running portal (statistics, and the visibility
    map that index-only scans need). A server with autovacuum off (a shared machine's may be) would otherwise keep
    the freshly loaded tables unvacuumed, and plans unlike production's. Cheap when nothing changed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def load(*, database: str, runs: int, samples: int, compare_samples: int, force: bool = False,
         seed: int = 13) -> None:
    """Make ``database`` hold the scale data (reused when it already does); leaves DATABASE_URL pointing at it
    and Django set up."""
    start = time.perf_counter()
    reuse = database_prepare(database=database, runs=runs, samples=samples, force=force)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)  # a reused database gets the migrations (indexes) added since
    if reuse:
        _vacuum()
        print(f"{database}: already holds {runs:,} runs and {samples:,} samples (version {VERSION}); reused.")
        return
    migrated = time.perf_counter()
    print(f"{database}: created and migrated in {migrated - start:.1f} s", flush=True)
    loader = Loader(runs=runs, samples=samples, compare_samples=compare_samples, seed=seed)
    timings = {}
    with transaction.atomic():
        for name in ("base", "runs", "samples", "search_index", "rest"):
            t0 = time.perf_counter()
            getattr(loader, name)()
            timings[name] = time.perf_counter() - t0
            print(f"  {name}: {timings[name]:.1f} s", flush=True)
        _sequences_reset()
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_scale_info (runs int, samples int, version int, pairs jsonb)")
            cursor.execute("INSERT INTO bench_scale_info VALUES (%s, %s, %s, %s)",
                           [runs, samples, VERSION, json.dumps(loader.compare_pairs)])
    t0 = time.perf_counter()
    _vacuum()
    print(f"  vacuum and analyze: {time.perf_counter() - t0:.1f} s")
    from evaluations.models import Run, RunItem, SampleResult

    print(f"{database}: {Run.objects.count():,} runs, {RunItem.objects.count():,} items, "
          f"{SampleResult.objects.count():,} samples; compare pairs (samples, item, item): {loader.compare_pairs}; "
          f"loaded in {time.perf_counter() - migrated:.1f} s (total {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
