"""Faithful encoding: how much of a seed comes back, against the number of refinement steps (explorer/model/refine.py).

    python -m bench.bench_refine [--checkpoint NAME] [--plot PNG] [--steps 0 30 100 300]

Two sets: one window of each GMD test performance, and sixty programmed drum-machine beats from outside GMD
(bench/programmed_beats.py). Each reconstructed at T = 0 from its codes after 0 (the encoder's mu) to 300 steps, for
three objectives: one code refined for the seed's likelihood, one for its hits (weighted 10), and the app's two
codes (hits from the hits code, played by the heads code); hit F1, velocity and timing error on matched hits. And the
time one seed takes on the app's path (batch 1, compiled, median of ten seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.programmed_beats import programmed_beats
from bench.report import machine
from explorer.analysis.evaluate import reconstruction_metrics
from explorer.analysis.realism import MIDI_VELOCITY, OFFSET_TO_STEPS
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.model.refine import HEADS_CODE, HITS_CODE, RefineOptions, decode_codes

STEPS = (0, 5, 10, 20, 30, 50, 100, 300)
BATCH = 16
OBJECTIVES = {  # a row's name → RefineOptions.objectives
    "likelihood, one code": ((1.0, 1.0),),
    "hits ×10, one code": (HITS_CODE,),
    "two codes (the app)": (HITS_CODE, HEADS_CODE),
}


def refined_codes(model, tensors: np.ndarray, options: RefineOptions) -> np.ndarray:
    """[N, codes, z + detail size], or [N, z + detail size] for a single code (explorer/model/refine.py, CODE
    LAYOUT)."""
    codes = np.concatenate([model.refiner().codes(tensors[i:i + BATCH], options)
                            for i in range(0, len(tensors), BATCH)])
    return codes[:, 0] if codes.shape[1] == 1 else codes


def scores(tensors: np.ndarray, decoded: np.ndarray) -> dict:
    metrics = reconstruction_metrics(tensors, decoded)
    return {"f1": metrics["hit_f1"], "velocity": metrics["velocity_mae"] * MIDI_VELOCITY,
            "timing": metrics["offset_mae"] * OFFSET_TO_STEPS}


def curve(model, tensors: np.ndarray, steps=STEPS) -> list[dict]:
    """A row per (objective, steps); 0 steps is mu, whatever the objective."""
    rows = []
    for count in steps:
        for name, objectives in OBJECTIVES.items() if count else [("mu", ((1.0, 1.0),))]:
            codes = refined_codes(model, tensors, RefineOptions(steps=count, objectives=objectives))
            rows.append({"objective": name, "steps": count, **scores(tensors, decode_codes(model, codes))})
    return rows


def seconds_per_seed(model, tensors: np.ndarray) -> float:
    """Median time of one seed's encode, refinement and reconstruction at T = 0, as the app runs them (compiled
    once before)."""
    refine = model.refiner()
    decode_codes(model, refine.codes(tensors[:1] * 0))  # compiles batch 1
    times = []
    for tensor in tensors[1:11]:
        started = time.perf_counter()
        decode_codes(model, refine.codes(tensor[None]))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--plot", type=Path, help="write the curve of hit F1 against steps here")
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS))
    args = parser.parse_args(argv)
    model = checkpoints.load_model(args.checkpoint)
    test = gmd.load_windows("test")
    sets = {"GMD test, one window per performance": test.tensors[test.one_per_performance()],
            "60 programmed beats (not GMD)": np.stack([g.tensor() for g in programmed_beats()])}
    print(f"`python -m bench.bench_refine` with `{model.info.name}` on {machine()}; reconstruction at T = 0.\n")
    print("| set | objective | steps | hit F1 | velocity MAE (MIDI) | timing MAE (16ths) |\n"
          "|---|---|---:|---:|---:|---:|")
    curves = {}
    for name, tensors in sets.items():
        curves[name] = curve(model, tensors, args.steps)
        for row in curves[name]:
            print(f"| {name} | {row['objective']} | {row['steps']} | {row['f1']:.3f} | {row['velocity']:.1f} | "
                  f"{row['timing']:.3f} |", flush=True)
    seconds = seconds_per_seed(model, sets["GMD test, one window per performance"])
    print(f"\nOne seed, encoded, its two codes refined {RefineOptions().steps} steps and played back at T = 0 (XLA, "
          f"compiled): {seconds * 1000:.0f} ms (median of 10).")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7, 3.8))
        for (name, rows), color in zip(curves.items(), ("tab:blue", "tab:red"), strict=False):
            start = [r for r in rows if r["objective"] == "mu"]  # every line starts from mu
            # the hits ×10 code alone keeps the two codes' hits: its line would lie on theirs
            for objective, style in (("likelihood, one code", ":"), ("two codes (the app)", "-")):
                mine = start + [r for r in rows if r["objective"] == objective]
                axis.plot([r["steps"] for r in mine], [r["f1"] for r in mine], "o" + style, color=color,
                          label=f"{name}, {objective}")
        axis.axvline(RefineOptions().steps, color="grey", linestyle=":", label="the app's steps")
        axis.set_xlabel("refinement steps (0: the encoder's mu)")
        axis.set_ylabel("hit F1, reconstruction at T = 0")
        axis.legend(fontsize=7, loc="center right")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=100)
        plt.close(figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
