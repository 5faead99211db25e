"""Faithful encoding: how much of a seed comes back, against the number of refinement steps (explorer/refine.py).

    python -m bench.bench_refine [--checkpoint NAME] [--plot PNG] [--hit-weights 1 10] [--steps 0 30 100 300]

Two sets: one window of each GMD test performance, and sixty programmed drum-machine beats from outside GMD
(bench/programmed_beats.py). Each reconstructed at T = 0 from its code after 0 (the encoder's mu) to 300 steps, the
objective's hits weighted 1 (the seed's likelihood, the app's) or more; hit F1, velocity and timing error on matched
hits. With two hit weights, also "two codes": the hits decoded from the code refined with the larger weight, their
velocities and offsets from the code refined with the smaller (the model plays the given hits). And the time one seed
takes on the app's path (batch 1, compiled, median of ten seeds).
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

STEPS = (0, 5, 10, 20, 30, 50, 100, 300)
BATCH = 16


def refined_codes(model, tensors: np.ndarray, options: RefineOptions) -> np.ndarray:
    return np.concatenate([refiner(model).codes(tensors[i:i + BATCH], options)
                           for i in range(0, len(tensors), BATCH)])


def scores(tensors: np.ndarray, decoded: np.ndarray) -> dict:
    metrics = reconstruction_metrics(tensors, decoded)
    return {"f1": metrics["hit_f1"], "velocity": metrics["velocity_mae"] * MIDI_VELOCITY,
            "timing": metrics["offset_mae"] * OFFSET_TO_STEPS}


def curve(model, tensors: np.ndarray, steps=STEPS, hit_weights=(1.0,)) -> list[dict]:
    """A row per (objective, steps): "hits ×w" for each hit weight, and with two weights "two codes"."""
    rows = []
    for count in steps:
        weights = hit_weights if count else hit_weights[:1]  # 0 steps: mu, whatever the weight
        codes = {w: refined_codes(model, tensors, RefineOptions(steps=count, hit_weight=w)) for w in weights}
        for weight, z in codes.items():
            objective = f"hits ×{weight:g}" if count else "mu"
            rows.append({"objective": objective, "steps": count, **scores(tensors, model.decode(z))})
        if len(codes) == 2:
            hits = model.decode(codes[max(hit_weights)])[..., :9]
            played = model.decode(codes[min(hit_weights)], given_hits=hits)
            rows.append({"objective": f"two codes (hits ×{max(hit_weights):g}, heads ×{min(hit_weights):g})",
                         "steps": count, **scores(tensors, played)})
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
    parser.add_argument("--hit-weights", type=float, nargs="+", default=[1.0], help="one or two (default: 1)")
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS))
    args = parser.parse_args(argv)
    if len(args.hit_weights) > 2:
        parser.error("--hit-weights takes one or two weights")
    model = checkpoints.load_model(args.checkpoint)
    test = dataset.load_windows("test")
    sets = {"GMD test, one window per performance": test.tensors[one_window_per_performance(test)],
            "60 programmed beats (not GMD)": np.stack([g.tensor() for g in programmed_beats()])}
    print(f"`python -m bench.bench_refine` with `{model.info.name}` on {machine()}; reconstruction at T = 0.\n")
    print("| set | objective | steps | hit F1 | velocity MAE (MIDI) | timing MAE (16ths) |\n"
          "|---|---|---:|---:|---:|---:|")
    curves = {}
    for name, tensors in sets.items():
        curves[name] = curve(model, tensors, args.steps, tuple(args.hit_weights))
        for row in curves[name]:
            print(f"| {name} | {row['objective']} | {row['steps']} | {row['f1']:.3f} | {row['velocity']:.1f} | "
                  f"{row['timing']:.3f} |", flush=True)
    seconds = seconds_per_seed(model, sets["GMD test, one window per performance"])
    print(f"\nOne seed, encode + {RefineOptions().steps} steps, batch 1 (XLA, compiled): {seconds * 1000:.0f} ms "
          "(median of 10).")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7, 3.8))
        for (name, rows), color in zip(curves.items(), ("tab:blue", "tab:red"), strict=False):
            start = [r for r in rows if r["objective"] == "mu"]  # every line starts from mu
            # "two codes" plays the hits of the larger weight's code: its F1 is that line's
            for objective, style in zip([o for o in dict.fromkeys(r["objective"] for r in rows)
                                         if o.startswith("hits")], ("-", "--"), strict=False):
                mine = start + [r for r in rows if r["objective"] == objective]
                axis.plot([r["steps"] for r in mine], [r["f1"] for r in mine], "o" + style, color=color,
                          label=f"{name}, {objective}")
        axis.axvline(RefineOptions().steps, color="grey", linestyle=":", label="the app's steps")
        axis.set_xlabel("refinement steps (0: the encoder's mu)")
        axis.set_ylabel("hit F1, reconstruction at T = 0")
        axis.legend(fontsize=7, loc="lower right")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=100)
        plt.close(figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
