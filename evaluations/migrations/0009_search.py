"""Full-text search (issue 13 part 7): a stored generated ``tsvector`` column with a GIN index on samples, findings,
evidence items and releases. PostgreSQL computes the column on every INSERT and UPDATE, so no write path can forget
it; Django does not know the column (it is never loaded with a row), ``evaluations.selectors.search`` reads it.

What each vector holds (weights A > B > C > D rank a hit in a heavier field higher; see docs/search.md):

- sample: output (A), input (B), scorer's explanation (C), the transcript's message texts (D);
- finding: title (A), summary (B); evidence item: excerpt (C), unredacted, read only by those who see the finding;
- release: the snapshot's title (A), summary (B) and evidence excerpts (C), as redacted in the snapshot: what a
  partner viewer searches.

Each text is cut to a fixed number of characters so that a huge transcript can never exceed PostgreSQL's 1 MB
``tsvector`` limit (which would refuse the row's INSERT). The functions are IMMUTABLE (generated columns need it).
The sample column reads the transcript's texts with built-in jsonpath functions (their JSON text, with the escapes
of newlines, tabs and quotes turned back into spaces and quotes), not with ``evaluations_transcript_text``: a SQL
function called per row made every insert several times slower (bench/search_scale.py). The function gives the
clean text that highlights are cut from, at query time, for a page of rows only.
"""

from django.db import migrations

# characters of each field that are indexed (and highlighted): keep the sum far below the 1 MB tsvector limit
FORWARD = r"""
CREATE OR REPLACE FUNCTION evaluations_transcript_text(messages jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(coalesce(string_agg(part, E'\n'), ''), 60000) FROM (
        SELECT CASE jsonb_typeof(m -> 'content')
                   WHEN 'string' THEN m ->> 'content'
                   WHEN 'array' THEN (SELECT string_agg(p ->> 'text', E'\n')
                                      FROM jsonb_array_elements(m -> 'content') AS p
                                      WHERE jsonb_typeof(p) = 'object' AND jsonb_typeof(p -> 'text') = 'string')
               END AS part
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(messages) = 'array' THEN messages
                                       ELSE '[]'::jsonb END) AS m
        WHERE jsonb_typeof(m) = 'object'
    ) AS parts
$$;

CREATE OR REPLACE FUNCTION evaluations_sample_search_text(output text, input_text text, explanation text,
                                                          messages jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(E'\n', left(output, 40000), left(input_text, 40000), left(explanation, 10000),
                     evaluations_transcript_text(messages))
$$;

CREATE OR REPLACE FUNCTION evaluations_release_evidence_text(snapshot jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(coalesce(string_agg(e ->> 'excerpt', E'\n'), ''), 200000)
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(snapshot -> 'evidence') = 'array' THEN snapshot -> 'evidence'
                                   ELSE '[]'::jsonb END) AS e
    WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e -> 'excerpt') = 'string'
$$;

CREATE OR REPLACE FUNCTION evaluations_release_search_text(snapshot jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(E'\n', coalesce(snapshot ->> 'title', ''), left(coalesce(snapshot ->> 'summary', ''), 100000),
                     evaluations_release_evidence_text(snapshot))
$$;

ALTER TABLE evaluations_sampleresult ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', left(output, 40000)), 'A')
    || setweight(to_tsvector('english', left(input_text, 40000)), 'B')
    || setweight(to_tsvector('english', left(explanation, 10000)), 'C')
    || setweight(to_tsvector('english', replace(replace(replace(replace(left(
           jsonb_path_query_array(messages, '$[*].content ? (@.type() == "string")')::text || ' '
           || jsonb_path_query_array(messages, '$[*].content[*].text')::text, 60000),
           '\n', ' '), '\r', ' '), '\t', ' '), '\"', '"')), 'D')
) STORED;
CREATE INDEX evaluations_sampleresult_search ON evaluations_sampleresult USING gin (search_vector);

ALTER TABLE evaluations_finding ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', left(summary, 100000)), 'B')
) STORED;
CREATE INDEX evaluations_finding_search ON evaluations_finding USING gin (search_vector);

ALTER TABLE evaluations_evidenceitem ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', left(excerpt, 100000)), 'C')
) STORED;
CREATE INDEX evaluations_evidenceitem_search ON evaluations_evidenceitem USING gin (search_vector);

ALTER TABLE evaluations_release ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(snapshot ->> 'title', '')), 'A')
    || setweight(to_tsvector('english', left(coalesce(snapshot ->> 'summary', ''), 100000)), 'B')
    || setweight(to_tsvector('english', evaluations_release_evidence_text(snapshot)), 'C')
) STORED;
CREATE INDEX evaluations_release_search ON evaluations_release USING gin (search_vector);
"""

REVERSE = r"""
ALTER TABLE evaluations_release DROP COLUMN IF EXISTS search_vector;
ALTER TABLE evaluations_evidenceitem DROP COLUMN IF EXISTS search_vector;
ALTER TABLE evaluations_finding DROP COLUMN IF EXISTS search_vector;
ALTER TABLE evaluations_sampleresult DROP COLUMN IF EXISTS search_vector;
DROP FUNCTION IF EXISTS evaluations_release_search_text(jsonb);
DROP FUNCTION IF EXISTS evaluations_release_evidence_text(jsonb);
DROP FUNCTION IF EXISTS evaluations_sample_search_text(text, text, text, jsonb);
DROP FUNCTION IF EXISTS evaluations_transcript_text(jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [("evaluations", "0008_run_power_plan")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
