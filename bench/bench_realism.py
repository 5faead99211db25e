"""Samples of several checkpoints (each from its sampling prior) against GMD validation: the realism table and the
distributions plot of the model card.

    python -m bench.bench_realism [--checkpoints A B] [--samples 200] [--temperatures 1 0.8] [--plot PNG]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.report import machine
from explorer.analysis.realism import MIDI_VELOCITY, OFFSET_TO_STEPS, realism_report
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.tools.generate import sample_tensors

ROWS = (("velocity mean (MIDI)", "velocity_mean", ".1f"), ("velocity sd (MIDI)", "velocity_sd", ".1f"),
        ("timing mean (16ths)", "timing_mean", "+.3f"), ("timing sd (16ths)", "timing_sd", ".3f"),
        ("bar-to-bar repetition", "repetition", ".2f"), ("classes used per window", "classes_used", ".1f"),
        ("hits per window", "hits_per_window", ".1f"), ("real-vs-generated accuracy", "classifier_accuracy", ".2f"))


def table(names: list[str], samples: int, temperatures: list[float]) -> list[str]:
    validation = gmd.load_windows("validation")
    reports = {name: realism_report(checkpoints.load_model(name), validation.tensors,
                                    validation.meta["midi_filename"], samples, temperatures) for name in names}
    columns = [(f"`{Path(name).name}` T = {t:g}", reports[name]["temperatures"][f"{t:g}"]) for name in names
               for t in temperatures]
    real = next(iter(reports.values()))["real"]
    priors = "; ".join(f"`{Path(name).name}` from {report['prior']}" for name, report in reports.items())
    lines = [f"`python -m bench.bench_realism --samples {samples}` on {machine()}: {samples} samples per checkpoint "
             f"and temperature ({priors}) against all {real['windows']:,} GMD validation windows, hits only "
             "(explorer/analysis/realism.py).", "",
             "| | GMD validation | " + " | ".join(name for name, _ in columns) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for label, key, spec in ROWS:
        cells = [format(stats[key], spec) for _, stats in columns]
        lines.append(f"| {label} | {format(real[key], spec) if key in real else ''} | " + " | ".join(cells) + " |")
    return lines


def plot(names: list[str], samples: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = gmd.load_windows("validation").tensors
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))

    def draw(tensors, label, **style):
        hits = tensors[..., :9] > 0.5
        left.hist(tensors[..., 9:18][hits] * MIDI_VELOCITY, bins=np.arange(0, 131, 4), histtype="step",
                  density=True, label=label, **style)
        right.hist(tensors[..., 18:][hits] * OFFSET_TO_STEPS, bins=np.linspace(-0.5, 0.5, 41), histtype="step",
                   density=True, **style)

    draw(real, "GMD validation", linewidth=2.5, color="black")
    for name in names:
        draw(sample_tensors(checkpoints.load_model(name), samples, 1.0, 0), f"{Path(name).name}, T = 1",
             linewidth=1.4)
    left.set_xlabel("velocity of a hit (MIDI)")
    right.set_xlabel("timing of a hit (16ths, + = ahead of the beat)")
    left.legend(fontsize=8)
    figure.suptitle(f"{samples} samples against GMD validation")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", nargs="+", default=["gmd_hierdec_4bar", checkpoints.DEFAULT_CHECKPOINT],
                        help="registry names or folders")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8])
    parser.add_argument("--plot", type=Path, help="write the distributions plot here")
    args = parser.parse_args(argv)
    lines = table(args.checkpoints, args.samples, args.temperatures)
    print("\n".join(lines))
    if args.plot:
        plot(args.checkpoints, args.samples, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
