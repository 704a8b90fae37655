"""ingest_log streams a real log into records; validate_log_file gives clear errors for bad uploads."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from inspect_ai.log import read_eval_log, write_eval_log

from evaluations.engine import SampleRecord, ingest_log, validate_log_file

pytestmark = pytest.mark.slow


def collect(path: str, batch_size: int) -> tuple[list[list[SampleRecord]], object]:
    batches: list[list[SampleRecord]] = []
    summary = ingest_log(path, batches.append, batch_size=batch_size)
    return batches, summary


def test_ingest_yields_one_record_per_sample_and_epoch_in_bounded_batches(finished_run):
    batches, summary = collect(finished_run.outcome.log_path, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 2]
    records = [r for b in batches for r in b]
    keys = [(r.sample_id, r.epoch) for r in records]
    assert sorted(keys) == [(f"s{i}", epoch) for i in range(4) for epoch in (1, 2)]
    assert summary.status == "success"
    assert (summary.total_samples, summary.completed_samples) == (8, 8)
    assert summary.metrics["match"]["accuracy"] == pytest.approx(6 / 8)
    assert "stderr" in summary.metrics["match"]
    assert summary.eval_id and summary.started_at and summary.completed_at
    assert summary.model == "mockllm/model" and summary.task.endswith("echo_task")


def test_ingested_record_holds_input_output_target_scores_usage_and_messages(finished_run):
    batches, _ = collect(finished_run.outcome.log_path, batch_size=500)
    records = {(r.sample_id, r.epoch): r for b in batches for r in b}
    record = records[("s1", 1)]
    assert record.input == "Say: word1"
    assert record.target == "word1"
    assert record.output in ("word1", "wrong")
    score = record.scores["match"]
    assert score["value"] in ("C", "I")
    assert score["numeric"] == (1.0 if score["value"] == "C" else 0.0)
    assert score["answer"] == record.output
    assert record.input_tokens > 0 and record.output_tokens == 1
    assert record.total_tokens == record.input_tokens + record.output_tokens
    assert record.total_time is not None and record.working_time is not None
    assert record.error is None
    assert [m["role"] for m in record.messages] == ["user", "assistant"]
    assert record.messages[1]["content"] == record.output or record.messages[1]["content"][0]["text"]
    json.dumps([r.__dict__ for r in records.values()])  # JSON-safe for the database
    numeric = [r.scores["match"]["numeric"] for r in records.values()]
    assert sum(numeric) == 6


def test_ingest_of_json_log_gives_the_same_records_as_the_eval_log(finished_run, tmp_path):
    json_path = str(tmp_path / "log.json")
    write_eval_log(read_eval_log(finished_run.outcome.log_path), json_path, format="json")
    from_eval, _ = collect(finished_run.outcome.log_path, batch_size=500)
    from_json, summary = collect(json_path, batch_size=500)
    assert summary.total_samples == 8
    assert sorted(from_json[0], key=lambda r: (r.sample_id, r.epoch)) == sorted(
        from_eval[0], key=lambda r: (r.sample_id, r.epoch)
    )


def test_ingest_of_cancelled_log_yields_finished_samples_and_marks_interrupted_ones(cancelled_run):
    batches, summary = collect(cancelled_run.outcome.log_path, batch_size=100)
    records = [r for b in batches for r in b]
    assert summary.status == "cancelled"
    finished = [r for r in records if r.error is None]
    assert len(finished) == cancelled_run.outcome.completed_samples >= 3
    assert all(r.output and r.scores for r in finished)
    # a sample running at the cancel is in the log with an error (the retry runs it again)
    interrupted = [r for r in records if r.error is not None]
    assert all("Cancel" in r.error for r in interrupted)
    assert len({(r.sample_id, r.epoch) for r in records}) == len(records) < 20


def test_validate_accepts_real_eval_and_json_logs(finished_run, tmp_path):
    summary = validate_log_file(finished_run.outcome.log_path)
    assert summary.status == "success" and summary.total_samples == 8
    json_path = str(tmp_path / "copy.json")
    write_eval_log(read_eval_log(finished_run.outcome.log_path), json_path, format="json")
    assert validate_log_file(json_path).eval_id == summary.eval_id


def test_validate_rejects_truncated_eval_file(finished_run, tmp_path):
    with open(finished_run.outcome.log_path, "rb") as f:
        data = f.read()
    path = tmp_path / "truncated.eval"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        validate_log_file(str(path))


def test_validate_rejects_truncated_json_log(finished_run, tmp_path):
    json_path = tmp_path / "log.json"
    write_eval_log(read_eval_log(finished_run.outcome.log_path), str(json_path), format="json")
    data = json_path.read_bytes()
    json_path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match="truncated"):
        validate_log_file(str(json_path))


def test_validate_rejects_zip_bomb_before_unpacking(finished_run, tmp_path):
    path = tmp_path / "bomb.eval"
    shutil.copy(finished_run.outcome.log_path, path)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("samples/bomb_epoch_1.json", "w") as member,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(40):  # 40 MB of zeros -> ~40 KB compressed
            member.write(chunk)
    with pytest.raises(ValueError, match="zip bomb"):
        validate_log_file(str(path))


def test_validate_rejects_zip_that_is_not_an_inspect_log(tmp_path):
    path = tmp_path / "other.eval"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hello")
    with pytest.raises(ValueError, match="not an Inspect .eval log"):
        validate_log_file(str(path))


@pytest.mark.parametrize(
    "content",
    [b'{"version": 1, "results": []}', b'{"foo": "bar"}', b'{"eval": {"task": 1}, "version": 2}'],
)
def test_validate_rejects_json_that_is_not_an_inspect_log(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not .*Inspect log"):
        validate_log_file(str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "Unknown file format"),
        (b"col1,col2\n1,2\n", "Unknown file format"),
        (b"\x1f\x8b\x08\x00" + b"\0" * 20, "gzip"),
    ],
)
def test_validate_rejects_unknown_formats(tmp_path, content, message):
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        validate_log_file(str(path))
