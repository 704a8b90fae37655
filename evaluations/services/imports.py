"""Import of an Inspect log made elsewhere: validated, then saved as a finished run with one item, all or nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import require
from evaluations import engine
from evaluations.models import Exercise, Run, RunItem
from evaluations.models.runs import ItemState, RunState
from evaluations.services.execution import samples_ingest
from evaluations.services.runs import NOT_IN_EXERCISE
from portal.audit import audit_record


def run_import(*, actor: Any, exercise: Exercise, upload: Any, request: HttpRequest | None = None) -> Run:
    require(actor, "create", Run(exercise=exercise), NOT_IN_EXERCISE)
    name = Path(getattr(upload, "name", "") or "log").name
    suffix = ".json" if name.lower().endswith(".json") else ".eval"
    limit = settings.RUNS_IMPORT_MAX_BYTES
    if getattr(upload, "size", 0) and upload.size > limit:
        raise ValidationError({"file": f"The file is too large (at most {limit // 2**20} MB)."})
    handle, tmp = tempfile.mkstemp(suffix=suffix)
    stored = ""
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        try:
            summary = engine.validate_log_file(tmp)
        except ValueError as exc:
            raise ValidationError({"file": str(exc)}) from None
        with transaction.atomic():
            now = timezone.now()
            run = Run.objects.create(
                exercise=exercise, created_by=actor, owner_id=actor.organisation_id, origin=Run.Origin.IMPORTED,
                name=f"Imported: {summary.task} on {summary.model}"[:200], state=RunState.SUCCEEDED,
                finished_at=now,
            )
            item = RunItem.objects.create(
                run=run, model_label=summary.model[:300], task_label=summary.task[:300], state=ItemState.SUCCEEDED,
                total_samples=summary.total_samples, metrics=summary.metrics, finished_at=now,
            )
            try:
                samples_ingest(item_id=item.pk, log_path=tmp)
            except Exception as exc:
                raise ValidationError(
                    {"file": f"The log's samples cannot be read ({type(exc).__name__}); nothing was imported."}
                ) from None
            item.done_samples = item.samples.count()
            item.error_samples = item.samples.exclude(error="").count()
            with open(tmp, "rb") as src:
                stored = default_storage.save(f"run-logs/{run.pk}/{item.pk}/imported{suffix}", File(src))
            item.log_path = stored
            item.save(update_fields=["done_samples", "error_samples", "log_path"])
            if summary.status != "success":
                run.state = RunState.PARTIALLY_SUCCEEDED if item.done_samples else RunState.FAILED
                item.state = ItemState.FAILED
                item.save(update_fields=["state"])
                run.save(update_fields=["state"])
            audit_record(actor=actor, action="run.import", obj=run, request=request, exercise_id=exercise.pk,
                         after={"task": summary.task, "model": summary.model, "samples": item.done_samples,
                                "eval_id": summary.eval_id, "file": name})
        return run
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)
