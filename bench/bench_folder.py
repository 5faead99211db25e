"""Your own grooves, measured: preparing a folder's windows at scale, and a real fine-tune on a small folder.

    python -m bench.bench_folder prep [--scale 20]     # files per second on GMD and on a corpus 20× its size
    python -m bench.bench_folder finetune [--steps 300]  # a real fine-tune on 30 programmed beats

`prep`: GMD's MIDI files (every one, any meter), then a synthetic corpus of `scale` × as many files (GMD's files,
each copy made unique by a text event, so that no cache entry is shared), prepared with 1 and with 2 worker
processes into fresh caches: files per second, and a second pass that reads the cache.
`finetune`: 30 of the programmed beats of bench/programmed_beats.py (every style) as a folder; the shipped
checkpoint fine-tuned on them with `train --midi-dir`; validation hit F1 (held-out files) before and after, and the
novelty of 64 samples at T = 1 against the training windows (hit Jaccard with the nearest one: 1 is a copy).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import mido

from bench.report import machine
from explorer.datasets.folder import folder_windows, midi_files


def _unique_copies(source: Path, target: Path, scale: int) -> int:
    """`scale` copies of every MIDI file under `source`, each with its own text event (so its own bytes)."""
    count = 0
    for index, path in enumerate(midi_files(source)):
        midi = mido.MidiFile(path)
        for copy in range(scale):
            midi.tracks[0].insert(0, mido.MetaMessage("text", text=f"copy {copy} of {index}"))
            folder = target / f"part{copy:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            midi.save(folder / f"{index:05d}.mid")
            midi.tracks[0].pop(0)
            count += 1
    return count


def _timed(folder: Path, workers: int, cache: Path) -> tuple[float, int]:
    started = time.perf_counter()
    found = folder_windows(folder, workers=workers, cache_dir=cache, progress=False)
    return time.perf_counter() - started, len(found.tensors)


def prep(scale: int) -> None:
    from explorer.datasets.gmd import gmd_root

    gmd = gmd_root(download=False)
    print(f"`python -m bench.bench_folder prep --scale {scale}` on {machine()}.\n")
    print("| corpus | files | workers | seconds | files / s | windows |\n|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        corpora = {"GMD v1.0.0 (every file)": gmd}
        synthetic = scratch / "synthetic"
        files = _unique_copies(gmd, synthetic, scale)
        corpora[f"synthetic, {scale}× GMD"] = synthetic
        for name, folder in corpora.items():
            count = len(midi_files(folder))
            for workers in (1, 2):
                cache = scratch / f"cache-{workers}-{abs(hash(name))}"
                seconds, windows = _timed(folder, workers, cache)
                print(f"| {name} | {count:,} | {workers} | {seconds:.1f} | {count / seconds:.0f} | {windows:,} |")
            seconds, _ = _timed(folder, 2, cache)
            print(f"| {name}, again (from the cache) | {count:,} | 2 | {seconds:.1f} | {count / seconds:.0f} | |")
        shutil.rmtree(synthetic)
        print(f"\n({files:,} synthetic files.)")


def finetune(steps: int) -> None:
    from bench.programmed_beats import programmed_beats
    from explorer.analysis.evaluate import evaluate
    from explorer.analysis.realism import novelty
    from explorer.model import checkpoints
    from explorer.notes.midi_write import groove_to_midi
    from explorer.tools.generate import sample_tensors
    from explorer.train.data import training_data
    from explorer.train.export import export_run
    from explorer.train.options import TrainOptions
    from explorer.train.trainer import train

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folder = scratch / "my_beats"
        folder.mkdir()
        for groove in programmed_beats()[::2]:  # 30 beats, every style: a producer's folder
            (folder / f"{groove.source}.mid").write_bytes(groove_to_midi(groove))
        start = checkpoints.load_model()
        options = TrainOptions(config=start.config.name, steps=steps, init_from=start.info.name,
                               midi_dir=str(folder), checkpoint_every=100, validate_every_epochs=10**6,
                               learning_rate=2e-4)
        training, validation, _ = training_data(options)
        before = evaluate(start, validation)["hit_f1"]
        before_novelty = novelty(sample_tensors(start, 64, 1.0, 0), training)
        started = time.perf_counter()
        train(options, scratch / "run")
        seconds = time.perf_counter() - started
        export_run(scratch / "run", scratch / "mine", validation, weights="latest")
        tuned = checkpoints.load_model(str(scratch / "mine"))
        after = evaluate(tuned, validation)["hit_f1"]
        after_novelty = novelty(sample_tensors(tuned, 64, 1.0, 0), training)
        print(f"\n`python -m bench.bench_folder finetune --steps {steps}` on {machine()}: {len(training)} training "
              f"windows ({len(validation)} validation windows from held-out files), {seconds / 60:.1f} minutes.\n")
        print("| | validation hit F1 (fit) | samples' novelty (hit Jaccard with the nearest training window) |")
        print("|---|---:|---:|")
        print(f"| {start.info.name} (before) | {before:.3f} | {before_novelty:.3f} |")
        print(f"| fine-tuned, {steps} steps | {after:.3f} | {after_novelty:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prep_parser = commands.add_parser("prep")
    prep_parser.add_argument("--scale", type=int, default=20)
    finetune_parser = commands.add_parser("finetune")
    finetune_parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    if args.command == "prep":
        prep(args.scale)
    else:
        finetune(args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
