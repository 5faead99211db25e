"""Faithful encoding: how much of a seed comes back, against the number of refinement steps (explorer/refine.py).

    python -m bench.bench_refine [--checkpoint NAME] [--plot PNG]

Two sets: one window of each GMD test performance, and sixty programmed drum-machine beats from outside GMD
(bench/programmed_beats.py). Each reconstructed at T = 0 from its code after 0 (the encoder's mu), 5, 10, 20, 30,
50 and 100 steps; hit F1, velocity and timing error on matched hits; and the time one seed takes on the app's path
(batch 1, compiled, median of ten seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.bench_humanize import one_window_per_performance
from bench.programmed_beats import programmed_beats
from bench.report import machine
from explorer import checkpoints, dataset
from explorer.evaluate import reconstruction_metrics
from explorer.realism import MIDI_VELOCITY, OFFSET_TO_STEPS
from explorer.refine import RefineOptions, refiner

STEPS = (0, 5, 10, 20, 30, 50, 100)


def curve(model, tensors: np.ndarray) -> list[dict]:
    rows = []
    for steps in STEPS:
        codes = np.concatenate([refiner(model).codes(tensors[i:i + 16], RefineOptions(steps=steps))
                                for i in range(0, len(tensors), 16)])
        metrics = reconstruction_metrics(tensors, model.decode(codes))
        rows.append({"steps": steps, "f1": metrics["hit_f1"], "velocity": metrics["velocity_mae"] * MIDI_VELOCITY,
                     "timing": metrics["offset_mae"] * OFFSET_TO_STEPS})
    return rows


def seconds_per_seed(model, tensors: np.ndarray, steps: int = RefineOptions().steps) -> float:
    """Median time of one seed's encode + refinement, as the app runs it (compiled once before)."""
    refine = refiner(model)
    refine.codes(tensors[:1] * 0, RefineOptions(steps=steps))  # compiles batch 1
    times = []
    for tensor in tensors[1:11]:
        started = time.perf_counter()
        refine.codes(tensor[None], RefineOptions(steps=steps))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--plot", type=Path, help="write the curve of hit F1 against steps here")
    args = parser.parse_args(argv)
    model = checkpoints.load_model(args.checkpoint)
    test = dataset.load_windows("test")
    sets = {"GMD test, one window per performance": test.tensors[one_window_per_performance(test)],
            "60 programmed beats (not GMD)": np.stack([g.tensor() for g in programmed_beats()])}
    print(f"`python -m bench.bench_refine` with `{model.info.name}` on {machine()}; reconstruction at T = 0.\n")
    print("| set | steps | hit F1 | velocity MAE (MIDI) | timing MAE (16ths) |\n|---|---:|---:|---:|---:|")
    curves = {}
    for name, tensors in sets.items():
        curves[name] = curve(model, tensors)
        for row in curves[name]:
            print(f"| {name} | {row['steps']} | {row['f1']:.3f} | {row['velocity']:.1f} | {row['timing']:.3f} |")
    seconds = seconds_per_seed(model, sets["GMD test, one window per performance"])
    print(f"\nOne seed, encode + {RefineOptions().steps} steps, batch 1 (XLA, compiled): {seconds * 1000:.0f} ms "
          "(median of 10).")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 3.5))
        for name, rows in curves.items():
            axis.plot([r["steps"] for r in rows], [r["f1"] for r in rows], "o-", label=name)
        axis.axvline(RefineOptions().steps, color="grey", linestyle=":", label="the app's steps")
        axis.set_xlabel("refinement steps (0: the encoder's mu)")
        axis.set_ylabel("hit F1, reconstruction at T = 0")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=100)
        plt.close(figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
