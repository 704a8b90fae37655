"""Custom evaluations from uploaded datasets: every case refused or stored safely, nothing half-saved."""

import hashlib
import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from evaluations.models import EvalTask, TaskVersion
from portal.models import AuditEvent
from tests.support.registry import api_client_for, errors_of

pytestmark = pytest.mark.django_db

GOOD_CSV = b"id,input,target\nq1,What is 2+2?,4\nq2,Capital of France?,Paris\n"


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored_files(media_root):
    return sorted(p.name for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []


def post_dataset(client, exercise, content, filename="data.csv", **fields):
    data = {"name": "Custom eval", "exercises": [exercise.pk], "solver": "generate", "scorer": "includes",
            "dataset": SimpleUploadedFile(filename, content)}
    data.update(fields)
    return client.post("/tasks/new/dataset/", data)


def assert_nothing_saved(media_root):
    assert not EvalTask.objects.exists()
    assert not TaskVersion.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="task.").exists()
    assert stored_files(media_root) == []


def test_a_good_csv_is_stored_with_its_sha256_and_previewed(client, sign_in, uk_staff, exercise, media_root):
    sign_in(client, uk_staff)
    response = post_dataset(client, exercise, GOOD_CSV)
    assert response.status_code == 302, errors_of(response)
    version = TaskVersion.objects.get()
    assert version.kind == "dataset" and version.sample_count == 2
    assert version.dataset_sha256 == hashlib.sha256(GOOD_CSV).hexdigest()
    assert version.registry_name == "portal_dataset" and version.args == {"task_version_id": version.pk}
    assert version.preview[0] == {"id": "q1", "input": "What is 2+2?", "target": "4"}
    with version.dataset_file.open("rb") as fh:
        assert fh.read() == GOOD_CSV
    page = client.get(f"/tasks/{version.eval_task_id}/").content.decode()
    assert "Capital of France?" in page and version.dataset_sha256 in page


@pytest.mark.parametrize("content,filename,fragment", [
    (b"", "data.csv", "is empty"),
    (b"input,target\n", "data.csv", "no samples"),
    (b"\n\n", "data.jsonl", "The file is empty"),
    ("input,target\ncaf\u00e9,x\n".encode("latin-1"), "data.csv", "Line 2: The file is not UTF-8"),
    (b"\xff\xfei\x00n\x00", "data.csv", "Line 1: The file is not UTF-8"),
    (b"input,target\n" + b"q,a\n" * 20000 + b"caf\xe9,x\n", "data.csv", "Line 20002: The file is not UTF-8"),
    (b"question,answer\nq,a\n", "data.csv", "Missing column(s): input, target"),
    (b"input\nq\n", "data.csv", "Missing column(s): target"),
    (b"id,input,target\n1,a,b\n2,c,d\n1,e,f\n", "data.csv", "Line 4, column id: Duplicate id '1' (first used on line 2)"),
    (b'{"id": "a", "input": "x", "target": "y"}\n{"id": "a", "input": "z", "target": "w"}\n', "data.jsonl",
     "Line 2, column id: Duplicate id 'a'"),
    (b"input,target\n,b\n", "data.csv", "Line 2, column input: Enter the input"),
    (b"input,target,choices\nq,A,not-json\n", "data.csv", "Line 2, column choices"),
    (b"input,target,metadata\nq,A,[1]\n", "data.csv", "Line 2, column metadata"),
    (b"input,target,colour\nq,a,red\n", "data.csv", "Unknown column(s): colour"),
    (b'{"input": "x", "target": "y"}\nnot json\n', "data.jsonl", "Line 2: Not valid JSON"),
    (b"input,target\nq,a,extra\n", "data.csv", "Line 2: The row has 3 cells; the header has 2"),
    (b"input,target\nq,a\n", "data.xlsx", "Upload a .csv or .jsonl file"),
])
def test_bad_uploads_are_refused_with_a_clear_message_and_nothing_half_saved(
        client, sign_in, uk_staff, exercise, media_root, content, filename, fragment):
    sign_in(client, uk_staff)
    response = post_dataset(client, exercise, content, filename=filename)
    assert response.status_code == 400
    assert fragment in errors_of(response).replace("&#x27;", "'")
    assert_nothing_saved(media_root)


def test_every_bad_row_is_reported_with_line_and_column(client, sign_in, uk_staff, exercise, media_root):
    sign_in(client, uk_staff)
    rows = "input,target\n" + "".join(f"q{i},\n" if i % 2 else f"q{i},a\n" for i in range(10))
    response = post_dataset(client, exercise, rows.encode())
    text = errors_of(response)
    for line in (3, 5, 7, 9, 11):
        assert f"Line {line}, column target" in text
    assert_nothing_saved(media_root)


def test_formulas_and_html_in_cells_are_stored_verbatim_and_escaped_on_display(
        client, sign_in, uk_staff, us_staff, exercise):
    content = (b'id,input,target\n'
               b'f1,"=HYPERLINK(""http://evil.example"",""x"")",=1+1\n'
               b'f2,+cmd|\' /C calc\'!A0,@SUM(A1)\n'
               b'h1,<script>alert(1)</script>,<img src=x onerror=alert(2)>\n')
    sign_in(client, uk_staff)
    response = post_dataset(client, exercise, content)
    assert response.status_code == 302, errors_of(response)
    version = TaskVersion.objects.get()
    assert version.preview[0]["input"].startswith("=HYPERLINK")  # stored as given (the sha256 matches the file)
    assert version.preview[2]["input"] == "<script>alert(1)</script>"
    sign_in(client, us_staff)
    page = client.get(f"/tasks/{version.eval_task_id}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


@override_settings(DATASET_UPLOAD_MAX_BYTES=1024 * 1024)
def test_a_file_over_the_limit_is_refused_with_a_clear_message(client, sign_in, uk_staff, exercise, media_root):
    sign_in(client, uk_staff)
    big = b"input,target\n" + b"q,a\n" * (1024 * 1024 // 4 + 10)
    response = post_dataset(client, exercise, big)
    assert response.status_code == 413
    assert "larger than the 1 MB limit" in errors_of(response)
    assert_nothing_saved(media_root)


class LazyBody(io.RawIOBase):
    """A request body of ``size`` bytes produced on demand, counting what the server reads."""

    def __init__(self, size, head=b""):
        self.size = size
        self.head = head
        self.read_bytes = 0

    def readable(self):
        return True

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.read_bytes
        n = min(n, self.size - self.read_bytes, 1024 * 1024)
        if n <= 0:
            return b""
        start = self.read_bytes
        self.read_bytes += n
        if start < len(self.head):
            chunk = self.head[start:start + n]
            return chunk + b"x" * (n - len(chunk))
        return b"x" * n

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 64 * 1024)


TWO_GB = 2 * 1024 ** 3


def multipart_head(exercise):
    boundary = "BOUNDARY"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHuge\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"exercises\"\r\n\r\n{exercise.pk}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"dataset\"; filename=\"huge.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\ninput,target\r\n").encode()
    return boundary, head


@pytest.mark.parametrize("url", ["/tasks/new/dataset/", "/api/v1/tasks/"])
def test_a_2_gb_upload_is_refused_from_its_length_without_reading_it(client, sign_in, uk_staff, exercise, media_root,
                                                                     url):
    sign_in(client, uk_staff)
    boundary, head = multipart_head(exercise)
    body = LazyBody(TWO_GB, head)
    response = client.generic("POST", url, b"x", content_type=f"multipart/form-data; boundary={boundary}",
                              **{"wsgi.input": body, "CONTENT_LENGTH": str(TWO_GB)},
                              headers={"X-CSRFToken": "ignored"})
    assert response.status_code == 413
    assert b"larger than the 50 MB limit" in response.content
    assert body.read_bytes == 0  # refused before reading the body
    assert_nothing_saved(media_root)


@override_settings(DATASET_UPLOAD_MAX_BYTES=4 * 1024 * 1024)
def test_a_2_gb_file_part_is_cut_off_at_the_limit_while_streaming(client, sign_in, uk_staff, exercise, media_root):
    """The declared length is within the request allowance but the file part keeps going: reading stops
    soon after the limit (nothing near 2 GB is read or held)."""
    from portal.uploads import UploadLimitHandler

    sign_in(client, uk_staff)
    boundary, head = multipart_head(exercise)
    body = LazyBody(TWO_GB, head)
    original = UploadLimitHandler.handle_raw_input
    UploadLimitHandler.handle_raw_input = lambda self, *a, **k: None  # a lying Content-Length
    try:
        response = client.generic("POST", "/tasks/new/dataset/", b"x",
                                  content_type=f"multipart/form-data; boundary={boundary}",
                                  **{"wsgi.input": body, "CONTENT_LENGTH": str(TWO_GB)})
    finally:
        UploadLimitHandler.handle_raw_input = original
    assert response.status_code == 413
    assert body.read_bytes < 16 * 1024 * 1024
    assert_nothing_saved(media_root)


def test_api_creates_a_dataset_task_from_multipart(sign_in, uk_staff, exercise, media_root):
    api = api_client_for(uk_staff, sign_in)
    jsonl = b"\n".join(json.dumps(r).encode() for r in [
        {"id": "m1", "input": "Pick the colour of the sky", "target": "A", "choices": ["Blue", "Green"]},
        {"id": "m2", "input": "Pick the number", "target": "B", "choices": ["cat", "7"], "metadata": {"k": 1}},
    ])
    response = api.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "MC", "solver": "multiple_choice",
                                           "scorer": "choice", "dataset": SimpleUploadedFile("mc.jsonl", jsonl)},
                        format="multipart")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "dataset" and data["versions"][0]["sample_count"] == 2
    assert data["versions"][0]["dataset_sha256"] == hashlib.sha256(jsonl).hexdigest()


def test_api_refuses_multiple_choice_rows_without_choices(sign_in, uk_staff, exercise, media_root):
    api = api_client_for(uk_staff, sign_in)
    response = api.post("/api/v1/tasks/", {"exercise": exercise.pk, "name": "MC", "solver": "multiple_choice",
                                           "scorer": "choice", "dataset": SimpleUploadedFile("d.csv", GOOD_CSV)},
                        format="multipart")
    assert response.status_code == 400
    assert "Line 2, column choices" in json.dumps(response.json())
    assert_nothing_saved(media_root)


def test_editing_a_dataset_task_makes_a_new_version(client, sign_in, uk_staff, exercise, media_root):
    sign_in(client, uk_staff)
    post_dataset(client, exercise, GOOD_CSV)
    task = EvalTask.objects.get()
    response = client.post(f"/tasks/{task.pk}/edit/", {
        "name": task.name, "exercises": [exercise.pk], "solver": "system_prompt_generate",
        "system_prompt": "Answer briefly.", "scorer": "pattern", "pattern": "ANSWER: (\\w+)"})
    assert response.status_code == 302, errors_of(response)
    v2 = task.current_version
    assert v2.number == 2 and v2.scorer == "pattern" and v2.dataset_sha256 == hashlib.sha256(GOOD_CSV).hexdigest()
    new_csv = GOOD_CSV + b"q3,Capital of Italy?,Rome\n"
    response = client.post(f"/tasks/{task.pk}/edit/", {
        "name": task.name, "exercises": [exercise.pk], "solver": "generate", "scorer": "includes",
        "dataset": SimpleUploadedFile("v3.csv", new_csv)})
    assert response.status_code == 302, errors_of(response)
    v3 = task.current_version
    assert v3.number == 3 and v3.sample_count == 3
    assert TaskVersion.objects.get(pk=v2.pk).sample_count == 2  # never edited


def test_dataset_samples_load_checks_the_stored_sha256(uk_staff, exercise, media_root):
    from evaluations.inspectai.datasets import dataset_samples_load
    from evaluations.services.catalogue import task_create_dataset

    task = task_create_dataset(user=uk_staff, name="D", exercises=[exercise],
                               upload=SimpleUploadedFile("d.csv", GOOD_CSV))
    version = task.current_version
    assert [s["id"] for s in dataset_samples_load(version)] == ["q1", "q2"]
    with default_storage.open(version.dataset_file.name, "wb") as fh:
        fh.write(GOOD_CSV.replace(b"Paris", b"Lyon"))
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="sha256"):
        dataset_samples_load(version)
