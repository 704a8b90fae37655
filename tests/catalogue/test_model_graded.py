"""The model-graded scorer runs end to end: the grader is a registered model (with its encrypted key) served by a
real OpenAI-compatible HTTP server on 127.0.0.1, and its verdicts decide the scores."""

import json
import os
import subprocess
import sys
import textwrap
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from evaluations.services import catalogue as services
from tests.support.registry import _OpenAIHandler, make_model
from tests.support.workers import test_database_url as database_url_of_tests

BASE_DIR = Path(__file__).resolve().parents[2]
GRADER_KEY = "sk-grader-key-0123456789abcdef"


class _GraderHandler(_OpenAIHandler):
    """Grades "4" correct and anything else incorrect, the way model_graded_qa asks (GRADE: C / GRADE: I)."""

    requests: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("Authorization") != f"Bearer {GRADER_KEY}":
            self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
            return
        prompt = json.dumps(body.get("messages", []))
        type(self).requests.append(prompt)
        verdict = "GRADE: C" if "[Submission]: 4" in prompt else "GRADE: I"
        self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": f"Reasoning.\n{verdict}"}}],
                         "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}})


EVAL_SCRIPT = textwrap.dedent("""
    import json, sys
    import django
    django.setup()
    from inspect_ai import eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    import evaluations.inspectai.tasks as t

    outputs = []
    for text in ["4", "5"]:
        o = ModelOutput.from_content("mockllm/model", text)
        o.usage = ModelUsage(input_tokens=5, output_tokens=1, total_tokens=6)
        outputs.append(o)
    model = get_model("mockllm/model", custom_outputs=outputs, memoize=False)
    log = eval(t.portal_dataset(task_version_id=int(sys.argv[1])), model=model, display="none",
               log_dir=sys.argv[2], max_samples=1)[0]
    values = sorted(str(s.scores["model_graded_qa"].value) for s in log.samples)
    print("RESULT " + json.dumps({"status": log.status, "values": values,
                                  "accuracy": log.results.scores[0].metrics["accuracy"].value}))
""")


@pytest.fixture
def grader_server():
    _GraderHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GraderHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db(transaction=True)
def test_model_graded_scorer_asks_the_registered_grader_and_uses_its_verdicts(uk_staff, exercise, tmp_path,
                                                                              settings, grader_server):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    with override_settings(MODEL_ENDPOINT_ALLOWLIST=["127.0.0.1"]):
        grader = make_model(uk_staff, exercise, name="Grader", provider_model="openai-api/tiny/grader",
                            base_url=grader_server, api_key=GRADER_KEY, config={"temperature": 0.0})
    task = services.task_create_dataset(
        user=uk_staff, name="Graded", exercises=[exercise], scorer="model_graded_qa",
        grader_model_version=grader.current_version.pk,
        upload=SimpleUploadedFile("d.csv", b"id,input,target\na,What is 2+2?,4\nb,What is 2+2?,4\n"),
    )
    env = dict(os.environ, DATABASE_URL=database_url_of_tests(), MEDIA_ROOT=str(tmp_path / "media"),
               DJANGO_SETTINGS_MODULE="portal.settings", HF_HUB_OFFLINE="1", MODEL_ENDPOINT_ALLOWLIST="127.0.0.1")
    proc = subprocess.run([sys.executable, "-c", EVAL_SCRIPT, str(task.current_version.pk), str(tmp_path / "logs")],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=240)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(line[7:])
    assert result["status"] == "success"
    assert result["values"] == ["C", "I"]  # one answer "4" graded correct, one "5" graded incorrect
    assert result["accuracy"] == 0.5
    assert len(_GraderHandler.requests) == 2  # the grader was really asked, once per sample
    log_bytes = b"".join(p.read_bytes() for p in (tmp_path / "logs").glob("*.eval"))
    assert GRADER_KEY.encode() not in log_bytes
