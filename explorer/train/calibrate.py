"""Calibrating a trained checkpoint for sampling, after training: its heads' biases, and a fitted prior.

1. Heads. A distribution head's mean velocity should be the played one on the data it was trained on, but SGD
   stops short of that optimum: the shipped heads played training windows' own hits ~2.6 MIDI softer than the
   drummers did, teacher-forced (per drum 0.8–3.0 MIDI). With every other weight frozen, the
   likelihood of the true bins is concave in each drum's bin biases, and its maximum is where the predicted bin
   counts over the training hits equal the true ones (for every bin, so every moment of the head's marginal
   matches). Iterative scaling reaches it: bias += log(true count / predicted count), repeated.
2. Prior. A mixture of diagonal Gaussians fitted to the training windows' codes, three draws of mu + sigma · ε per
   window (explorer/model/prior.py; one draw gave samples that repeated bar to bar less, 0.54 against 0.56).

Both are for this project's distribution heads; a checkpoint with Magenta's heads stays as Magenta decodes it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from explorer.analysis.evaluate import evaluate
from explorer.errors import CheckpointError
from explorer.model import checkpoints
from explorer.model.prior import MixturePrior, fit_mixture
from explorer.model.runtime import CompiledModel
from explorer.model.vae import OFFSET_RANGE, VELOCITY_RANGE, MusicVAE, split_outputs, value_bins
from explorer.notes.drums import NUM_CLASSES

Progress = Callable[[int, int], None]
Announce = Callable[[str], None]  # told what a long step without progress of its own is doing
PRIOR_DRAWS_SALT = 4  # the prior's codes apart from the teacher-forcing draws of the same seed
HEADS = {"velocity": (NUM_CLASSES, VELOCITY_RANGE), "offset": (2 * NUM_CLASSES, OFFSET_RANGE)}  # tensor column, range


def fit_bin_biases(logits: np.ndarray, bins: np.ndarray, iterations: int = 200, tolerance: float = 1e-3) -> np.ndarray:
    """Offsets [K] to add to softmax logits [N, K] so that the predicted bin counts over the N rows match the true
    bins' counts [N] (the maximum-likelihood biases with everything else fixed), to within `tolerance` (relative)
    per bin. An empty bin is counted as one hit, so that its offset stays finite."""
    logits = np.asarray(logits, np.float32)
    counts = np.maximum(np.bincount(bins, minlength=logits.shape[1]), 1.0)
    offsets = np.zeros(logits.shape[1])
    for _ in range(iterations):
        shifted = logits + offsets.astype(np.float32)
        probabilities = np.exp(shifted - shifted.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        step = np.log(counts / np.maximum(probabilities.sum(axis=0, dtype=np.float64), 1e-12))
        offsets += step - step.mean()  # softmax ignores a common shift: keep the offsets centred
        if np.abs(step - step.mean()).max() < tolerance:
            break
    return offsets.astype(np.float32)


def posteriors_and_head_logits(model, tensors: np.ndarray, seed: int = 0, batch_size: int = 256,
                               progress: Progress | None = None):
    """The windows' posteriors (mu, sigma), each [N, z], and per head and drum the logits [hits, bins] and true bins
    [hits] at the cells that hold a hit, teacher-forced from z = mu + sigma · ε as in training. `model`:
    CompiledModel with distribution heads."""
    vae, config = model.vae, model.config
    rng = np.random.default_rng(seed)
    posteriors, found = [], {head: [([], []) for _ in range(NUM_CLASSES)] for head in HEADS}
    for start in range(0, len(tensors), batch_size):
        x = np.asarray(tensors[start:start + batch_size], np.float32)
        mu, sigma = model.encode(x)
        z = mu + sigma * rng.standard_normal(mu.shape).astype(np.float32)
        posteriors.append((mu, sigma))
        _, *head_logits = split_outputs(vae.decode_teacher_forced(tf.constant(z), tf.constant(x)), config)
        hits = x[..., :NUM_CLASSES] > 0.5
        for (head, (column, value_range)), logits in zip(HEADS.items(), head_logits, strict=True):
            logits = logits.numpy()
            true_bins = value_bins(x[..., column:column + NUM_CLASSES], logits.shape[-1], *value_range).numpy()
            for drum in range(NUM_CLASSES):
                found[head][drum][0].append(logits[..., drum, :][hits[..., drum]])
                found[head][drum][1].append(true_bins[..., drum][hits[..., drum]])
        if progress:
            progress(min(start + batch_size, len(tensors)), len(tensors))
    logits_and_bins = {head: [(np.concatenate(logits), np.concatenate(bins)) for logits, bins in drums]
                       for head, drums in found.items()}
    mu, sigma = (np.concatenate(part) for part in zip(*posteriors, strict=True))
    return mu, sigma, logits_and_bins


def posterior_draws(mu: np.ndarray, sigma: np.ndarray, draws: int, seed: int = 0) -> np.ndarray:
    """`draws` codes mu + sigma · ε per window, [draws · N, z]: samples of the aggregate posterior, which the prior
    is fitted to."""
    rng = np.random.default_rng([seed, PRIOR_DRAWS_SALT])
    return np.concatenate([mu + sigma * rng.standard_normal(mu.shape).astype(np.float32) for _ in range(draws)])


def head_bias_offsets(logits_and_bins: dict) -> dict[str, np.ndarray]:
    """Per head, the fitted offsets [9, bins] of each drum's bin biases (0 for a drum without hits)."""
    offsets = {}
    for head, drums in logits_and_bins.items():
        offsets[head] = np.stack([fit_bin_biases(logits, bins) if len(bins) else np.zeros(logits.shape[1], np.float32)
                                  for logits, bins in drums])
    return offsets


def with_head_offsets(weights: dict[str, np.ndarray], config, offsets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy of the weights whose output bias has the offsets added to its velocity and offset columns (laid out
    as explorer.model.split_outputs reads them: 9 hit logits, then per drum its velocity bins, then its offset
    bins)."""
    if not config.distributional:
        raise CheckpointError("Only distribution heads are calibrated: a checkpoint with Magenta's heads stays as "
                              "Magenta decodes it.")
    velocity, offset = offsets["velocity"], offsets["offset"]
    assert velocity.shape == (NUM_CLASSES, config.velocity_bins), velocity.shape
    assert offset.shape == (NUM_CLASSES, config.offset_bins), offset.shape
    bias = np.array(weights["decoder.output.bias"], np.float32)
    assert bias.shape == (config.output_size,), bias.shape
    bias[NUM_CLASSES:] += np.concatenate([velocity.ravel(), offset.ravel()])
    return {**weights, "decoder.output.bias": bias}


def calibrate(model, tensors: np.ndarray, components: int = 256, draws: int = 3, seed: int = 0,
              progress: Progress | None = None,
              announce: Announce | None = None) -> tuple[dict[str, np.ndarray], MixturePrior, dict]:
    """(calibrated weights, fitted prior, a summary) of a CompiledModel with distribution heads, from training
    windows [N, 64, 27]; the prior is fitted to `draws` codes per window. The encoder is untouched, so the prior
    fits the same codes either way."""
    if not model.config.distributional:
        raise CheckpointError(f"'{model.info.name if model.info else model.config.name}' has Magenta's heads: it "
                              "samples and decodes as Magenta does (N(0, I), no calibration).")
    mu, sigma, logits_and_bins = posteriors_and_head_logits(model, tensors, seed, progress=progress)
    offsets = head_bias_offsets(logits_and_bins)
    weights = with_head_offsets(model.vae.weights_dict(), model.config, offsets)
    summary = {"windows": len(tensors), "prior_draws_per_window": draws, "seed": seed,
               "velocity_bias_shift_max": float(np.abs(offsets["velocity"]).max()),
               "offset_bias_shift_max": float(np.abs(offsets["offset"]).max())}
    codes = posterior_draws(mu, sigma, draws, seed)
    if announce:
        announce(f"fitting a {components}-component prior to {len(codes):,} codes")
    return weights, fit_mixture(codes, components, seed), summary


def calibrate_checkpoint(name_or_dir, train_tensors: np.ndarray, test_tensors: np.ndarray, out=None,
                         components: int = 256, draws: int = 3, seed: int = 0, progress: Progress | None = None,
                         announce: Announce | None = None):
    """Calibrates a registry checkpoint (`calibrate`) and writes it, with its test evaluation, to `out` (default:
    in place). Returns the new CheckpointInfo."""
    model = checkpoints.load_model(name_or_dir)
    weights, prior, summary = calibrate(model, train_tensors, components, draws, seed, progress, announce)
    if announce:
        announce(f"scoring the calibrated heads on {len(test_tensors):,} test windows")
    calibrated = MusicVAE(model.config)
    calibrated.load_weights_dict(weights)
    metrics = {**model.info.metrics, **evaluate(CompiledModel(calibrated), test_tensors)}
    return checkpoints.save_checkpoint(weights, model.info.config, out or model.info.directory, model.info.source,
                                       metrics=metrics, prior=prior, prior_record={"calibration": summary},
                                       data=model.info.data)
