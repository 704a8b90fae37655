"""Search indexing off the sample insert path (issue 13, "Speed"): ``evaluations_sampleresult.search_vector`` becomes a
plain nullable ``tsvector`` column, filled after ingestion by ``evaluations.services.search.samples_index`` (a Celery
task enqueued when an item's samples are ingested, and a sweep for rows left NULL). As a generated column it made
every sample insert ~9 times slower (tokenising and stemming ~120 words per sample, and the GIN entries:
bench/search_scale.py, docs/benchmarks.md section 7).

- ``evaluations_sample_search_vector(output, input_text, explanation, messages)``: the very expression of the
  generated column of migration 0009 (so a row indexed now has the vector it had), as an IMMUTABLE SQL function; a
  NULL result (never seen: the text columns are NOT NULL) becomes an empty vector, so that an indexed row is never
  taken for an unindexed one.
- ``DROP EXPRESSION`` keeps every stored value (PostgreSQL 13+; a change of the catalogue only, no table rewrite).
- A partial index on ``(item_id, id) WHERE search_vector IS NULL``: what the indexer walks (one item, in id order) and
  what the search page counts ("N samples are still being indexed"); empty once everything is indexed.
- A trigger resets the vector to NULL when an UPDATE changes a sample's texts (a retry's upsert of a re-run sample,
  or any edit) without setting the vector itself, so a stale vector is never searched; the indexer fills it again.
  Only UPDATEs fire it: an INSERT pays nothing.

Findings, evidence items and releases keep their generated columns: they are written one at a time by people (a few
per exercise, not 100,000 per item), and a finding must be found by its new title as soon as it is saved.
"""

from django.db import migrations

VECTOR = r"""
    setweight(to_tsvector('english', left(output, 40000)), 'A')
    || setweight(to_tsvector('english', left(input_text, 40000)), 'B')
    || setweight(to_tsvector('english', left(explanation, 10000)), 'C')
    || setweight(to_tsvector('english', replace(replace(replace(replace(left(
           jsonb_path_query_array(messages, '$[*].content ? (@.type() == "string")')::text || ' '
           || jsonb_path_query_array(messages, '$[*].content[*].text')::text, 60000),
           '\n', ' '), '\r', ' '), '\t', ' '), '\"', '"')), 'D')
"""

# S608/B608 below: the SQL is formatted with this module's constant VECTOR only, never with input.
FORWARD = (
    rf"""
CREATE OR REPLACE FUNCTION evaluations_sample_search_vector(output text, input_text text, explanation text,
                                                            messages jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce({VECTOR}, ''::tsvector)
$$;

ALTER TABLE evaluations_sampleresult ALTER COLUMN search_vector DROP EXPRESSION;

CREATE INDEX evaluations_sampleresult_unindexed ON evaluations_sampleresult (item_id, id)
    WHERE search_vector IS NULL;

CREATE OR REPLACE FUNCTION evaluations_sampleresult_search_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER evaluations_sampleresult_search_reset
    BEFORE UPDATE OF output, input_text, explanation, messages ON evaluations_sampleresult
    FOR EACH ROW
    WHEN ((OLD.output IS DISTINCT FROM NEW.output OR OLD.input_text IS DISTINCT FROM NEW.input_text
           OR OLD.explanation IS DISTINCT FROM NEW.explanation OR OLD.messages IS DISTINCT FROM NEW.messages)
          AND NEW.search_vector IS NOT DISTINCT FROM OLD.search_vector)
    EXECUTE FUNCTION evaluations_sampleresult_search_reset();
"""  # noqa: S608  # nosec B608
)

# Back to migration 0009's generated column: PostgreSQL cannot turn a plain column into a generated one, so the
# column is added again (every vector computed anew, the cost of a full rewrite of the table).
REVERSE = rf"""
DROP TRIGGER IF EXISTS evaluations_sampleresult_search_reset ON evaluations_sampleresult;
DROP FUNCTION IF EXISTS evaluations_sampleresult_search_reset();
DROP INDEX IF EXISTS evaluations_sampleresult_unindexed;
ALTER TABLE evaluations_sampleresult DROP COLUMN search_vector;
ALTER TABLE evaluations_sampleresult ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED;
CREATE INDEX evaluations_sampleresult_search ON evaluations_sampleresult USING gin (search_vector);
DROP FUNCTION IF EXISTS evaluations_sample_search_vector(text, text, text, jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [("evaluations", "0011_taskversion_cluster_field")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
