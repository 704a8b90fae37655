"""Callbacks that record what the engine reports (the Celery task's callbacks write to the database instead)."""

from __future__ import annotations

import threading
import time

from evaluations.engine import SampleEvent


class RecordingCallbacks:
    def __init__(self, *, cancel_after_samples: int | None = None) -> None:
        self.total_samples: int | None = None
        self.started = 0
        self.events: list[SampleEvent] = []
        self.cancel_after_samples = cancel_after_samples
        self.cancel_requested_at: float | None = None
        self._lock = threading.Lock()
        self.threads: set[int] = set()

    def on_start(self, *, total_samples: int | None) -> None:
        self.threads.add(threading.get_ident())
        self.started += 1
        self.total_samples = total_samples

    def on_sample(self, event: SampleEvent) -> None:
        self.threads.add(threading.get_ident())
        with self._lock:
            self.events.append(event)

    def should_cancel(self) -> bool:
        self.threads.add(threading.get_ident())
        with self._lock:
            wanted = self.cancel_after_samples is not None and len(self.events) >= self.cancel_after_samples
        if wanted and self.cancel_requested_at is None:
            self.cancel_requested_at = time.monotonic()
        return wanted
