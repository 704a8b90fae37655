"""Anchors of the audit trail outside the database (issue 14).

The hash chain (``portal/audit.py``) shows a row that was edited, or deleted in the middle, but not rows deleted from
the end: the shortened chain is still consistent. So beat exports the chain head (event id, hash, the event's time and
the export time) every ``AUDIT_ANCHOR_INTERVAL_SECONDS`` to storage the database cannot write: ``AUDIT_ANCHOR_PATH``
when set, else the log storage (``default_storage``: ``MEDIA_ROOT`` or the S3 bucket) under ``audit-anchors/``.
Each anchor is its own small file, written once and never overwritten (so it works the same on S3, where nothing
can be appended to an object); its name carries the id and hash, so verifying needs only a listing.
``manage.py audit_verify`` then checks the chain against every anchor (``portal.audit.audit_chain_verify``)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.utils import timezone

from portal.models import AuditEvent

logger = logging.getLogger(__name__)

ANCHOR_PREFIX = "audit-anchors"
ANCHOR_EXPORT_TASK = "portal.audit_anchor_export"  # portal.tasks.audit_anchor_export's name= (beat schedules it)
_NAME = re.compile(r"^(?P<id>\d{20})-(?P<hash>[0-9a-f]{64})(?:_[A-Za-z0-9]+)?\.json$")


@dataclass(frozen=True)
class Anchor:
    event_id: int
    hash: str
    name: str  # the file's name in the anchor storage


def anchor_storage() -> tuple[Storage, str]:
    """The storage anchors go to and the folder inside it."""
    if settings.AUDIT_ANCHOR_PATH:
        return FileSystemStorage(location=settings.AUDIT_ANCHOR_PATH, file_permissions_mode=0o440), ""
    return default_storage, ANCHOR_PREFIX


def anchor_location() -> str:
    """Where the anchors are, in words, for messages."""
    if settings.AUDIT_ANCHOR_PATH:
        return str(settings.AUDIT_ANCHOR_PATH)
    if settings.S3_BUCKET:
        return f"s3://{settings.S3_BUCKET}/{ANCHOR_PREFIX}/"
    return f"{settings.MEDIA_ROOT}/{ANCHOR_PREFIX}/"


def _file_name(event_id: int, event_hash: str) -> str:
    return f"{event_id:020d}-{event_hash}.json"


def audit_anchor_export(*, now: datetime | None = None) -> Anchor | None:
    """Export the chain head as a new anchor file. Idempotent: when the head has an anchor already (nothing was
    recorded since), nothing is written and ``None`` is returned; an empty trail has no head to export."""
    head = AuditEvent.objects.order_by("-id").values("id", "hash", "created_at").first()
    if head is None:
        return None
    storage, folder = anchor_storage()
    base = _file_name(head["id"], head["hash"])
    name = f"{folder}/{base}" if folder else base
    if storage.exists(name):
        return None
    body = {
        "event_id": head["id"],
        "hash": head["hash"],
        "event_created_at": head["created_at"].isoformat(),
        "exported_at": (now or timezone.now()).isoformat(),
    }
    saved = storage.save(name, ContentFile(json.dumps(body, sort_keys=True).encode() + b"\n"))
    logger.info("audit anchor exported: event id %s to %s", head["id"], saved)
    return Anchor(event_id=head["id"], hash=head["hash"], name=saved)


def audit_anchors_list() -> list[Anchor]:
    """Every anchor in the anchor storage, oldest event first. Raises ``OSError`` (or the storage's error) when the
    storage cannot be read; a folder that does not exist yet holds no anchors."""
    storage, folder = anchor_storage()
    try:
        _dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    anchors = []
    for file_name in files:
        match = _NAME.match(file_name)
        if match is None:
            continue  # not an anchor (a README an operator left, say)
        anchors.append(Anchor(
            event_id=int(match["id"]), hash=match["hash"], name=f"{folder}/{file_name}" if folder else file_name,
        ))
    anchors.sort(key=lambda anchor: (anchor.event_id, anchor.name))
    return anchors


def audit_anchor_read(*, name: str) -> dict[str, object]:
    """The content of one anchor file (``event_id``, ``hash``, ``event_created_at``, ``exported_at``)."""
    storage, _folder = anchor_storage()
    with storage.open(name, "rb") as handle:
        content = json.loads(handle.read())
    return content if isinstance(content, dict) else {}
