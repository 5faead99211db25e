"""Hostile and odd MIDI files through the app's whole upload path: parse → windows → encode → render → download.

    GROOVE_DIR=... python -m bench.fuzz_midi [--n 10000] [--seed 0] [--full-every 10] [--write]

Generates `--n` inputs (bench/odd_midi.py: structured odd files and mutations of real GMD files), opens each as the
app does (`explorer.ui.upload_windows`: parse → 4-bar windows) and times it. Every `--full-every`-th file that opens
also goes the rest of the way with the shipped model: encode its first window, render it with the default renderer,
write it as MIDI (the download) and open that download again. Anything raised that is not an `ExplorerError` is an
uncaught failure; every refusal's type and message are checked. Peak memory: the process's peak RSS before and after
the run, and tracemalloc's peak for the parse of the 10 slowest inputs and one of each category, re-run apart
(tracemalloc slows Python several-fold, so it stays out of the timed run). `--write` puts the results in the
"Hostile and odd files" section of docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import odd_midi
from bench.report import machine, publish
from explorer.errors import ExplorerError
from explorer.notes.groove import Groove
from explorer.notes.midi_read import DEFAULT_LIMITS, midi_to_performance
from explorer.notes.midi_write import groove_to_midi

SECTION = "Hostile and odd files"
DOC = Path(__file__).resolve().parent.parent / "docs" / "RELIABILITY.md"
SLOW_SECONDS = 2.0  # the bound for one upload
# Real files to mutate: beats and fills of 0.5-16 kB, one of them in 6/8 (a real odd meter).
BASE_FILES = (
    "drummer3/session2/44_rock_110_fill_4-4.mid",
    "drummer2/session2/6_rock_130_beat_4-4.mid",
    "drummer7/session3/37_hiphop_67_fill_4-4.mid",
    "drummer6/session1/1_rock_70_beat_6-8.mid",
    "drummer1/session1/201_reggae-slow_64_beat_4-4.mid",
    "drummer8/session1/1_funk_95_beat_4-4.mid",
)


def base_files(root: Path) -> list[bytes]:
    return [(root / name).read_bytes() for name in BASE_FILES]


def open_upload(data: bytes, name: str) -> list[Groove]:
    """What the app does with an uploaded file (imported here: explorer.ui pulls in Streamlit)."""
    from explorer.app.ui import upload_windows

    return [seed.groove for seed in upload_windows(data, name)]


def good_message(message: str, name: str) -> bool:
    """A refusal a musician can read: names the file, one short line, no traceback."""
    return (message.startswith(f"'{name}' ") and "\n" not in message and len(message) < 250
            and "Traceback" not in message)


def rest_of_path(model, window: Groove) -> None:
    """Encode, render and download one window, as the app would; raises on anything wrong."""
    from explorer.audio import rendering
    from explorer.tools.generate import encode

    _, mu, _ = encode(model, [window])
    if not np.isfinite(mu).all():
        raise ValueError("the encoding is not finite")
    wav = rendering.render(window, bpm=window.bpm)
    if len(wav) <= 44:
        raise ValueError("the rendered WAV is empty")
    again = midi_to_performance(groove_to_midi(window, window.bpm), "download.mid").groove
    if not np.isclose(again.bpm, window.bpm, rtol=1e-9) or again.hits.sum() != window.hits.sum():
        raise ValueError("the downloaded MIDI does not open as the same groove")


@dataclass
class Outcome:
    index: int
    category: str
    size: int
    result: str  # "opened", an ExplorerError's class name, or "uncaught"
    message: str
    seconds: float  # parse → windows, wall clock
    cpu_seconds: float  # parse → windows, this process's CPU time
    windows: int = 0
    rest_seconds: float | None = None  # encode + render + download, for the sampled files that opened
    rest_error: str = ""


def try_upload(index: int, category: str, data: bytes) -> tuple[Outcome, list[Groove]]:
    name = f"fuzz-{index}.mid"
    wall, cpu = time.perf_counter(), time.process_time()
    found: list[Groove] = []
    try:
        found = open_upload(data, name)
        result, message = "opened", ""
    except ExplorerError as error:
        result, message = type(error).__name__, str(error)
    except Exception as error:  # the point of the run: anything else is a bug
        result, message = "uncaught", f"{type(error).__name__}: {error}"
    outcome = Outcome(index, category, len(data), result, message, time.perf_counter() - wall,
                      time.process_time() - cpu, len(found))
    return outcome, found


def try_rest(model, outcome: Outcome, window: Groove) -> None:
    start = time.perf_counter()
    try:
        rest_of_path(model, window)
    except ExplorerError as error:
        outcome.rest_error = f"{type(error).__name__}: {error}"
    except Exception as error:
        outcome.rest_error = f"uncaught {type(error).__name__}: {error}"
    outcome.rest_seconds = time.perf_counter() - start


def run(n: int, seed: int, bases: list[bytes], model, full_every: int, progress: bool = False) -> list[Outcome]:
    outcomes, opened = [], 0
    for index in range(n):
        category, data = odd_midi.generate(seed, index, bases)
        outcome, found = try_upload(index, category, data)
        if found:
            opened += 1
            if model is not None and opened % full_every == 1 % full_every:
                try_rest(model, outcome, found[0])
        outcomes.append(outcome)
        if progress and (index + 1) % 500 == 0:
            print(f"{index + 1}/{n} inputs: {sum(o.result == 'uncaught' for o in outcomes)} uncaught, slowest "
                  f"{max(o.seconds for o in outcomes):.2f} s wall, {max(o.cpu_seconds for o in outcomes):.2f} s CPU",
                  file=sys.stderr)
    return outcomes


def traced_peaks(outcomes: list[Outcome], seed: int, bases: list[bytes], per_category: int = 1,
                 slowest: int = 10) -> list[tuple[float, Outcome]]:
    """tracemalloc's peak (MB) while opening the slowest inputs and the first few of each category, again."""
    chosen = {o.index: o for o in sorted(outcomes, key=lambda o: -o.cpu_seconds)[:slowest]}
    for category in odd_midi.CATEGORIES:
        chosen.update({o.index: o for o in [o for o in outcomes if o.category == category][:per_category]})
    peaks = []
    tracemalloc.start()
    for index, outcome in sorted(chosen.items()):
        _, data = odd_midi.generate(seed, index, bases)
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        with contextlib.suppress(Exception):  # outcomes were recorded in the timed run
            open_upload(data, f"fuzz-{index}.mid")
        peaks.append(((tracemalloc.get_traced_memory()[1] - baseline) / 1e6, outcome))
        del data
    tracemalloc.stop()
    return sorted(peaks, key=lambda peak: -peak[0])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def markdown(outcomes: list[Outcome], args, elapsed: float, rss: tuple[float, float],
             peaks: list[tuple[float, Outcome]]) -> list[str]:
    uncaught = [o for o in outcomes if o.result == "uncaught"]
    refused = [o for o in outcomes if o.result not in ("opened", "uncaught")]
    unhelpful = [o for o in refused if not good_message(o.message, f"fuzz-{o.index}.mid")]
    slow_wall = [o for o in outcomes if o.seconds > SLOW_SECONDS]
    slow_cpu = [o for o in outcomes if o.cpu_seconds > SLOW_SECONDS]
    rest = [o for o in outcomes if o.rest_seconds is not None]
    rest_failed = [o for o in rest if o.rest_error]
    slowest = max(outcomes, key=lambda o: o.seconds)
    slowest_cpu = max(outcomes, key=lambda o: o.cpu_seconds)
    seconds = np.array([o.seconds for o in outcomes])
    lines = [
        f"`python -m bench.fuzz_midi --n {args.n} --seed {args.seed} --full-every {args.full_every}` "
        f"(bench/odd_midi.py makes the inputs; {elapsed / 60:.0f} min) on {machine()}, "
        f"Python {platform.python_version()} (load average {os.getloadavg()[0]:.1f} at the end; wall-clock times "
        "grow with other jobs, so CPU time (`time.process_time`) is given beside them).", "",
        "| figure | result | target |", "|---|---|---|",
        f"| inputs | {len(outcomes):,}: {sum(o.result == 'opened' for o in outcomes):,} opened, {len(refused):,} "
        f"refused | ≥ 10,000 |",
        f"| uncaught exceptions (anything not an `ExplorerError`) | {len(uncaught)} | 0 |",
        f"| inputs over {SLOW_SECONDS:g} s to open (parse → windows), wall clock | {len(slow_wall)} | 0 |",
        f"| inputs over {SLOW_SECONDS:g} s to open, CPU time | {len(slow_cpu)} | 0 |",
        f"| slowest to open | {slowest.seconds:.2f} s wall ({slowest.category}, {slowest.result}); "
        f"{slowest_cpu.cpu_seconds:.2f} s CPU ({slowest_cpu.category}, {slowest_cpu.result}) | < {SLOW_SECONDS:g} s |",
        f"| median / 99th percentile to open, wall clock | {np.median(seconds) * 1e3:.0f} ms / "
        f"{np.percentile(seconds, 99) * 1e3:.0f} ms | |",
        f"| refusals whose message does not name the file in one short line | {len(unhelpful)} | 0 |",
        f"| opened files taken on through encode → render → download (every {args.full_every}th) | {len(rest):,}, "
        f"{len(rest_failed)} failed, slowest {max((o.rest_seconds for o in rest), default=0):.2f} s | 0 failed |",
        f"| peak RSS of the process | {rss[0]:,.0f} MB with the model loaded, {rss[1]:,.0f} MB after all inputs | "
        "bounded |",
        f"| peak traced allocation opening one input (tracemalloc, {len(peaks)} inputs re-run) | "
        f"{peaks[0][0]:.0f} MB ({peaks[0][1].category}, {peaks[0][1].size:,} bytes, {peaks[0][1].result}) | "
        "bounded |",
        "", "| category | inputs | opened | refused as | slowest (wall / CPU) |", "|---|---|---|---|---|"]
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.category].append(outcome)
    for category in odd_midi.CATEGORIES:
        group = by_category.get(category, [])
        if not group:
            continue
        kinds = Counter(o.result for o in group if o.result != "opened")
        shown = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
        lines.append(f"| {category} | {len(group)} | {sum(o.result == 'opened' for o in group)} | {shown or '—'} | "
                     f"{max(o.seconds for o in group):.2f} s / {max(o.cpu_seconds for o in group):.2f} s |")
    lines += ["", "| refused as | inputs | an example message |", "|---|---|---|"]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in refused:
        by_kind[outcome.result].append(outcome)
    for kind, group in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        messages = Counter(o.message.split(" ", 1)[1] for o in group)  # without the file's name
        lines.append(f"| `{kind}` | {len(group):,} | The file {messages.most_common(1)[0][0]} |")
    for outcome in uncaught[:10] + rest_failed[:10]:
        lines.append(f"\nFailure: input {outcome.index} ({outcome.category}): {outcome.message or outcome.rest_error}")
    limits = DEFAULT_LIMITS
    lines += ["", "Where the bounds come from: before mido builds an object per event, `explorer.notes.midi_read` "
              "walks the raw chunks and events (`_scan_events`) and refuses, as soon as a limit is crossed, files over "
              f"{limits.max_bytes / 1e6:g} MB, {limits.max_tracks:,} tracks, {limits.max_events:,} events, "
              f"{limits.max_notes:,} notes or {limits.max_data_bytes / 1000:g} kB of system-exclusive and meta data, "
              "delta times or lengths over 4 bytes, and events past 30 minutes at 400 bpm or past 6 million ticks "
              "(pretty_midi keeps a float per tick: at most 48 MB, the largest single allocation). Only drum "
              "notes, tempos and meters reach pretty_midi and note-seq. GMD's largest file (42,242 events, 11,513 "
              "notes) is well inside every limit.",
              "", "`tests/system/test_fuzz.py` runs a seeded subset of these inputs (no timing asserts) and each named "
              "case."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-every", type=int, default=10, help="encode, render and download every Nth file "
                        "that opens")
    parser.add_argument("--write", action="store_true", help="update docs/RELIABILITY.md")
    args = parser.parse_args(argv)
    from explorer.datasets import gmd
    from explorer.model import checkpoints

    bases = base_files(gmd.gmd_root(download=False))
    model = checkpoints.load_model(checkpoints.DEFAULT_CHECKPOINT)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    outcomes = run(args.n, args.seed, bases, model, args.full_every, progress=True)
    elapsed = time.perf_counter() - start
    rss_after = peak_rss_mb()
    peaks = traced_peaks(outcomes, args.seed, bases)
    lines = markdown(outcomes, args, elapsed, (rss_before, rss_after), peaks)
    publish(SECTION, lines, args.write, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
