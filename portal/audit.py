"""The audit trail's one writer. Call ``audit_record`` inside the service's transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from portal.models import AuditEvent

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 0x5EA1A0D1  # pg_advisory_xact_lock key serialising appends to the chain


def _canonical(value: Any) -> Any:
    """JSON-safe, stable form (dates, decimals, UUIDs as strings), storable by PostgreSQL: jsonb (and text) cannot
    hold a NUL, so one in a string (a request path in a token's write, ``/api/v1/findings/%00/submit/``) is kept as
    the four characters ``\\x00``; an event is never lost to it (the insert would fail, and the request with it)."""
    return _without_nul(json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def event_content(event: AuditEvent) -> dict[str, Any]:
    """The fields covered by the hash, in canonical form."""
    return {
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "organisation_id": event.organisation_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "exercise_id": event.exercise_id,
        "before": _canonical(event.before),
        "after": _canonical(event.after),
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }


def compute_hash(prev_hash: str, content: dict[str, Any]) -> str:
    payload = prev_hash + json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(payload.encode()).hexdigest()


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    exercise_id: int | None = None,
    actor_email: str = "",
) -> AuditEvent:
    """Append one event. Never put a secret in ``before``/``after``."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor if authenticated else None,
            actor_email=(actor.email if authenticated else actor_email)[:254],
            organisation_id=getattr(actor, "organisation_id", None) if authenticated else None,
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            exercise_id=exercise_id,
            before=_canonical(before) if before is not None else None,
            after=_canonical(after) if after is not None else None,
            ip_address=client_ip(request),
            user_agent=_without_nul(request.headers.get("User-Agent", "") if request is not None else "")[:500],
            prev_hash=last or GENESIS_HASH,
        )
        event.hash = compute_hash(event.prev_hash, event_content(event))
        event.save(force_insert=True)
    return event


def audit_chain_head(*, lock: bool = False) -> str:
    """The hash of the newest event (``GENESIS_HASH`` for an empty trail). ``lock``: first take the append lock for
    the rest of the caller's transaction, so the next ``audit_record`` of that transaction follows this head."""
    if lock:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH


class ChainResult:
    def __init__(
        self, *, ok: bool, checked: int, broken_id: int | None = None, reason: str = "", anchors_checked: int = 0,
        anchor_name: str = "",
    ) -> None:
        self.ok = ok
        self.checked = checked
        self.broken_id = broken_id
        self.reason = reason
        self.anchors_checked = anchors_checked
        self.anchor_name = anchor_name  # the anchor file that disagrees with the trail, when one does


class AnchorLike(Protocol):
    """An exported chain head (``portal.anchors.Anchor``)."""

    @property
    def event_id(self) -> int: ...

    @property
    def hash(self) -> str: ...

    @property
    def name(self) -> str: ...


def audit_chain_verify(*, anchors: Sequence[AnchorLike] = ()) -> ChainResult:
    """Walk the chain in id order. A row whose hash does not match its content, or whose ``prev_hash`` is not
    the previous row's hash (a row deleted or inserted out of chain), breaks it. Each anchor (a head exported
    earlier, ``portal/anchors.py``) must still be in the chain with the same hash: an anchored row that is gone
    means rows were deleted (from the end of the trail, where the chain alone cannot show it); another hash means
    the row or one before it was rewritten and the chain recomputed."""
    pending = sorted(anchors, key=lambda anchor: anchor.event_id)
    position = 0
    prev = GENESIS_HASH
    checked = 0
    last_id: int | None = None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != prev:
            return ChainResult(
                ok=False, checked=checked, broken_id=event.pk, anchors_checked=position,
                reason="its previous-hash does not match the row before it: a row before it is missing or was changed.",
            )
        if compute_hash(event.prev_hash, event_content(event)) != event.hash:
            return ChainResult(
                ok=False, checked=checked, broken_id=event.pk, anchors_checked=position,
                reason="its content does not match its hash: the row was edited.",
            )
        while position < len(pending) and pending[position].event_id <= event.pk:
            anchor = pending[position]
            if anchor.event_id < event.pk:
                return ChainResult(
                    ok=False, checked=checked, broken_id=anchor.event_id, anchors_checked=position,
                    anchor_name=anchor.name,
                    reason=f"it is missing, but the anchor {anchor.name} exported it: rows were deleted.",
                )
            if anchor.hash != event.hash:
                return ChainResult(
                    ok=False, checked=checked, broken_id=event.pk, anchors_checked=position, anchor_name=anchor.name,
                    reason=(f"its hash does not match the anchor {anchor.name}: this row or one before it was "
                            "rewritten and the chain recomputed."),
                )
            position += 1
        prev = event.hash
        last_id = event.pk
        checked += 1
    if position < len(pending):
        anchor = pending[position]
        ends = f"the trail ends at event id {last_id}" if last_id is not None else "the trail is empty"
        return ChainResult(
            ok=False, checked=checked, broken_id=anchor.event_id, anchors_checked=position, anchor_name=anchor.name,
            reason=(f"it is missing: {ends}, but the anchor {anchor.name} exported event id {anchor.event_id}. "
                    "Events were deleted from the end of the trail."),
        )
    return ChainResult(ok=True, checked=checked, anchors_checked=position)
