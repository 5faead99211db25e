"""Reconstruction quality: hit precision / recall / F1 on the 16th grid, velocity and offset error on matched hits."""

from __future__ import annotations

import numpy as np

from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES


def kl_divergence(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma²) ‖ N(0, I)) in nats, per example."""
    sigma = np.maximum(sigma, 1e-12)
    return np.sum(-np.log(sigma) + 0.5 * (sigma**2 + mu**2 - 1.0), axis=-1)


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def reconstruction_metrics(targets: np.ndarray, outputs: np.ndarray) -> dict:
    """targets, outputs: [N, steps, 27] groove tensors. Hits count as played above 0.5."""
    true_hits = targets[..., :NUM_CLASSES] > 0.5
    predicted = outputs[..., :NUM_CLASSES] > 0.5
    matched = true_hits & predicted
    tp = matched.sum(axis=(0, 1)).astype(float)
    fp = (predicted & ~true_hits).sum(axis=(0, 1)).astype(float)
    fn = (true_hits & ~predicted).sum(axis=(0, 1)).astype(float)
    per_class = {}
    for index, name in enumerate(DRUM_CLASSES):
        precision, recall, f1 = _f1(tp[index], fp[index], fn[index])
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(tp[index] + fn[index])}
    precision, recall, f1 = _f1(tp.sum(), fp.sum(), fn.sum())
    # Per window, then the median: how the Monotonic Groove Transformer's evaluation reports precision.
    window_tp = matched.sum(axis=(1, 2))
    window_played = predicted.sum(axis=(1, 2))
    window_precision = window_tp[window_played > 0] / window_played[window_played > 0]

    def matched_mae(lo: int) -> float:
        error = np.abs(targets[..., lo:lo + NUM_CLASSES] - outputs[..., lo:lo + NUM_CLASSES])[matched]
        return float(error.mean()) if error.size else float("nan")

    return {
        "hit_precision": precision, "hit_recall": recall, "hit_f1": f1,
        "velocity_mae": matched_mae(NUM_CLASSES), "offset_mae": matched_mae(2 * NUM_CLASSES),
        # Haki et al. (NIME 2022) call this "hit accuracy": every drum × step cell, silent ones included, so a model
        # that plays nothing scores 1 − (share of cells with a hit), ~0.88 on GMD.
        "cell_accuracy": float((predicted == true_hits).mean()),
        "window_precision_median": float(np.median(window_precision)) if window_precision.size else 0.0,
        "windows": len(targets), "per_class": per_class,
    }


def evaluate(model, tensors: np.ndarray, batch_size: int = 256) -> dict:
    """Reconstruct each window from its `mu` with T = 0 and score it; also the mean KL. `model`: CompiledModel."""
    outputs, kls = [], []
    for start in range(0, len(tensors), batch_size):
        batch = tensors[start:start + batch_size]
        mu, sigma = model.encode(batch)
        kls.append(kl_divergence(mu, sigma))
        outputs.append(model.decode(mu, temperature=0.0, seed=0))
    metrics = reconstruction_metrics(tensors, np.concatenate(outputs))
    metrics["mean_kl"] = float(np.concatenate(kls).mean())
    return metrics
