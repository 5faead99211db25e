"""A training run's metrics read back, plotted, and its weights exported as a checkpoint scored on the test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from explorer.analysis.evaluate import evaluate
from explorer.model.checkpoints import save_checkpoint
from explorer.model.config import ModelConfig
from explorer.model.runtime import CompiledModel
from explorer.model.vae import MusicVAE


def read_metrics(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(training records, validation records) of a run's metrics.jsonl."""
    records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line]
    return ([r for r in records if r.get("split") != "validation"],
            [r for r in records if r.get("split") == "validation"])


def plot_training_curve(run_dir: Path, out_png: Path) -> None:
    """Loss and KL per step, and validation hit F1, as the model card's PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    training, validation = read_metrics(run_dir)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = [r["step"] for r in training]
    left.plot(steps, [r["reconstruction"] for r in training], label="reconstruction loss")
    left.plot(steps, [r["kl"] for r in training], label="KL (nats)")
    left.set_xlabel("step")
    left.set_title("training (per batch)")
    left.legend()
    right.plot([r["step"] for r in validation], [r["hit_f1"] for r in validation], "o-", label="hit F1")
    right.plot([r["step"] for r in validation], [r["velocity_mae"] for r in validation], "s-", label="velocity MAE")
    right.plot([r["step"] for r in validation], [r["offset_mae"] for r in validation], "^-", label="offset MAE")
    right.set_xlabel("step")
    right.set_title("validation (from mu, T = 0)")
    right.legend()
    figure.tight_layout()
    figure.savefig(out_png, dpi=100)
    plt.close(figure)


def export_run(run_dir: Path, out_dir: Path, test_tensors: np.ndarray, weights: str = "best"):
    """A run's best weights (by validation hit F1; else its latest), or with `weights="latest"` its latest, → a
    registry checkpoint, with its test-split evaluation."""
    if weights not in ("best", "latest"):
        raise ValueError("weights must be 'best' or 'latest'")
    run_dir = Path(run_dir)
    config = ModelConfig.from_dict(json.loads((run_dir / "config.json").read_text())["model"])
    best = run_dir / "best.npz"
    weights_file = best if weights == "best" and best.exists() else run_dir / "weights.npz"
    with np.load(weights_file, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    with np.load(run_dir / "state.npz", allow_pickle=False) as state:
        steps, elapsed = int(state["step"]), float(state["elapsed"])
    model = MusicVAE(config)
    model.load_weights_dict(arrays)
    metrics = evaluate(CompiledModel(model), test_tensors)
    metrics.update(split="test", training_steps=steps, training_hours=elapsed / 3600, weights=weights_file.name)
    data = json.loads((run_dir / "config.json").read_text()).get("data")
    info = save_checkpoint(arrays, config.to_dict(), out_dir, source=f"explorer train ({run_dir.name})",
                           metrics=metrics, data=data)
    if (run_dir / "metrics.jsonl").exists():
        plot_training_curve(run_dir, Path(out_dir) / "training_curve.png")
    return info
