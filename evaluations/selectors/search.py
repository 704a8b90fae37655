"""Full-text search (issue 13 part 7) across samples (output, input, scorer's explanation, transcript text) and
findings, with PostgreSQL's full-text search: the stored ``search_vector`` columns and their GIN indexes of
migration 0009 (generated, but the samples' one, which ``services.search`` fills after ingestion since migration
0012), ``websearch_to_tsquery`` syntax, ranked with ``ts_rank`` (of samples, the first ``SEARCH_RANK_MAX`` matches found
only, the newest samples searched first), highlighted with ``ts_headline``.

Every search starts from the access layer (``visible_to``): a sample only where the reader sees the sample, a finding
only where they see the finding. A partner viewer never searches a ``Finding`` row nor a sample: only the current
release snapshots of their organisation (``partner_current_releases``), whose vector holds the snapshot's text as
redacted in the snapshot, so a redacted span, an internal comment or an unreleased finding cannot match.

Highlights are built with two private-use sentinels (stripped from the text first, so only ``ts_headline`` puts them
there); the text is HTML-escaped, and only then do the sentinels become ``<mark>`` and ``</mark>``.

Queries: a page of one group is the sample matches (``search_sample_matches``: the newest sample's id, an estimate,
then the ranked ids, their count and the cap in one bounded query) or the findings' count, the page's hits, and one
query per kind for the hits' details and highlights, whatever the number of samples or findings (the details are
computed for the page's rows only)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchConfig, SearchQuery, SearchRank, SearchVectorField
from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Concat
from django.db.models.lookups import IsNull, LessThanOrEqual
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from accounts.access import is_institute_member, is_partner_viewer, visible_to
from evaluations.models import EvidenceItem, Finding, RunItem, SampleResult
from evaluations.models.runs import ItemState
from evaluations.selectors.findings import partner_current_releases
from portal.parsers import control_character_message

CONFIG = "english"
QUERY_MAX = 200  # characters of a search
KINDS = ("sample", "finding")
UNINDEXED_COUNT_MAX = 10_000  # the search page counts unindexed samples up to this (more: "more than")
START, STOP = "\ue000", "\ue001"  # private-use characters: never left in the text that is highlighted
HEADLINE_OPTIONS = (f"StartSel={START}, StopSel={STOP}, MaxFragments=3, MaxWords=30, MinWords=12, "
                    'FragmentDelimiter=" … "')
TITLE_OPTIONS = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"


# --- Expressions ------------------------------------------------------------------------------------------------------

class StoredVector(Expression):
    """The ``search_vector`` column of the query's base table (a column Django's models do not declare, so that no
    row load ever carries it)."""

    output_field = SearchVectorField()

    def __init__(self, column: str = "search_vector") -> None:
        super().__init__()
        self.column = column
        self.alias: str | None = None

    def resolve_expression(self, query: Any = None, allow_joins: bool = True, reuse: Any = None,
                           summarize: bool = False, for_save: bool = False) -> StoredVector:
        clone = self.copy()
        clone.alias = query.get_initial_alias()
        return clone

    def relabeled_clone(self, change_map: Mapping[str, str]) -> StoredVector:
        clone = self.copy()
        clone.alias = change_map.get(self.alias or "", self.alias)
        return clone

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        return f"{compiler.quote_name_unless_alias(self.alias)}.{connection.ops.quote_name(self.column)}", ()

    def get_group_by_cols(self) -> list[Any]:
        return [self]


class Matches(Func):
    """``vector @@ query``: uses the column's GIN index."""

    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = BooleanField()


class Headline(Func):
    """``ts_headline`` of a text (sentinels stripped from it first) for the query, with the given options."""

    output_field = TextField()

    def __init__(self, text: Any, query: SearchQuery, options: str) -> None:
        stripped = Func(text, Value(START + STOP), Value(""), function="translate", output_field=TextField())
        super().__init__(SearchConfig(CONFIG), stripped, query, Value(options), function="ts_headline")


def search_query(q: str) -> SearchQuery:
    return SearchQuery(q, search_type="websearch", config=CONFIG)


def highlight_html(text: str | None) -> SafeString:
    """``ts_headline`` output as safe HTML: everything escaped, then the sentinels turned into ``<mark>``."""
    escaped = html.escape(text or "", quote=True)
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308 (escaped just above)  # nosemgrep: portal-mark-safe - escaped just above, then our own <mark>


# --- The query ---------------------------------------------------------------------------------------------------------

def search_query_clean(q: Any) -> str:
    """The search words, whitespace collapsed. A ValidationError on ``q`` when there are none, too many characters or
    a control character (a search of only operators or common words is valid: it finds nothing)."""
    if not isinstance(q, str):
        raise ValidationError({"q": ["Enter words to search for."]})
    if len(q) > QUERY_MAX:
        raise ValidationError({"q": [f"Enter a search of {QUERY_MAX} characters or fewer."]})
    problem = control_character_message(q)
    if problem:
        raise ValidationError({"q": [f"The search {problem}"]})
    cleaned = " ".join(q.split())
    if not cleaned:
        raise ValidationError({"q": ["Enter words to search for."]})
    return cleaned


def kind_clean(kind: Any) -> str:
    """"" (every kind), "sample" or "finding"; a ValidationError on ``kind`` otherwise."""
    if kind in (None, ""):
        return ""
    if kind not in KINDS:
        raise ValidationError({"kind": ["Choose samples or findings, or leave the kind out for both."]})
    return str(kind)


def _hits(queryset: QuerySet[Any], kind: str, ref: Any, rank: Any) -> QuerySet[Any]:
    return (queryset.annotate(hit_kind=Value(kind, output_field=CharField()), hit_ref=ref,
                              hit_rank=Coalesce(rank, Value(0.0), output_field=FloatField()))
            .values("hit_kind", "hit_ref", "hit_rank"))


class IsTrue(Func):
    """``(condition) IS TRUE``: the same rows as the bare condition, but not one PostgreSQL can serve from an index:
    it stays a filter on the rows of the scan the query chose."""

    template = "((%(expressions)s) IS TRUE)"
    output_field = BooleanField()


NEWEST_SCANNED_PER_RANKED = 50  # the sample search reads the newest 50 x SEARCH_RANK_MAX samples first


def _estimated_matches(queryset: QuerySet[Any]) -> float:
    """PostgreSQL's estimate of the rows of ``queryset`` (``EXPLAIN``: its statistics of the column, here the
    vectors' most common lexemes and their frequencies), without running it: one query, planning only."""
    plan = json.loads(queryset.explain(format="json"))
    return float(plan[0]["Plan"]["Plan Rows"])


def _sample_matches(*, user: Any, query: SearchQuery, limit: int) -> QuerySet[Any]:
    """The ids of the first ``limit`` matching samples the user sees, looking at the newest samples first: a UNION
    ALL of the matches among the newest ``NEWEST_SCANNED_PER_RANKED`` x ``limit`` samples, newest first, then
    older ones in the order the GIN index yields them, behind one LIMIT, so the second part runs only when the
    first found too few (an unindexed row has no vector and never matches). Two queries come first: the newest
    sample's id, and PostgreSQL's estimate of the matches among the newest samples.

    The cost is bounded by ``limit``, not by the number of matches, which a GIN index yields only as a complete
    bitmap (docs/search.md, "How a search stays fast"). Where the estimate says the newest samples hold ``limit``
    matches (a common word), they are read newest first down the primary key, the GIN index left out, and the scan
    stops at ``limit`` (a word in 5 % of the samples: 20 rows per match, whatever the table's size); otherwise (a
    rare word) from the GIN index (its few matches). Only the words rare among the newest samples reach the second
    part, at the cost of that part alone (its bitmap)."""
    # The access layer decides on each row read, on the run item of that row: ``visible_to`` of the run items, as a
    # correlated subquery. Written as a join (``visible_to`` of the samples), the planner read the items first and
    # probed the GIN index once per item, each probe reading the word's whole posting list; as an ``IN`` of every
    # visible item, hashed once, it read every item the user sees (32 ms for 22,000 items) to check 201 rows. A
    # common word's scan probes by primary key with a scalar subquery (``LIMIT 1``: PostgreSQL never hashes it), a
    # few microseconds per matching row; elsewhere an ``EXISTS``, hashed or probed as PostgreSQL expects cheaper.
    # Left to choose between the primary key and the GIN index for the newest part, PostgreSQL chose by costs that
    # change with the access check's form (the GIN bitmap of all 50,000 matches, 60 ms, against 2 ms): the estimate
    # it would have used decides, and each form keeps only the index it should use.
    item = visible_to(user, RunItem.objects.filter(pk=OuterRef("item_id"))).order_by().values("pk")
    if item.query.is_empty():
        return SampleResult.objects.none().values_list("pk", flat=True)  # partner viewers search no sample
    newest = SampleResult.objects.order_by("-pk").values_list("pk", flat=True).first()
    if newest is None:
        return SampleResult.objects.none().values_list("pk", flat=True)
    below = newest - NEWEST_SCANNED_PER_RANKED * limit
    matches = Matches(StoredVector(), query)
    if _estimated_matches(SampleResult.objects.filter(matches, pk__gt=below).values("pk")) >= limit:
        recent = SampleResult.objects.filter(IsTrue(matches), IsNull(Subquery(item[:1]), False))  # no GIN index
    else:
        recent = SampleResult.objects.filter(matches, IsTrue(Exists(item)))
    recent_ids = recent.filter(pk__gt=below).order_by("-pk").values_list("pk", flat=True)[:limit]
    # ``IS TRUE``: without it PostgreSQL intersects the GIN bitmap with one of the primary key's range, every older id
    # (200 ms at 1,000,000 samples), to save the few rows of the newest part it filters out; and it keeps the
    # ``EXISTS`` from becoming a join (the per-item probing above)
    older_ids = (SampleResult.objects.filter(matches, IsTrue(LessThanOrEqual(F("pk"), below)), IsTrue(Exists(item)))
                 .order_by().values_list("pk", flat=True)[:limit])
    return recent_ids.union(older_ids, all=True)[:limit]


@dataclass(frozen=True)
class SampleMatches:
    """The samples a search ranks: the first ``SEARCH_RANK_MAX`` matches found that the user sees (``ids``), and
    whether more match (``capped``), from one bounded query (``search_sample_matches``)."""

    ids: tuple[int, ...]
    capped: bool

    @property
    def count(self) -> int:
        return len(self.ids)


NO_SAMPLES = SampleMatches(ids=(), capped=False)


def search_sample_matches(*, user: Any, q: str) -> SampleMatches:
    """The ids of the first ``SEARCH_RANK_MAX`` + 1 matches found that the user sees, the newest samples searched
    first (``_sample_matches``: after the newest id and an estimate, one query that stops there): the first
    ``SEARCH_RANK_MAX`` are the ones ranked (not the best of all: choosing those would read every match), one more
    says the search was capped. The count, the cap and the ranked set come from this one read, which costs the same
    whether 201 samples match or 5,000,000 (docs/benchmarks.md section 7)."""
    if not is_institute_member(user):
        return NO_SAMPLES  # partner viewers search no sample
    cap = settings.SEARCH_RANK_MAX
    ids = list(_sample_matches(user=user, query=search_query(q), limit=cap + 1))
    return SampleMatches(ids=tuple(ids[:cap]), capped=len(ids) > cap)


class AnyOf(Func):
    """``id = ANY(%s::bigint[])``: the rows of a list of ids, one array parameter (their primary key's index)."""

    template = "(%(expressions)s::bigint[]))"  # "(" column " = ANY(" ids "::bigint[]))"
    arg_joiner = " = ANY("
    output_field = BooleanField()

    def __init__(self, column: Any, ids: Sequence[int]) -> None:
        super().__init__(column, Value(list(ids)))


def search_samples(*, user: Any, q: str, samples: SampleMatches | None = None) -> QuerySet[Any]:
    """Hits (``hit_kind``, ``hit_ref`` = sample id, ``hit_rank``) among the samples the user sees: the ones
    ``search_sample_matches`` found (asked here when not given), ranked; their rows fetched by id, so the page does
    not read the index's matches again."""
    if samples is None:
        samples = search_sample_matches(user=user, q=q)
    rows = SampleResult.objects.filter(AnyOf(F("pk"), samples.ids)).order_by()  # (no default order: 2 joins, a sort)
    return _hits(rows, "sample", F("pk"), SearchRank(StoredVector(), search_query(q)))


def unindexed() -> IsNull:
    """``search_vector IS NULL`` (a sample not indexed yet) for a filter on SampleResult: served by the partial index
    ``evaluations_sampleresult_unindexed`` (migration 0012)."""
    return IsNull(StoredVector(), True)


def samples_unindexed_count(*, user: Any) -> int:
    """Samples the user sees that are not indexed yet (so not found by a search), counted up to
    ``UNINDEXED_COUNT_MAX`` + 1 (more means "more than" that many): one query, from the partial index."""
    if not is_institute_member(user):
        return 0  # partner viewers search no sample
    rows = visible_to(user, SampleResult.objects.filter(unindexed())).order_by().values("pk")
    return rows[:UNINDEXED_COUNT_MAX + 1].count()


def items_unindexed(*, limit: int, after: int = 0, finished_only: bool = True) -> list[int]:
    """Items (id above ``after``) with unindexed samples, oldest first; ``finished_only``: those whose ingestion is
    over (neither queued nor running: an ingestion sends the indexing when it ends)."""
    rows = SampleResult.objects.filter(unindexed(), item_id__gt=after)
    if finished_only:
        rows = rows.exclude(item__state__in=(ItemState.QUEUED, ItemState.RUNNING))
    return list(rows.order_by("item_id").values_list("item_id", flat=True).distinct()[:limit])


def search_findings(*, user: Any, q: str) -> QuerySet[Any]:
    """Hits (``hit_ref`` = finding id) among the findings the user may read: a partner viewer's current release
    snapshots of their organisation (their vector is built from the redacted snapshot), anyone else's findings
    they see, matched in title and summary or in an evidence excerpt."""
    query = search_query(q)
    if is_partner_viewer(user):
        releases = partner_current_releases(user=user).order_by().filter(Matches(StoredVector(), query))
        return _hits(releases, "finding", F("finding_id"), SearchRank(StoredVector(), query))
    evidence = EvidenceItem.objects.filter(finding=OuterRef("pk")).filter(Matches(StoredVector(), query))
    evidence_rank = Subquery(evidence.annotate(r=SearchRank(StoredVector(), query)).order_by("-r").values("r")[:1],
                             output_field=FloatField())
    findings = visible_to(user, Finding.objects.all()).filter(
        Matches(StoredVector(), query) | Exists(evidence))
    rank = SearchRank(StoredVector(), query) + Coalesce(evidence_rank, Value(0.0), output_field=FloatField())
    return _hits(findings, "finding", F("pk"), rank)


def search_hits(*, user: Any, q: str, kind: str = "", samples: SampleMatches | None = None) -> QuerySet[Any]:
    """Hits of one kind, or of both in one ranked list (a UNION), best first; ``samples``: the sample matches, when
    the caller has them already (``search_sample_matches``)."""
    if kind == "sample":
        hits = search_samples(user=user, q=q, samples=samples)
    elif kind == "finding":
        hits = search_findings(user=user, q=q)
    else:
        hits = search_samples(user=user, q=q, samples=samples).union(search_findings(user=user, q=q), all=True)
    return hits.order_by("-hit_rank", "hit_kind", "-hit_ref")


def search_hits_count(*, user: Any, q: str, kind: str, samples: SampleMatches) -> int:
    """The number of ``search_hits``: the samples' from their matches (no query), the findings' counted (one query),
    so a page never reads the sample matches again to count them."""
    count = samples.count if kind in ("", "sample") else 0
    if kind in ("", "finding"):
        count += search_findings(user=user, q=q).count()
    return count


# --- The results -------------------------------------------------------------------------------------------------------

@dataclass
class SearchResult:
    kind: str
    id: int
    rank: float
    title: str = ""
    title_html: SafeString = field(default_factory=lambda: mark_safe(""))  # nosemgrep: portal-mark-safe - an empty string
    highlight: SafeString = field(default_factory=lambda: mark_safe(""))  # nosemgrep: portal-mark-safe - an empty string
    url: str = ""
    context: dict[str, Any] = field(default_factory=dict)


def _sample_results(*, user: Any, q: str, ids: Sequence[int]) -> dict[int, SearchResult]:
    if not ids:
        return {}
    text = Func(F("output"), F("input_text"), F("explanation"), F("messages"),
                function="evaluations_sample_search_text", output_field=TextField())
    samples = (visible_to(user, SampleResult.objects.filter(pk__in=ids))
               .select_related("item__run__exercise", "item__model_version__registered_model",
                               "item__task_version__eval_task")
               .defer("input", "input_text", "target", "output", "scores", "explanation", "messages", "metadata")
               .annotate(snippet=Headline(text, search_query(q), HEADLINE_OPTIONS)))
    out = {}
    for sample in samples:
        item = sample.item
        title = f"Sample {sample.sample_id}" + (f", epoch {sample.epoch}" if sample.epoch != 1 else "")
        out[sample.pk] = SearchResult(
            kind="sample", id=sample.pk, rank=0.0, title=title, title_html=highlight_html(title),
            highlight=highlight_html(sample.snippet), url=reverse("sample-detail", kwargs={"pk": sample.pk}),
            context={"exercise": item.run.exercise.name, "exercise_id": item.run.exercise_id, "run": item.run.name,
                     "run_id": item.run_id, "model": item.model_name, "evaluation": item.task_name,
                     "sample_id": sample.sample_id, "epoch": sample.epoch, "score": sample.score,
                     "error": bool(sample.error)})
    return out


def _finding_results(*, user: Any, q: str, ids: Sequence[int]) -> dict[int, SearchResult]:
    if not ids:
        return {}
    query = search_query(q)
    out = {}
    if is_partner_viewer(user):
        snippet_text = Concat(Coalesce(KT("snapshot__summary"), Value(""), output_field=TextField()), Value("\n"),
                              Func(F("snapshot"), function="evaluations_release_evidence_text",
                                   output_field=TextField()), output_field=TextField())
        releases = (partner_current_releases(user=user).filter(finding_id__in=ids)
                    .annotate(title_hl=Headline(KT("snapshot__title"), query, TITLE_OPTIONS),
                              snippet=Headline(snippet_text, query, HEADLINE_OPTIONS)))
        for release in releases:
            snap = release.snapshot
            out[release.finding_id] = SearchResult(
                kind="finding", id=release.finding_id, rank=0.0, title=str(snap.get("title", "")),
                title_html=highlight_html(release.title_hl), highlight=highlight_html(release.snippet),
                url=reverse("finding-detail", kwargs={"pk": release.finding_id}),
                context={"exercise": (snap.get("exercise") or {}).get("name", ""),
                         "exercise_id": (snap.get("exercise") or {}).get("id"),
                         "severity": snap.get("severity", ""), "state": "released", "state_label": "Released",
                         "released_at": snap.get("released_at", ""), "version": release.version})
        return out
    excerpts = (EvidenceItem.objects.filter(finding=OuterRef("pk")).order_by().values("finding")
                .annotate(text=StringAgg("excerpt", delimiter="\n")).values("text"))
    snippet_text = Concat(F("summary"), Value("\n"), Coalesce(Subquery(excerpts, output_field=TextField()),
                                                              Value(""), output_field=TextField()),
                          output_field=TextField())
    findings = (visible_to(user, Finding.objects.filter(pk__in=ids)).select_related("exercise")
                .defer("summary")
                .annotate(title_hl=Headline(F("title"), query, TITLE_OPTIONS),
                          snippet=Headline(snippet_text, query, HEADLINE_OPTIONS)))
    for finding in findings:
        out[finding.pk] = SearchResult(
            kind="finding", id=finding.pk, rank=0.0, title=finding.title, title_html=highlight_html(finding.title_hl),
            highlight=highlight_html(finding.snippet), url=reverse("finding-detail", kwargs={"pk": finding.pk}),
            context={"exercise": finding.exercise.name, "exercise_id": finding.exercise_id,
                     "severity": finding.severity, "state": finding.state,
                     "state_label": finding.get_state_display()})
    return out


def search_results(*, user: Any, q: str, hits: Sequence[dict[str, Any]]) -> list[SearchResult]:
    """The hits of one page with their titles, highlights, links and context, in the hits' order: one query per kind
    on the page (the access layer is asked again)."""
    by_kind: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for hit in hits:
        by_kind[hit["hit_kind"]].append(hit["hit_ref"])
    found = {"sample": _sample_results(user=user, q=q, ids=by_kind["sample"]),
             "finding": _finding_results(user=user, q=q, ids=by_kind["finding"])}
    results = []
    for hit in hits:
        result = found[hit["hit_kind"]].get(hit["hit_ref"])
        if result is not None:
            result.rank = float(hit["hit_rank"])
            results.append(result)
    return results
