"""Training on many machines, tested on one: two worker processes on localhost ports (TF_CONFIG, worker 0 the chief)
train the tiny preset with MultiWorkerMirroredStrategy through this project's own training loop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from explorer.files import PROJECT_DIR
from explorer.train.export import read_metrics

pytestmark = pytest.mark.slow


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(run_dir: Path, trace: Path, steps: int, *extra: str, stall: int | None = None):
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR), TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        args = [sys.executable, "-m", "tests.system.multiworker_worker", str(run_dir), str(trace), str(steps), *extra]
        if stall is not None and index == 1:
            args += ["--stall-after", str(stall)]
        workers.append(subprocess.Popen(args, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
    return workers


def finish(workers, timeout: float = 600) -> list[tuple[int, str, str]]:
    results = []
    for worker in workers:
        try:
            out, err = worker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
        results.append((worker.returncode, out, err))
    return results


def traces(path: Path) -> dict[int, dict[int, dict]]:
    found: dict[int, dict[int, dict]] = {0: {}, 1: {}}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        found[record["worker"]][record["step"]] = record
    return found


def test_two_workers_train_on_different_batches_in_step_and_the_chief_alone_writes(tmp_path):
    results = finish(start_workers(tmp_path / "run", tmp_path / "trace.jsonl", 4))
    assert all(code == 0 for code, _, _ in results), [err[-2000:] for _, _, err in results]
    seen = traces(tmp_path / "trace.jsonl")
    assert sorted(seen[0]) == sorted(seen[1]) == [1, 2, 3, 4]
    for step in range(1, 5):
        assert seen[0][step]["batch"] != seen[1][step]["batch"], "both workers saw the same batch"
        assert seen[0][step]["weights"] == seen[1][step]["weights"], "the workers' weights differ"
    assert {path.name for path in (tmp_path / "run").iterdir()} >= {"state.npz", "weights.npz", "config.json"}
    training, _ = read_metrics(tmp_path / "run")
    assert [r["step"] for r in training] == [1, 2, 3, 4]  # logged once, by the chief
    # a resume continues exactly: 4 + 2 steps equal 6 in one go
    finish(start_workers(tmp_path / "run", tmp_path / "trace.jsonl", 6, "--resume"))
    straight_trace = tmp_path / "straight.jsonl"
    finish(start_workers(tmp_path / "straight", straight_trace, 6))
    resumed, straight = traces(tmp_path / "trace.jsonl"), traces(straight_trace)
    assert resumed[0][6]["weights"] == straight[0][6]["weights"]
    with np.load(tmp_path / "run" / "weights.npz") as a, np.load(tmp_path / "straight" / "weights.npz") as b:
        for name in a.files:
            np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)


def test_a_worker_that_stops_answering_stops_the_run_with_a_clear_message(tmp_path):
    started = time.monotonic()
    workers = start_workers(tmp_path / "run", tmp_path / "trace.jsonl", 6, stall=2)
    chief = finish(workers[:1], timeout=300)[0]
    workers[1].kill()
    workers[1].communicate()
    assert chief[0] == 2, chief[2][-2000:]
    assert "A worker stopped answering at step 2" in chief[2] and "--resume" in chief[2]
    assert time.monotonic() - started < 240  # stopped by the collective timeout (20 s), not hung
    assert (tmp_path / "run" / "state.npz").exists()
