"""Writes of the evaluation catalogue: tasks from Inspect's registry (validated against the task function's
signature) and custom evaluations from an uploaded CSV/JSONL dataset (validated row by row, streamed, stored with
its sha256). Editing makes a new TaskVersion; versions are never edited. Every write is audited. Reading Inspect's
catalogue and parsing datasets are evaluations.inspectai's."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import CREATE, DELETE, EDIT, require, visible_to
from evaluations.inspectai.catalogue import catalogue_entry, task_args_validate
from evaluations.inspectai.datasets import SCORERS, SOLVERS, ParsedDataset, dataset_parse
from evaluations.models import EvalTask, ModelVersion, TaskVersion
from evaluations.selectors.comparisons import cluster_field_clean
from evaluations.services.exercises import exercises_chosen_validate
from portal.audit import audit_record
from portal.limits import LINE_MAX, NAME_MAX, PROMPT_MAX, text_check


def _name_validate(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX:
        raise ValidationError({"name": [f"Enter a name of 1 to {NAME_MAX} characters."]})
    return name


def _description_validate(description: Any) -> str:
    return text_check(description, field="description", label="The description")


def _cluster_field_validate(value: Any) -> str:
    """The metadata field comparisons cluster samples by ("" for none): letters, digits, _ . or -."""
    if value is not None and not isinstance(value, str):
        raise ValidationError({"cluster_field": ["Enter a metadata field name, like passage_id."]})
    return cluster_field_clean(value, field="cluster_field")


def _arguments_text_validate(solver_args: Any, scorer_args: Any) -> None:
    """The system prompt and the pattern are held to their lengths whichever solver and scorer use them."""
    errors: dict[str, list[str]] = {}
    for args, key, label, limit in ((solver_args, "system_prompt", "The system prompt", PROMPT_MAX),
                                    (scorer_args, "pattern", "The pattern", LINE_MAX)):
        try:
            text_check((args or {}).get(key), field=key, label=label, limit=limit)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def solver_scorer_validate(*, user: Any, solver: str, solver_args: dict[str, Any] | None, scorer: str,
                           scorer_args: dict[str, Any] | None, grader_model_version: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    solver = solver or "generate"
    solver_args = dict(solver_args or {})
    scorer_args = dict(scorer_args or {})
    try:
        _arguments_text_validate(solver_args, scorer_args)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if solver not in SOLVERS:
        errors["solver"] = [f"Choose a solver: {', '.join(SOLVERS)}."]
    if solver == "system_prompt_generate":
        prompt = (solver_args.get("system_prompt") or "").strip()
        if not prompt:
            errors["system_prompt"] = ["Enter the system prompt."]
        solver_args = {"system_prompt": prompt}
    else:
        solver_args = {}
    if scorer not in SCORERS:
        errors["scorer"] = [f"Choose a scorer: {', '.join(SCORERS)}."]
    grader = None
    if scorer == "pattern":
        regex = scorer_args.get("pattern") or ""
        try:
            compiled = re.compile(regex)
            if not regex or compiled.groups < 1:
                raise re.error("needs a group")
        except re.error:
            errors["pattern"] = ["Enter a regular expression with one group that captures the answer, e.g. ANSWER: (\\w+)."]
        scorer_args = {"pattern": regex}
    elif scorer == "model_graded_qa":
        mv = grader_model_version
        if mv in (None, ""):
            errors["grader_model_version"] = ["Choose the grader model."]
        else:
            pk = mv.pk if isinstance(mv, ModelVersion) else mv
            grader = visible_to(user, ModelVersion.objects.all()).filter(
                pk=pk, registered_model__archived_at__isnull=True).first()
            if grader is None:
                errors["grader_model_version"] = ["Choose a grader model from the registry."]
        scorer_args = {}
    else:
        scorer_args = {}
    if scorer == "choice" and solver != "multiple_choice":
        errors["scorer"] = ["The choice scorer needs the multiple choice solver."]
    if errors:
        raise ValidationError(errors)
    return {"solver": solver, "solver_args": solver_args, "scorer": scorer, "scorer_args": scorer_args,
            "grader_model_version": grader}


def task_snapshot(task: EvalTask) -> dict[str, Any]:
    v = task.current_version
    return {
        "name": task.name, "description": task.description, "owner": task.owner_id,
        "exercises": sorted(task.exercises.values_list("pk", flat=True)),
        "archived": task.archived_at is not None,
        "version": None if v is None else {
            "number": v.number, "kind": v.kind, "registry_name": v.registry_name, "args": v.args,
            "dataset_sha256": v.dataset_sha256, "dataset_name": v.dataset_name, "sample_count": v.sample_count,
            "solver": v.solver, "solver_args": v.solver_args, "scorer": v.scorer, "scorer_args": v.scorer_args,
            "grader_model_version": v.grader_model_version_id, "cluster_field": v.cluster_field,
        },
    }


def _save_dataset_version(*, eval_task: EvalTask, number: int, user: Any, upload: Any, parsed: ParsedDataset,
                          choice: dict[str, Any], cluster_field: str = "") -> TaskVersion:
    version = TaskVersion(
        eval_task=eval_task, number=number, kind=TaskVersion.Kind.DATASET, registry_name="portal_dataset",
        dataset_sha256=parsed.sha256, sample_count=parsed.sample_count, dataset_format=parsed.format,
        dataset_name=PurePath(upload.name or "").name[:255], preview=parsed.preview, created_by=user,
        solver=choice["solver"], solver_args=choice["solver_args"], scorer=choice["scorer"],
        scorer_args=choice["scorer_args"], grader_model_version=choice["grader_model_version"],
        cluster_field=cluster_field,
    )
    upload.seek(0)
    version.dataset_file.save(f"{parsed.sha256}.{parsed.format}", File(upload), save=False)
    stored = str(version.dataset_file.name)
    try:
        version.save()
        version.args = {"task_version_id": version.pk}
        version.save(update_fields=["args"])
    except Exception:
        version.dataset_file.storage.delete(stored)
        raise
    _saved_files().append((stored, version.dataset_file.storage))
    return version


_local = threading.local()


def _saved_files() -> list[tuple[str, Any]]:
    if not hasattr(_local, "files"):
        _local.files = []
    return _local.files  # type: ignore[no-any-return]


def _atomic_with_file_cleanup(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a transaction; delete dataset files it saved if the transaction fails (nothing half-saved)."""
    files = _saved_files()
    mark = len(files)
    try:
        with transaction.atomic():
            result = fn()
    except BaseException:
        for name, storage in files[mark:]:
            storage.delete(name)
        raise
    finally:
        del files[mark:]
    return result


def task_create_registry(*, user: Any, name: str, exercises: list[Any], registry_name: str,
                         args: Any = None, description: str = "", cluster_field: str = "",
                         request: HttpRequest | None = None) -> EvalTask:
    require(user, CREATE, EvalTask)
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, fn in [("name", lambda: _name_validate(name)),
                    ("description", lambda: _description_validate(description)),
                    ("exercises", lambda: exercises_chosen_validate(user=user, exercises=exercises)),
                    ("args", lambda: task_args_validate(registry_name=registry_name, args=args)),
                    ("cluster_field", lambda: _cluster_field_validate(cluster_field))]:
        try:
            clean[key] = fn()
        except ValidationError as exc:
            for k, v in (exc.message_dict if hasattr(exc, "error_dict") else {"registry_name": exc.messages}).items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationError(errors)
    entry = catalogue_entry(registry_name)

    def create() -> EvalTask:
        task = EvalTask.objects.create(name=clean["name"], description=clean["description"], owner_id=user.organisation_id,
                                       created_by=user)
        task.exercises.set(clean["exercises"])
        TaskVersion.objects.create(eval_task=task, number=1, kind=TaskVersion.Kind.REGISTRY,
                                   registry_name=registry_name, args=clean["args"], created_by=user,
                                   needs_network=bool(entry and entry.needs_network),
                                   cluster_field=clean["cluster_field"])
        audit_record(actor=user, action="task.create", obj=task, after=task_snapshot(task), request=request,
                     exercise_id=clean["exercises"][0].pk)
        return task

    return _atomic_with_file_cleanup(create)  # type: ignore[no-any-return]


def task_create_dataset(*, user: Any, name: str, exercises: list[Any], upload: Any, solver: str = "generate",
                        scorer: str = "includes", solver_args: dict[str, Any] | None = None,
                        scorer_args: dict[str, Any] | None = None, grader_model_version: Any = None,
                        description: str = "", cluster_field: str = "",
                        request: HttpRequest | None = None) -> EvalTask:
    require(user, CREATE, EvalTask)
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, fn in [("name", lambda: _name_validate(name)),
                    ("description", lambda: _description_validate(description)),
                    ("exercises", lambda: exercises_chosen_validate(user=user, exercises=exercises)),
                    ("choice", lambda: solver_scorer_validate(user=user, solver=solver, solver_args=solver_args,
                                                              scorer=scorer, scorer_args=scorer_args,
                                                              grader_model_version=grader_model_version)),
                    ("cluster_field", lambda: _cluster_field_validate(cluster_field))]:
        try:
            clean[key] = fn()
        except ValidationError as exc:
            for k, v in exc.message_dict.items():
                errors.setdefault(k, []).extend(v)
    if upload is None:
        errors.setdefault("dataset", []).append("Choose a CSV or JSONL file to upload.")
    elif "choice" in clean:
        try:
            clean["parsed"], _ = dataset_parse(
                upload, filename=upload.name,
                needs_choices="multiple_choice" in (clean["choice"]["solver"], clean["choice"]["scorer"])
                or clean["choice"]["scorer"] == "choice")
        except ValidationError as exc:
            for k, v in exc.message_dict.items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationError(errors)

    def create() -> EvalTask:
        task = EvalTask.objects.create(name=clean["name"], description=clean["description"], owner_id=user.organisation_id,
                                       created_by=user)
        task.exercises.set(clean["exercises"])
        _save_dataset_version(eval_task=task, number=1, user=user, upload=upload, parsed=clean["parsed"],
                              choice=clean["choice"], cluster_field=clean["cluster_field"])
        audit_record(actor=user, action="task.create", obj=task, after=task_snapshot(task), request=request,
                     exercise_id=clean["exercises"][0].pk)
        return task

    return _atomic_with_file_cleanup(create)  # type: ignore[no-any-return]


def task_update(*, user: Any, eval_task: EvalTask, request: HttpRequest | None = None,
                **changes: Any) -> tuple[EvalTask, TaskVersion | None]:
    """Name, description and exercises change in place; registry args, dataset, solver or scorer make a new
    version. ``cluster_field`` (an analysis setting: it changes no score) changes in place on the current version
    and is carried to any new one."""
    require(user, EDIT, eval_task)
    current = eval_task.current_version
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if "name" in changes:
        try:
            clean["name"] = _name_validate(changes["name"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if changes.get("description") is not None:
        try:
            clean["description"] = _description_validate(changes["description"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if changes.get("exercises") is not None:
        try:
            clean["exercises"] = exercises_chosen_validate(user=user, exercises=changes["exercises"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        _arguments_text_validate(changes.get("solver_args"), changes.get("scorer_args"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "cluster_field" in changes:
        try:
            clean["cluster_field"] = _cluster_field_validate(changes["cluster_field"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    new_values: dict[str, Any] | None = None
    upload = changes.get("upload")
    if current is not None and current.kind == TaskVersion.Kind.REGISTRY:
        if "args" in changes and changes["args"] is not None:
            try:
                args = task_args_validate(registry_name=current.registry_name, args=changes["args"])
                if args != current.args:
                    new_values = {"args": args}
            except ValidationError as exc:
                errors.update(exc.message_dict)
    elif current is not None:
        keys = ("solver", "solver_args", "scorer", "scorer_args", "grader_model_version")
        wanted = {
            "solver": changes.get("solver") or current.solver,
            "solver_args": changes["solver_args"] if changes.get("solver_args") is not None else current.solver_args,
            "scorer": changes.get("scorer") or current.scorer,
            "scorer_args": changes["scorer_args"] if changes.get("scorer_args") is not None else current.scorer_args,
            "grader_model_version": changes.get("grader_model_version") or current.grader_model_version_id,
        }
        try:
            choice = solver_scorer_validate(user=user, **wanted)
            parsed = None
            if upload is not None:
                parsed, _ = dataset_parse(upload, filename=str(upload.name or ""),
                                          needs_choices="multiple_choice" in (choice["solver"], choice["scorer"])
                                          or choice["scorer"] == "choice")
            changed = parsed is not None and parsed.sha256 != current.dataset_sha256
            for k in keys:
                old = current.grader_model_version if k == "grader_model_version" else getattr(current, k)
                if choice[k] != old:
                    changed = True
            if changed:
                new_values = {"choice": choice, "parsed": parsed}
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    def update() -> tuple[EvalTask, TaskVersion | None]:
        task = EvalTask.objects.select_for_update().get(pk=eval_task.pk)
        before = task_snapshot(task)
        if "name" in clean:
            task.name = clean["name"]
        if "description" in clean:
            task.description = clean["description"]
        task.save()
        if "exercises" in clean:
            task.exercises.set(clean["exercises"])
        version = None
        assert current is not None
        if "cluster_field" in clean and clean["cluster_field"] != current.cluster_field:
            TaskVersion.objects.filter(pk=current.pk).update(cluster_field=clean["cluster_field"])
            current.cluster_field = clean["cluster_field"]
        number = current.number + 1
        if new_values is not None and current.kind == TaskVersion.Kind.REGISTRY:
            version = TaskVersion.objects.create(eval_task=task, number=number, kind=current.kind,
                                                 registry_name=current.registry_name, args=new_values["args"],
                                                 needs_network=current.needs_network, created_by=user,
                                                 cluster_field=current.cluster_field)
        elif new_values is not None:
            parsed = new_values["parsed"]
            if parsed is not None:
                version = _save_dataset_version(eval_task=task, number=number, user=user, upload=upload,
                                                parsed=parsed, choice=new_values["choice"],
                                                cluster_field=current.cluster_field)
            else:  # same file, new solver/scorer: the new version points at the same stored file
                c = new_values["choice"]
                version = TaskVersion.objects.create(
                    eval_task=task, number=number, kind=current.kind, registry_name="portal_dataset",
                    dataset_file=current.dataset_file.name, dataset_sha256=current.dataset_sha256,
                    dataset_name=current.dataset_name, dataset_format=current.dataset_format,
                    sample_count=current.sample_count, preview=current.preview, created_by=user,
                    solver=c["solver"], solver_args=c["solver_args"], scorer=c["scorer"],
                    scorer_args=c["scorer_args"], grader_model_version=c["grader_model_version"],
                    cluster_field=current.cluster_field)
                version.args = {"task_version_id": version.pk}
                version.save(update_fields=["args"])
        after = task_snapshot(task)
        if after != before:
            audit_record(actor=user, action="task.update", obj=task, before=before, after=after, request=request,
                         exercise_id=after["exercises"][0] if after["exercises"] else None)
        return task, version

    return _atomic_with_file_cleanup(update)  # type: ignore[no-any-return]


@transaction.atomic
def task_archive(*, user: Any, eval_task: EvalTask, request: HttpRequest | None = None) -> None:
    task = EvalTask.objects.select_for_update().get(pk=eval_task.pk)
    require(user, DELETE, task)
    before = task_snapshot(task)
    task.archived_at = timezone.now()
    task.save(update_fields=["archived_at"])
    audit_record(actor=user, action="task.archive", obj=task, before=before, after=task_snapshot(task),
                 request=request, exercise_id=before["exercises"][0] if before["exercises"] else None)
