"""Ingestion benchmark: ingest_log over a 100,000-sample .eval log vs only reading it with Inspect's reader.

    .venv/bin/python bench/ingest_100k.py [--samples 100000] [--log PATH] [--keep] [--db]

Builds the log once (cached at --log): a real 100-sample evaluation (bench/bench_tasks.py, mockllm) is run, and
its samples are replicated under new ids into a new .eval file. The file is written entry by entry with the
same layout and compression (zstd) Inspect writes (header.json with the sample ids, summaries.json, reductions.json, one
samples/<id>_epoch_<n>.json per sample), not with ``write_eval_log``: that needs all 100,000 EvalSample
objects in memory at once (several GB), which this shared machine cannot spare. The result is checked with
Inspect's own readers (header, summaries, first and last sample) before any timing.

Then, each in a fresh subprocess (so peak RSS is that phase's own: resource.getrusage's ru_maxrss, and
/proc/self/status VmHWM, which unlike ru_maxrss never includes the image of the process it was forked from):
  inspect : for sample in read_eval_log_samples(path): pass, for the first --inspect-limit samples only.
            Inspect's streaming reader re-opens the zip and re-reads its central directory for every sample,
            so its cost per sample grows with the log: over all 100,000 it would take hours. Its ms/sample
            here and the whole-log extrapolation are printed.
  read    : the same per-sample work without the re-opening: one open zip, json.loads and
            EvalSample.model_validate of every sample (events included, as read_eval_log_samples does).
            This is the floor for any reader and the baseline of the ratio.
  ingest  : ingest_log(path, on_batch=<does nothing>)                     (the portal's path, no database)
  db      : (--db) samples_ingest(item_id=, log_path=) of evaluations/services/execution.py, the very call
            the worker makes after run_item: ingest_log with an on_batch doing
            SampleResult.objects.bulk_create(batches of 500, update_conflicts on (item, sample_id, epoch)) into
            PostgreSQL (DATABASE_URL), for a throwaway run item created (before the clock) in the database; its
            rows are counted after the clock, then the search indexing task's work (samples_index of the item,
            which fills search_vector after the ingestion since migration 0012) is timed apart, then the item,
            its run and its rows are deleted.
Prints the times, the ratio ingest/read (target <= 1.5) and the ingest peak RSS (target < 500 MB, VmHWM: run
from this script, ru_maxrss was seen to report ~1.2 GB in every phase, even one reading 100 samples, while the
same ingest started on its own from a shell reports 321 MB by both measures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def _small_real_log(tmp: str, samples: int = 100) -> str:
    from inspect_ai import eval as inspect_eval

    logs = inspect_eval(
        f"{BASE_DIR}/bench/bench_tasks.py@bench_echo",
        task_args={"samples": samples},
        model="mockllm/model",
        display="none",
        log_dir=tmp,
        log_format="eval",
        ctl_server=False,
    )
    assert logs[0].status == "success", logs[0].error
    return str(logs[0].location)


def build_log(path: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = _small_real_log(tmp)
        with zipfile.ZipFile(source) as src:
            header = json.loads(src.read("header.json"))
            summaries = json.loads(src.read("summaries.json"))
            reductions = (
                json.loads(src.read("reductions.json")) if "reductions.json" in src.namelist() else None
            )
            templates = [json.loads(src.read(name)) for name in src.namelist() if name.startswith("samples/")]
    templates.sort(key=lambda s: str(s["id"]))
    summary_by_id = {str(s["id"]): s for s in summaries}
    ids = [f"b{i:06d}" for i in range(n)]
    tmp_path = path + ".tmp"
    new_summaries = []
    try:  # the compression Inspect itself writes .eval members with (zstd in 0.3.285)
        from inspect_ai._util.zipfile import zipfile_compress_kwargs as compress
    except ImportError:
        compress = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 5}
    with zipfile.ZipFile(tmp_path, "w", **compress) as out:
        for i, sample_id in enumerate(ids):
            sample = dict(templates[i % len(templates)])
            old_id = str(sample["id"])
            sample["id"] = sample_id
            sample["uuid"] = uuid.uuid4().hex
            out.writestr(f"samples/{sample_id}_epoch_{sample['epoch']}.json", json.dumps(sample))
            summary = dict(summary_by_id[old_id])
            summary["id"] = sample_id
            summary["uuid"] = sample["uuid"]
            new_summaries.append(summary)
        out.writestr("summaries.json", json.dumps(new_summaries))
        if reductions is not None:
            for reduction in reductions:
                reduced = reduction.get("samples", [])
                by_id = {str(r.get("sample_id")): r for r in reduced}
                reduction["samples"] = [
                    dict(by_id[str(templates[i % len(templates)]["id"])], sample_id=sid)
                    for i, sid in enumerate(ids)
                    if str(templates[i % len(templates)]["id"]) in by_id
                ]
            out.writestr("reductions.json", json.dumps(reductions))
        header["eval"]["dataset"]["samples"] = n
        header["eval"]["dataset"]["sample_ids"] = ids
        header["eval"]["config"]["limit"] = None
        if header.get("results"):
            header["results"]["total_samples"] = n
            header["results"]["completed_samples"] = n
        out.writestr("header.json", json.dumps(header))
    os.replace(tmp_path, path)
    _check(path, n, ids)


def _check(path: str, n: int, ids: list[str]) -> None:
    from inspect_ai.log import read_eval_log, read_eval_log_sample, read_eval_log_sample_summaries

    header = read_eval_log(path, header_only=True)
    assert header.status == "success" and header.results is not None
    assert header.results.total_samples == n, header.results.total_samples
    assert len(read_eval_log_sample_summaries(path)) == n
    for sample_id in (ids[0], ids[-1]):
        assert read_eval_log_sample(path, id=sample_id, epoch=1).id == sample_id


PHASE = r"""
import resource, sys, time
sys.path.insert(0, {base!r})
from inspect_ai.log import read_eval_log, read_eval_log_samples
from evaluations.engine import ingest_log
from evaluations.engine.ingest import iter_eval_samples
path, phase, limit = {path!r}, {phase!r}, {limit!r}
t0 = time.perf_counter()
count = 0
if phase == "inspect":
    for sample in read_eval_log_samples(path):
        count += 1
        if count >= limit:
            break
elif phase == "read":
    for sample in iter_eval_samples(path, read_eval_log(path, header_only=True), keep_events=True):
        count += 1
else:
    def on_batch(batch):
        global count
        count += len(batch)
    ingest_log(path, on_batch, batch_size=500)
seconds = time.perf_counter() - t0
# VmHWM is this process image's own peak; ru_maxrss on Linux also counts the parent image it was forked from
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(count, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, hwm)
"""


DB_PHASE = r"""
import os, resource, sys, time, uuid
sys.path.insert(0, {base!r})
from bench.portal_path import _environment
_environment({media!r})
import django
django.setup()
from accounts.models import Organisation, User
from evaluations.models import Exercise, Run, RunItem, SampleResult
from evaluations.services.execution import samples_ingest
path = {path!r}
tag = uuid.uuid4().hex[:8]
org = Organisation.objects.create(name=f"Bench ingest {{tag}}", kind="institute", country_code="GB")
user = User.objects.create_user(f"bench.ingest.{{tag}}@example.org", None, organisation=org, role="staff")
exercise = Exercise.objects.create(name=f"Bench ingest {{tag}}", status=Exercise.Status.ACTIVE)
run = Run.objects.create(exercise=exercise, created_by=user, owner=org, name="Bench ingest (throwaway)")
item = RunItem.objects.create(run=run, model_label="mockllm/model", task_label="bench_echo")
try:
    t0 = time.perf_counter()
    samples_ingest(item_id=item.pk, log_path=path)
    seconds = time.perf_counter() - t0
    count = SampleResult.objects.filter(item=item).count()
    # the search indexing task's work, after the ingestion (migration 0012), timed apart
    t0 = time.perf_counter()
    from evaluations.services.search import samples_index
    indexed = samples_index(item_id=item.pk)
    index_seconds = time.perf_counter() - t0
finally:
    SampleResult.objects.filter(item=item).delete()
    run.delete()
    exercise.delete()
    user.delete()
    org.delete()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(count, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, hwm, indexed, index_seconds)
"""


def run_phase(path: str, phase: str, limit: int = 0) -> tuple[int, float, float, float]:
    """Runs one phase in a fresh interpreter (imports done before the clock starts); returns count, s, MB."""
    if phase == "db":
        media = tempfile.mkdtemp(prefix="portal-bench-media-")
        code = DB_PHASE.format(base=str(BASE_DIR), path=path, media=media)
    else:
        code = PHASE.format(base=str(BASE_DIR), path=path, phase=phase, limit=limit)
    env = dict(os.environ, PYTHONPATH=str(BASE_DIR), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    if phase == "db":
        shutil.rmtree(media, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{out.stderr[-3000:]}")
    count, seconds, rss, hwm, *indexing = out.stdout.strip().splitlines()[-1].split()
    if indexing:
        print(f"search indexing (samples_index, after the ingestion): {int(indexing[0])} rows in "
              f"{float(indexing[1]):.1f} s")
    return int(count), float(seconds), float(rss), float(hwm)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--log", default=None, help="where the built log is cached (default: /tmp)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--inspect-limit", type=int, default=300, help="samples read with Inspect's reader")
    parser.add_argument(
        "--db",
        action="store_true",
        help="also time samples_ingest into PostgreSQL (DATABASE_URL, REDIS_URL; migrated database)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = args.log or os.path.join(tempfile.gettempdir(), f"portal-bench-{args.samples}.eval")
    if args.rebuild or not os.path.exists(path):
        t0 = time.perf_counter()
        build_log(path, args.samples)
        print(f"built {path} ({os.path.getsize(path) / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
    if args.db:
        for name in ("DATABASE_URL", "REDIS_URL"):
            if not os.environ.get(name):
                raise SystemExit(f"--db needs {name} (or run under `python -m portal.devservices run --`)")
    insp_n, insp_s, insp_rss, insp_hwm = run_phase(path, "inspect", args.inspect_limit)
    read_n, read_s, read_rss, read_hwm = run_phase(path, "read")
    ingest_n, ingest_s, ingest_rss, ingest_hwm = run_phase(path, "ingest")
    assert read_n == ingest_n == args.samples, (read_n, ingest_n)
    per = insp_s / max(insp_n, 1)
    print(f"samples                 {args.samples}  ({os.path.getsize(path) / 1e6:.0f} MB .eval)")
    print(
        f"read_eval_log_samples   {per * 1000:8.1f} ms/sample over the first {insp_n} "
        f"(whole log ~{per * args.samples / 60:.0f} min)   peak RSS {insp_rss:6.0f} MB (VmHWM {insp_hwm:.0f})"
    )
    print(f"read, zip opened once   {read_s:8.1f} s   peak RSS {read_rss:6.0f} MB (VmHWM {read_hwm:.0f})")
    print(
        f"ingest_log (no-op sink) {ingest_s:8.1f} s   peak RSS {ingest_rss:6.0f} MB (VmHWM {ingest_hwm:.0f})"
    )
    print(f"ratio ingest/read       {ingest_s / read_s:8.2f}   (target <= 1.5)")
    print(f"ingest peak RSS         {ingest_hwm:8.0f} MB VmHWM (target < 500 MB)")
    if args.db:
        db_n, db_s, db_rss, db_hwm = run_phase(path, "db")
        assert db_n == args.samples, (db_n, args.samples)
        print(
            f"samples_ingest -> PostgreSQL {db_s:6.1f} s   {db_n} SampleResult rows   "
            f"peak RSS {db_rss:6.0f} MB (VmHWM {db_hwm:.0f})"
        )
        print(f"ratio db ingest/read    {db_s / read_s:8.2f}   (target <= 1.5)")
        print(f"db ingest peak RSS      {db_hwm:8.0f} MB VmHWM (target < 500 MB)")


if __name__ == "__main__":
    main()
