"""Validation quality per CPU-minute, by batch size: which batch trains a preset best on this machine.

Trains the preset from scratch at each batch size for the same training time, and every few minutes scores the
whole validation split the way `evaluate` does (reconstruction from mu, T = 0). Magenta's batch of 512 was chosen
for GPUs; on a 2-core CPU a step costs in proportion to the batch, so the question is which batch buys the most
quality per minute.

    python -m bench.batch_sweep [--config hierdec_4bar] [--batch-sizes 64 128 512] [--minutes 20] [--every 5]
                                [--dropout-keep 0.7] [--write]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.report import DOC, machine, publish
from explorer.datasets import gmd
from explorer.train.options import TrainOptions
from explorer.train.trainer import Trainer

TITLE = "Training: validation quality per CPU-minute by batch size"
PLOT = DOC.parent / "batch_sweep.png"


def sweep_batch(config: str, batch_size: int, minutes: float, every: float, dropout_keep: float | None,
                train_tensors, validation_tensors, run_dir: Path) -> list[dict]:
    """Train for `minutes` in chunks of `every`, validating after each; one record per validation."""
    points = []
    for chunk in range(round(minutes / every)):
        options = TrainOptions(config=config, batch_size=batch_size, dropout_keep=dropout_keep,
                               time_budget_minutes=every, validate_every_epochs=10**6, checkpoint_every=10**6,
                               validation_windows=len(validation_tensors))
        trainer = Trainer(options, run_dir, train_tensors, validation_tensors, resume=chunk > 0)
        trainer.run()
        metrics = trainer.validate()
        points.append({"batch_size": batch_size, "minutes": trainer.elapsed / 60, "step": trainer.step,
                       "examples": trainer.step * batch_size, **metrics})
        print(f"batch {batch_size}: {points[-1]['minutes']:.1f} min, step {trainer.step}, "
              f"validation hit F1 {metrics['hit_f1']:.3f}", flush=True)
    return points


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    for batch_size in sorted({p["batch_size"] for p in points}):
        curve = [p for p in points if p["batch_size"] == batch_size]
        axis.plot([0] + [p["minutes"] for p in curve], [0] + [p["hit_f1"] for p in curve], marker="o",
                  label=f"batch {batch_size}")
    axis.set_xlabel("training minutes (2 CPU cores)")
    axis.set_ylabel("validation hit F1")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def report(points: list[dict], args) -> list[str]:
    rows = sorted({round(p["minutes"] / args.every) for p in points})
    batch_sizes = sorted({p["batch_size"] for p in points})
    lines = [f"`python -m bench.batch_sweep --config {args.config} --batch-sizes "
             f"{' '.join(map(str, args.batch_sizes))} --minutes {args.minutes:g} --every {args.every:g}"
             + (f" --dropout-keep {args.dropout_keep:g}" if args.dropout_keep is not None else "") + "` on "
             f"{machine()}: each batch size trained from scratch for the same "
             "training time (validation not counted), then scored on all validation windows (hit F1; steps in "
             "brackets).", "", "| minutes | " + " | ".join(f"batch {b}" for b in batch_sizes) + " |",
             "|---:|" + "---:|" * len(batch_sizes)]
    for index in rows:
        cells = []
        for batch_size in batch_sizes:
            match = [p for p in points if p["batch_size"] == batch_size and round(p["minutes"] / args.every) == index]
            cells.append(f"{match[0]['hit_f1']:.3f} ({match[0]['step']})" if match else "")
        lines.append(f"| {index * args.every:g} | " + " | ".join(cells) + " |")
    lines += ["", f"![validation hit F1 by training minutes]({PLOT.name})"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="hierdec_4bar")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 512])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time per batch size")
    parser.add_argument("--every", type=float, default=5.0, help="validate after this many training minutes")
    parser.add_argument("--dropout-keep", type=float, help="default: the preset's")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md and docs/batch_sweep.png")
    args = parser.parse_args(argv)
    root = gmd.gmd_root(download=False)
    train_tensors = gmd.load_windows("train", root).tensors
    validation_tensors = gmd.load_windows("validation", root).tensors
    points = []
    with tempfile.TemporaryDirectory() as runs:
        for batch_size in args.batch_sizes:
            points += sweep_batch(args.config, batch_size, args.minutes, args.every, args.dropout_keep,
                                  train_tensors, validation_tensors, Path(runs) / f"batch{batch_size}")
    if args.write:
        plot(points, PLOT)
    publish(TITLE, report(points, args), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
