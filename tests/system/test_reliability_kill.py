"""Being killed: training SIGKILLed at random moments resumes exactly, and a dataset download or unzip killed
half-way leaves nothing that looks like a dataset; the next start recovers by itself. Figures: docs/RELIABILITY.md.

Every process here is a real `explorer` process killed with SIGKILL; only the network is a local HTTP server.
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from explorer.files import PROJECT_DIR

# `python -m explorer …` with data/ (the window cache, a download) moved under the test's folder: the checkout's
# data/cache must not see the mini dataset (its window cache would replace the real one).
LAUNCH = ("import sys; from pathlib import Path; from explorer import files; files.DATA_DIR = Path(sys.argv[1]); "
          "from explorer.cli.main import main; raise SystemExit(main(sys.argv[2:]))")
SEED = 20240607
MINI_FILES = {"train": 6, "validation": 2}  # 4/4 beats of 20-40 s: 10 batches of 8 per epoch, 22 validation windows
STEPS, BATCH, CHECKPOINT_EVERY, KILLS = 60, 8, 3, 5
PROCESS_TIMEOUT = 900  # a guard against a hung process, not a speed limit: a loaded machine is slow


def _mini_gmd(groove_dir: Path, target: Path) -> Path:
    """The first few 4/4 beats of 20-40 s per split (by info.csv order), copied with their info.csv rows."""
    with open(groove_dir / "info.csv", newline="") as source:
        reader = csv.DictReader(source)
        rows, fields = list(reader), reader.fieldnames
    chosen = []
    for split, count in MINI_FILES.items():
        chosen += [r for r in rows if r["split"] == split and r["time_signature"] == "4-4"
                   and r["beat_type"] == "beat" and 20 <= float(r["duration"]) <= 40][:count]
    for row in chosen:
        (target / row["midi_filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(groove_dir / row["midi_filename"], target / row["midi_filename"])
    with open(target / "info.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fields)
        writer.writeheader()
        writer.writerows(chosen)
    return target


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(PROJECT_DIR), TF_CPP_MIN_LOG_LEVEL="2", NO_PROXY="127.0.0.1,localhost",
                **extra)


# --- training ------------------------------------------------------------------------------------


def _train(run: Path, data: Path, mini: Path, resume: bool) -> subprocess.Popen:
    command = [sys.executable, "-c", LAUNCH, str(data), "train", "--config", "tiny_4bar", "--out", str(run),
               "--steps", str(STEPS), "--batch-size", str(BATCH), "--checkpoint-every", str(CHECKPOINT_EVERY)]
    return subprocess.Popen(command + ["--resume"] * resume, env=_env(GROOVE_DIR=str(mini)), cwd=PROJECT_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _saved_step(run: Path) -> int:
    """The step of state.npz (0 before the first save). Any unreadable state.npz fails the test."""
    try:
        with np.load(run / "state.npz", allow_pickle=False) as state:
            return int(state["step"])
    except FileNotFoundError:
        return 0


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _assert_complete(run: Path) -> list[str]:
    """Every file of the run reads completely; returns the hidden temporary files (ignored by design)."""
    temporary = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    for path in run.iterdir():
        if path.name.startswith("."):
            continue
        if path.suffix == ".npz":
            arrays = _npz(path)
            assert arrays and all(np.isfinite(a).all() for a in arrays.values() if a.dtype.kind == "f"), path.name
        elif path.suffix == ".json":
            assert json.loads(path.read_text())["model"]["name"] == "tiny_4bar"
        elif path.suffix == ".jsonl":
            assert all("step" in json.loads(line) for line in path.read_text().splitlines())
    return temporary


def _finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _metrics(run: Path) -> tuple[list, list]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return ([(r["step"], r["loss"], r["kl"]) for r in records if "loss" in r],
            [(r["step"], r["hit_f1"], r["mean_kl"]) for r in records if r.get("split") == "validation"])


@pytest.mark.slow
def test_training_killed_five_times_resumes_exactly(groove_dir, tmp_path):
    """5 SIGKILLs at seeded random moments (a random delay after the process has saved past a random step);
    each restart with --resume. The end equals an uninterrupted run: step, weights, optimizer, best and metrics."""
    mini, data = _mini_gmd(groove_dir, tmp_path / "mini"), tmp_path / "data"
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert _finish(_train(straight, data, mini, resume=False))["step"] == STEPS

    rng = np.random.default_rng(SEED)
    thresholds = np.sort(rng.choice(np.arange(2, STEPS - 15), KILLS, replace=False))
    delays = rng.uniform(0.0, 0.4, KILLS)
    report = []
    for kill, (threshold, delay) in enumerate(zip(thresholds, delays, strict=True)):
        start = _saved_step(killed)
        process = _train(killed, data, mini, resume=kill > 0)
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while _saved_step(killed) < max(threshold, start + 1):  # progress of this very process
            assert process.poll() is None, f"kill {kill + 1}: the run ended before it: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"kill {kill + 1}: no progress in {PROCESS_TIMEOUT} s"
            time.sleep(0.02)
        seen = _saved_step(killed)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        temporary = _assert_complete(killed)
        report.append(dict(started_at=start, saved_at_trigger=seen, delay_s=round(float(delay), 3),
                           saved_after_kill=_saved_step(killed), temporary_files=temporary))
    result = _finish(_train(killed, data, mini, resume=True))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("\nkills:", *report, f"final: {result}", f"CPU seconds of all 7 processes: {cpu.ru_utime + cpu.ru_stime:.0f}",
          sep="\n")  # the figures of docs/RELIABILITY.md (pytest -s)

    assert result["step"] == STEPS and _saved_step(killed) == STEPS
    assert [r["saved_after_kill"] for r in report] == sorted(r["saved_after_kill"] for r in report)
    assert not [p for p in killed.iterdir() if p.name.startswith(".")], "the next start cleans temporary files"
    for name in ("state.npz", "weights.npz", "best.npz"):
        expected, got = _npz(straight / name), _npz(killed / name)
        assert got.keys() == expected.keys()
        differences = {key: float(np.max(np.abs(got[key] - expected[key]), initial=0.0)) for key in expected
                       if key != "elapsed"}  # training seconds: the one thing a kill is meant to change
        print(name, "max |difference|:", max(differences.values()))
        assert max(differences.values()) <= 1e-6, {k: d for k, d in differences.items() if d > 1e-6}
    # The records logged after a kill's last checkpoint were dropped and logged again: none twice, none missing.
    (train_got, validation_got), (train_expected, validation_expected) = _metrics(killed), _metrics(straight)
    assert [r[0] for r in train_got] == [r[0] for r in train_expected] == list(range(20, STEPS + 1, 20))
    assert [r[0] for r in validation_got] == [r[0] for r in validation_expected] == list(range(10, STEPS + 1, 10))
    np.testing.assert_allclose(np.array(train_got + validation_got), np.array(train_expected + validation_expected),
                               rtol=0, atol=1e-4)


# --- dataset download and unzip ------------------------------------------------------------------

ZIP_FILES = 150  # the first performances of info.csv: a ~1 MB zip, 16 download chunks of 64 KiB
CHUNK = 1 << 16  # gmd._fetch's chunk: progress is reported at its multiples
# gmd_root() with the download's address and sha256 from argv; member `hang_at` of the unzip (0: none) is left
# half-written and the process hangs there, so the SIGKILL lands mid-unzip every time.
DOWNLOAD = """
import shutil, sys, time
from pathlib import Path
from explorer.datasets import gmd
from explorer import files
files.DATA_DIR, gmd.GMD_URL, gmd.GMD_SHA256 = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
hang_at = int(sys.argv[4])
copy, copies = shutil.copyfileobj, []
def copy_or_hang(source, out, *args):
    copies.append(1)
    if len(copies) == hang_at:
        out.write(source.read(100))
        out.flush()
        print("unzipping", len(copies), flush=True)
        time.sleep(600)
    copy(source, out, *args)
shutil.copyfileobj = copy_or_hang
print("root", gmd.gmd_root(progress=lambda done, total: print("downloaded", done, total, flush=True)), flush=True)
"""


@pytest.fixture(scope="module")
def gmd_zip(groove_dir, tmp_path_factory) -> bytes:
    """A GMD-shaped zip (groove/info.csv + groove/drummer…/….mid) of ZIP_FILES real performances."""
    with open(groove_dir / "info.csv", newline="") as source:
        reader = csv.DictReader(source)
        rows, fields = list(reader)[:ZIP_FILES], reader.fieldnames
    table = io.StringIO()
    writer = csv.DictWriter(table, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("groove/info.csv", table.getvalue())
        for row in rows:
            archive.write(groove_dir / row["midi_filename"], f"groove/{row['midi_filename']}")
    return buffer.getvalue()


@pytest.fixture
def server(gmd_zip):
    """A local stand-in for GMD's host; with `state["hold_after"]` set, it sends that many bytes and waits."""
    state = {"requests": 0, "hold_after": None}
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(gmd_zip)))
            self.end_headers()
            hold = state["hold_after"] or len(gmd_zip)
            try:
                self.wfile.write(gmd_zip[:hold])
                self.wfile.flush()
                release.wait(PROCESS_TIMEOUT)
                self.wfile.write(gmd_zip[hold:])
            except OSError:  # the client was killed
                pass

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_port}/groove-v1.0.0-midionly.zip"
    yield state
    release.set()
    httpd.shutdown()
    httpd.server_close()


def _kill_when(process: subprocess.Popen, wanted: str) -> str:
    """Read the process's output up to the line starting with `wanted`, then SIGKILL it; returns that line."""
    watchdog = threading.Timer(PROCESS_TIMEOUT, process.kill)  # a process that never gets there ends the read
    watchdog.start()
    try:
        for line in process.stdout:
            if line.startswith(wanted):
                process.send_signal(signal.SIGKILL)
                process.communicate()
                return line.strip()
    finally:
        watchdog.cancel()
    raise AssertionError(f"the process ended without printing '{wanted}'")


@pytest.mark.parametrize("stage", ["download", "unzip"])
def test_killed_download_is_never_taken_for_a_dataset(stage, server, gmd_zip, tmp_path, monkeypatch):
    """SIGKILL half-way through the download (at a seeded chunk) or the unzip (at a seeded member): data/groove
    does not exist, gmd_root() does not accept what is there, and the next start downloads again by itself,
    deletes the leftovers and ends with every file complete."""
    from explorer import files
    from explorer.datasets import gmd
    from explorer.errors import DatasetError

    rng = np.random.default_rng(SEED)
    chunks = len(gmd_zip) // CHUNK
    hang_at = int(rng.integers(2, ZIP_FILES)) if stage == "unzip" else 0
    server["hold_after"] = int(rng.integers(1, chunks)) * CHUNK if stage == "download" else None
    data, sha256 = tmp_path / "data", hashlib.sha256(gmd_zip).hexdigest()
    process = subprocess.Popen([sys.executable, "-c", DOWNLOAD, str(data), server["url"], sha256, str(hang_at)],
                               env=_env(GROOVE_DIR=""), cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = _kill_when(process, f"downloaded {server['hold_after']} " if stage == "download" else "unzipping")
    partial_zip = next(data.glob(f"{gmd.DOWNLOAD_PREFIX}*")).stat().st_size
    unpacked = [p for p in next(data.glob(f"{gmd.UNPACK_PREFIX}*")).rglob("*") if p.is_file()]
    print(f"\n{stage}: killed at '{line}' of {len(gmd_zip):,} bytes; left behind: a {partial_zip:,}-byte zip and "
          f"{len(unpacked)} unpacked files")
    # The kill did leave partial data behind: part of the zip, or all of it and part of its files.
    assert (partial_zip == len(gmd_zip)) == (stage == "unzip") and 0 < partial_zip <= len(gmd_zip)
    assert (0 < len(unpacked) < ZIP_FILES + 1) == (stage == "unzip")
    assert not (data / "groove").exists()
    monkeypatch.setattr(files, "DATA_DIR", data)
    monkeypatch.delenv("GROOVE_DIR", raising=False)
    with pytest.raises(DatasetError, match="not here yet"):
        gmd.gmd_root(download=False)

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(gmd, "GMD_URL", server["url"])
    monkeypatch.setattr(gmd, "GMD_SHA256", sha256)
    server["hold_after"] = None
    root = gmd.gmd_root()
    assert root == data / "groove" and server["requests"] == 2
    assert sorted(p.name for p in data.iterdir()) == ["groove"]  # the leftovers were deleted
    with zipfile.ZipFile(io.BytesIO(gmd_zip)) as archive:
        for member in archive.infolist():
            assert (data / member.filename).read_bytes() == archive.read(member), member.filename
    assert len(gmd.load_info(root)) == ZIP_FILES
