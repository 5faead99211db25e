"""The multi-task model on each of its tasks, beside the shipped single-task model given the same inputs.

    python -m bench.bench_multitask [--checkpoint NAME] [--baseline NAME]

One window of each GMD test performance is transformed as in training (explorer/model/conditions.py: identity, quantize,
tapify, drop drums, keep the first bars, note dropout), encoded (the multi-task model with the task's condition; the
baseline sees the transformed groove as a plain one), and decoded at T = 0 from mu. Scored against the real window:
hit F1 on every cell, and on the cells the input hid (dropped drums, bars not kept), velocity and timing error.
"""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

from bench.report import machine
from explorer.analysis.evaluate import reconstruction_metrics
from explorer.analysis.realism import MIDI_VELOCITY, OFFSET_TO_STEPS
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.model.checkpoints import DEFAULT_CHECKPOINT, DRUMIFY_CHECKPOINT
from explorer.model.conditions import TASKS, random_tasks
from explorer.notes.drums import FEATURES, NUM_CLASSES


def task_inputs(real: np.ndarray, task: str) -> np.ndarray:
    """[N, T, 27 + condition] inputs of one task for every window (a fixed draw)."""
    probabilities = [1e-9] * len(TASKS)
    probabilities[TASKS.index(task)] = 1.0
    inputs, _ = random_tasks(tf.constant(real), tf.constant([7, TASKS.index(task)], tf.int64), probabilities)
    return inputs.numpy()


def hidden_f1(real: np.ndarray, played: np.ndarray, visible: np.ndarray) -> float:
    """Hit F1 on the cells the input hid (visible 0), NaN when nothing was hidden."""
    hidden = visible < 0.5
    if not hidden.any():
        return float("nan")
    true, predicted = (real[..., :NUM_CLASSES] > 0.5) & hidden, (played[..., :NUM_CLASSES] > 0.5) & hidden
    tp = (true & predicted).sum()
    return float(2 * tp / max(true.sum() + predicted.sum(), 1))


def scores(model, real: np.ndarray, inputs: np.ndarray, with_condition: bool) -> dict:
    mu, _ = model.encode(inputs if with_condition else inputs[..., :FEATURES])
    played = model.decode(mu)
    metrics = reconstruction_metrics(real, played)
    return {"f1": metrics["hit_f1"], "hidden_f1": hidden_f1(real, played, inputs[..., FEATURES + len(TASKS):]),
            "velocity": metrics["velocity_mae"] * MIDI_VELOCITY, "timing": metrics["offset_mae"] * OFFSET_TO_STEPS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=DRUMIFY_CHECKPOINT)
    parser.add_argument("--baseline", default=DEFAULT_CHECKPOINT)
    args = parser.parse_args(argv)
    model, baseline = checkpoints.load_model(args.checkpoint), checkpoints.load_model(args.baseline)
    test = gmd.load_windows("test")
    real = test.tensors[test.one_per_performance()]
    print(f"`python -m bench.bench_multitask` on {machine()}: {len(real)} GMD test windows, one per performance, "
          f"decoded at T = 0 from mu; `{model.info.name}` told the task, `{baseline.info.name}` not.\n")
    print("| task | model | hit F1 | hit F1 on hidden cells | velocity MAE (MIDI) | timing MAE (16ths) |")
    print("|---|---|---:|---:|---:|---:|")
    for task in TASKS:
        inputs = task_inputs(real, task)
        for name, candidate, told in ((model.info.name, model, True), (baseline.info.name, baseline, False)):
            m = scores(candidate, real, inputs, told)
            hidden = "" if np.isnan(m["hidden_f1"]) else f"{m['hidden_f1']:.3f}"
            print(f"| {task} | `{name}` | {m['f1']:.3f} | {hidden} | {m['velocity']:.1f} | {m['timing']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
