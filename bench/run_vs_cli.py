"""Execution benchmark: the portal engine (warm, as in a worker) vs the plain ``inspect eval`` command line.

    .venv/bin/python bench/run_vs_cli.py [--samples 1000] [--repeat 1]
    .venv/bin/python bench/run_vs_cli.py --local-model http://127.0.0.1:8765/v1 --samples 20   # make local-model

Same task, same model, same defaults on both paths:
  cli     : ``inspect eval bench/bench_tasks.py@bench_echo -T samples=N --model mockllm/model --display none``
            in a subprocess, wall time (a cold interpreter: imports included, as a user at a shell sees it).
  library : ``eval_async`` in this already-warm process, no portal code (the floor for any in-process path).
  engine  : ``run_item(spec, callbacks)`` + ``ingest_log(log, on_batch=<does nothing>)`` in this process, warmed
            up by one small item first, as a Celery worker is after its first item. Callbacks do nothing but
            are called (per-sample hook, thread hop, cancel watcher polling every 0.5 s).
Prints the times and the ratio engine/cli (target <= 1.10) and engine/library (the engine's own overhead).

The whole portal path (last approval -> Celery/Redis -> worker -> ingestion into PostgreSQL) is measured by
bench/portal_path.py, which imports ``cli_once`` from here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
TASKS = f"{BASE_DIR}/bench/bench_tasks.py"
LOCAL_MODEL = "openai-api-completions/llamacpp/gemma3-270m"


class NoopCallbacks:
    def __init__(self) -> None:
        self.samples = 0

    def on_start(self, *, total_samples: int | None) -> None:
        pass

    def on_sample(self, event: object) -> None:
        self.samples += 1

    def should_cancel(self) -> bool:
        return False


def task_and_model(args: argparse.Namespace) -> tuple[str, str, dict[str, int]]:
    if args.local_model:
        return f"{TASKS}@bench_prompts", LOCAL_MODEL, {"max_tokens": 8}
    return f"{TASKS}@bench_echo", "mockllm/model", {}


def cli_once(args: argparse.Namespace, log_dir: str) -> float:
    task, model, config = task_and_model(args)
    cmd = [
        str(Path(sys.executable).parent / "inspect"), "eval", task,
        "-T", f"samples={args.samples}",
        "--model", model,
        "--display", "none",
        "--log-dir", log_dir,
        "--log-format", "eval",
    ]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if args.local_model:
        cmd += ["--model-base-url", args.local_model, "--max-tokens", str(config["max_tokens"])]
        cmd += ["--max-connections", "1"]
        env["LLAMACPP_API_KEY"] = "local"
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=BASE_DIR, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def library_once(args: argparse.Namespace, log_dir: str) -> float:
    from inspect_ai import eval_async
    from inspect_ai.model import GenerateConfig, get_model

    task, model_name, config = task_and_model(args)
    model = get_model(
        model_name,
        base_url=args.local_model,
        api_key="local" if args.local_model else None,
        memoize=False,
        config=GenerateConfig(**config),
    )
    t0 = time.perf_counter()
    logs = asyncio.run(
        eval_async(
            task,
            model=model,
            task_args={"samples": args.samples},
            log_dir=log_dir,
            log_format="eval",
            ctl_server=False,
            max_connections=1 if args.local_model else None,
        )
    )
    assert logs[0].status == "success", logs[0].error
    return time.perf_counter() - t0


def engine_once(args: argparse.Namespace, log_dir: str, samples: int) -> tuple[float, float]:
    from evaluations.engine import ItemSpec, ingest_log, run_item

    task, model, config = task_and_model(args)
    spec = ItemSpec(
        item_id=1,
        model=model,
        task=task,
        log_dir=log_dir,
        base_url=args.local_model,
        api_key="local" if args.local_model else None,
        model_config=config,
        task_args={"samples": samples},
        max_connections=1 if args.local_model else None,
    )
    callbacks = NoopCallbacks()
    t0 = time.perf_counter()
    outcome = run_item(spec, callbacks)
    t1 = time.perf_counter()
    assert outcome.status == "success", outcome.error
    assert outcome.log_path is not None and callbacks.samples == samples
    rows = 0

    def on_batch(batch: list) -> None:
        nonlocal rows
        rows += len(batch)

    ingest_log(outcome.log_path, on_batch)
    t2 = time.perf_counter()
    assert rows == samples
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--local-model", default=None, help="base URL of `make local-model` (…/v1)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = tempfile.mkdtemp(prefix="portal-bench-")
    try:
        engine_once(args, f"{tmp}/warmup", samples=5)  # a worker after its first item
        rows = []
        for i in range(args.repeat):
            cli = cli_once(args, f"{tmp}/cli{i}")
            lib = library_once(args, f"{tmp}/lib{i}")
            run, ingest = engine_once(args, f"{tmp}/engine{i}", samples=args.samples)
            rows.append((cli, lib, run, ingest))
            print(
                f"[{i + 1}] cli {cli:6.1f} s   library {lib:6.1f} s   "
                f"engine run_item {run:6.1f} s + ingest_log {ingest:5.1f} s",
                flush=True,
            )
        cli = min(r[0] for r in rows)
        lib = min(r[1] for r in rows)
        engine = min(r[2] + r[3] for r in rows)
        model = task_and_model(args)[1]
        print(f"samples {args.samples}, model {model}, best of {args.repeat}")
        print(f"inspect eval (cold CLI)        {cli:7.1f} s")
        print(f"eval_async (warm, no portal)   {lib:7.1f} s")
        print(f"run_item + ingest_log (warm)   {engine:7.1f} s")
        print(f"ratio engine/cli               {engine / cli:7.2f}   (target <= 1.10)")
        print(f"ratio engine/library           {engine / lib:7.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
