"""Search indexing of samples (issue 13 part 7 and "Speed"): a sample's ``search_vector`` is filled after its item's
samples are ingested, not on insert (a generated column made every insert ~9 times slower; migration 0012).

- ``samples_index(item_id=)``: fills the item's unindexed rows in batches, each batch one conditional
  ``UPDATE ... WHERE search_vector IS NULL`` with ``evaluations_sample_search_vector`` (the expression the generated
  column had). Idempotent, and two indexers of one item never wait on each other (``SKIP LOCKED``).
- ``samples_index_on_commit(item_id=)``: sends the indexing task once the caller's transaction commits; called by
  ``execution.samples_ingest``, the one function every ingestion (a worker's item, an imported log) goes through.
- ``samples_index_sweep()``: the beat's safety net: sends the task for every finished item that still has unindexed
  rows (a worker died, Redis lost the message). ``manage.py search_index`` indexes them in its own process.

Until a row is indexed it is not found by search; the search page says how many samples are still being indexed
(``selectors.search.samples_unindexed_count``)."""

from __future__ import annotations

import logging

from django.db import connection, transaction

from evaluations.selectors.search import items_unindexed
from portal.queue import enqueue

logger = logging.getLogger(__name__)

# The tasks this module sends (their explicit name= in evaluations/tasks/search.py).
INDEX_TASK = "evaluations.samples_search_index"
SWEEP_TASK = "evaluations.samples_search_index_sweep"
INDEX_BATCH = 1000  # rows per UPDATE (one short transaction each)
SWEEP_ITEMS = 500  # items sent per sweep at most (the next sweep takes the rest)

# One batch of one item: the next unindexed rows after ``after`` in id order, from the partial index
# evaluations_sampleresult_unindexed, locked (rows another indexer holds are skipped: it fills them). FOR UPDATE checks
# ``search_vector IS NULL`` again on the newest version of each row it locks, so the UPDATE only ever fills a row that
# has no vector (and no one can change it in between). The ids go to the UPDATE as an array (an InitPlan run once, then
# ``id = ANY(...)`` on the primary key): written as ``id IN (subquery)``, the planner, with statistics from before an
# ingestion (every row indexed, the partial index empty), joined the whole partial index to the subquery row by row
# (9 minutes for one batch of a freshly loaded 1,000,000-row table instead of milliseconds).
_INDEX_BATCH_SQL = """
    UPDATE evaluations_sampleresult AS s
    SET search_vector = evaluations_sample_search_vector(s.output, s.input_text, s.explanation, s.messages)
    WHERE s.id = ANY(ARRAY(SELECT id FROM evaluations_sampleresult
                           WHERE item_id = %s AND search_vector IS NULL AND id > %s
                           ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED))
    RETURNING s.id
"""


def samples_index(*, item_id: int, batch_size: int = INDEX_BATCH) -> int:
    """Fill ``search_vector`` of the item's rows that have none; returns how many rows this call indexed. Safe to call
    any time, any number of times, also while the item is being ingested (rows inserted later are left for the next
    call)."""
    indexed, after = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            # The vectors are derived data: a commit need not wait for the disk (a crash loses at most the last
            # batches' vectors, whose rows stay NULL until the sweep indexes them again).
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(_INDEX_BATCH_SQL, [item_id, after, batch_size])
            ids = [row[0] for row in cursor.fetchall()]
        indexed += len(ids)
        if len(ids) < batch_size:
            return indexed
        after = max(ids)


def samples_index_on_commit(*, item_id: int) -> None:
    """Send the indexing task of the item once the current transaction commits (at once outside one). A broker that
    refuses the message never fails the ingestion: it is logged, and the sweep sends the task later."""

    def send() -> None:
        try:
            enqueue(INDEX_TASK, item_id)
        except Exception:
            logger.exception("item %s: the search indexing task could not be sent; the sweep will", item_id)

    transaction.on_commit(send)


def samples_index_sweep() -> list[int]:
    """Send the indexing task for each finished item that still has unindexed rows; returns the items."""
    items = items_unindexed(limit=SWEEP_ITEMS)
    for item_id in items:
        enqueue(INDEX_TASK, item_id)
    return items


def samples_index_all(*, finished_only: bool = True) -> tuple[int, int]:
    """Index, in this process, every item's unindexed rows (``manage.py search_index``: after a restore, or with no
    worker); returns (items, rows) indexed."""
    items = rows = 0
    after = 0
    while batch := items_unindexed(limit=SWEEP_ITEMS, after=after, finished_only=finished_only):
        for item_id in batch:
            rows += samples_index(item_id=item_id)
        items += len(batch)
        after = batch[-1]
    return items, rows
