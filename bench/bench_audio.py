"""How fast one 4-bar groove renders, per renderer, as a multiple of real time (the audio's own duration).

    GROOVE_DIR=... python -m bench.bench_audio [--grooves 20] [--write]

Renders the first 4-bar window of the first `--grooves` 4/4 beats of GMD's test split, once each, after one warm-up
render (the first render loads the soundfont / synthesizes the built-in kit; that cold start is reported apart).
`--write` puts the results in the "Audio rendering" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

from bench.report import machine, publish
from explorer.audio import fluidsynth, rendering
from explorer.datasets import gmd
from explorer.notes.midi_read import midi_to_grooves

SECTION = "Audio rendering"
TARGETS = {"builtin": 100.0, "fluidsynth": 20.0}  # × real time, from the issue


def real_grooves(count: int) -> list:
    root = gmd.gmd_root(download=False)
    info = gmd.load_info(root)
    beats = info[(info.split == "test") & (info.beat_type == "beat") & (info.time_signature == "4-4")]
    grooves = []
    for name in beats.midi_filename:
        grooves.extend(midi_to_grooves(root / name)[:1])
        if len(grooves) == count:
            break
    return grooves


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(name: str, grooves: list, render) -> dict:
    """Seconds of audio per second of rendering, per groove (`render(groove)` returns the audio array)."""
    rendering.reset()
    cold = timed(lambda: render(grooves[0]))
    speeds = []
    for groove in grooves:
        start = time.perf_counter()
        frames = len(render(groove))
        speeds.append(frames / rendering.SAMPLE_RATE / (time.perf_counter() - start))
    return {"renderer": name, "cold_seconds": cold, "median": statistics.median(speeds), "slowest": min(speeds)}


def midi2audio_render(groove):
    """The midi2audio path on its own (what runs when pyfluidsynth cannot load libfluidsynth)."""
    soundfont = fluidsynth.find_soundfont()
    frames = round((groove.seconds + rendering.TAIL_SECONDS) * rendering.SAMPLE_RATE)
    notes = rendering.note_frames(groove, groove.bpm, 1, rendering.SAMPLE_RATE)
    return fluidsynth.render_midi2audio(notes, frames, rendering.SAMPLE_RATE, soundfont)


def run(grooves: list) -> list[dict]:
    results = [measure("builtin", grooves, lambda g: rendering.render_array(g, renderer="builtin"))]
    choice = rendering.choose_renderer("auto")
    if choice.name == "fluidsynth":
        results.append(measure(f"fluidsynth: {choice.description}", grooves,
                               lambda g: rendering.render_array(g, renderer="fluidsynth")))
        results.append(measure("fluidsynth via midi2audio", grooves[:5], midi2audio_render))
    else:
        print(f"FluidSynth not measured: {choice.description}", file=sys.stderr)
    cached = rendering.render_wav(grooves[0])
    hit = timed(lambda: rendering.render_wav(grooves[0]))
    results.append({"renderer": "render_wav, cache hit", "cached_bytes": len(cached), "hit_seconds": hit})
    return results


def markdown(results: list[dict], count: int, mean_seconds: float) -> list[str]:
    lines = [f"`python -m bench.bench_audio --grooves {count}` on {machine()} "
             f"(shared with other jobs: load average {os.getloadavg()[0]:.1f} at the end of the run), Python "
             f"{platform.python_version()}. One 4-bar GMD test-split groove "
             "per render (first window of each of the first 4/4 beats), 44.1 kHz stereo, loops=1, "
             f"{rendering.TAIL_SECONDS:g} s tail: {mean_seconds:.1f} s of audio on average. Speed = seconds of audio "
             "per second of rendering.", "",
             "| renderer | median speed | slowest | target | first render (loads font / builds kit) |",
             "|---|---|---|---|---|"]
    for row in results:
        if "median" not in row:
            continue
        target = next((f"≥ {value:g}×" for key, value in TARGETS.items()
                       if row["renderer"].startswith(key) and "midi2audio" not in row["renderer"]), "—")
        lines.append(f"| {row['renderer']} | {row['median']:.0f}× | {row['slowest']:.0f}× | {target} | "
                     f"{row['cold_seconds']:.2f} s |")
    hit = next(row for row in results if "hit_seconds" in row)
    lines += ["", f"A cache hit (`render_wav` of a groove already rendered) takes {hit['hit_seconds'] * 1e3:.2f} ms; "
              f"a 4-bar WAV is {hit['cached_bytes'] / 2**20:.1f} MiB, and the cache holds up to "
              f"{rendering.CACHE_MAX_BYTES / 2**20:.0f} MiB."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grooves", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    grooves = real_grooves(args.grooves)
    mean_seconds = statistics.mean(g.seconds for g in grooves) + rendering.TAIL_SECONDS
    lines = markdown(run(grooves), args.grooves, mean_seconds)
    publish(SECTION, lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
