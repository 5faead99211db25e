"""How much generated grooves play like real drummers: per-hit statistics, and a real-vs-generated classifier.

Every statistic is over [N, 64, 27] groove tensors on the 16th grid, counting hits only (a cell without a hit
has no velocity or timing):
- velocity: mean and sd of the hits' MIDI velocities, overall and per drum class;
- micro-timing: mean and sd of the hits' offsets, in 16ths (positive: played early);
- repetition: the hit Jaccard of consecutive bars, averaged over a window's three bar pairs;
- classes used: how many of the 9 drum classes a window plays;
- onset positions: the share of hits on each of a bar's 16 steps.

The classifier is a two-sample test: logistic regression on a per-window summary (`window_features`), scored by
cross-validated accuracy. Folds are grouped by performance, so that windows cut from one real file never sit on
both sides of a fold (they would let it recognise the file, not the playing). 0.5 is indistinguishable.
"""

from __future__ import annotations

import numpy as np

from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR
from explorer.notes.similarity import jaccard
from explorer.tools.generate import sample_tensors

MIDI_VELOCITY = 127.0
OFFSET_TO_STEPS = 0.5  # the tensor's offset ±1 is half a step


def hit_values(tensors: np.ndarray):
    """(hits [..., 9] bool, velocities in MIDI units, offsets in 16ths) of groove tensors [..., 27]."""
    tensors = np.asarray(tensors, np.float64)
    hits = tensors[..., :NUM_CLASSES] > 0.5
    velocities = tensors[..., NUM_CLASSES:2 * NUM_CLASSES] * MIDI_VELOCITY
    return hits, velocities, tensors[..., 2 * NUM_CLASSES:] * OFFSET_TO_STEPS


def bar_repetition(hits: np.ndarray) -> np.ndarray:
    """Per window, the mean hit Jaccard of consecutive bars (1: every bar the same); a pair of empty bars is 1."""
    bars = hits.reshape(len(hits), -1, STEPS_PER_BAR * NUM_CLASSES)
    both = (bars[:, 1:] & bars[:, :-1]).sum(-1)
    either = (bars[:, 1:] | bars[:, :-1]).sum(-1)
    return np.where(either > 0, both / np.maximum(either, 1), 1.0).mean(axis=1)


def beat_accent(tensors: np.ndarray) -> float:
    """How much louder hits on the beat (quarter notes) are played than hits off it, in MIDI velocity: over all
    hits of these windows [N, T, 27], mean on-beat velocity minus mean off-beat velocity."""
    hits, velocities, _ = hit_values(tensors)
    on_beat = (np.arange(hits.shape[1]) % 4 == 0)[None, :, None]
    return float(velocities[hits & on_beat].mean() - velocities[hits & ~on_beat].mean())


LEVEL_KEPT = (0.8, 1.25)  # a drum keeps its level when its mean velocity stays within these ratios of the input's


def levels_kept(programmed: np.ndarray, played: np.ndarray) -> tuple[int, int]:
    """(drum groups that kept their level, drum groups): a drum group is one drum class of one window that plays it
    in `programmed` [N, T, 27]; it keeps its level when its mean velocity in `played` (the same hits) lies within
    LEVEL_KEPT of its mean in `programmed`."""
    hits, before, _ = hit_values(programmed)
    _, after, _ = hit_values(played)
    counts = hits.sum(axis=1)
    ratio = (after * hits).sum(axis=1) / np.maximum((before * hits).sum(axis=1), 1e-9)
    kept = (ratio >= LEVEL_KEPT[0]) & (ratio <= LEVEL_KEPT[1])
    return int((kept & (counts > 0)).sum()), int((counts > 0).sum())


def groove_statistics(tensors: np.ndarray) -> dict:
    """The statistics above, as plain floats and lists (JSON-ready)."""
    hits, velocities, offsets = hit_values(tensors)
    steps = np.arange(hits.shape[1])[None, :, None] % STEPS_PER_BAR
    onsets = np.bincount(np.broadcast_to(steps, hits.shape)[hits], minlength=STEPS_PER_BAR)
    per_class = {}
    for index, name in enumerate(DRUM_CLASSES):
        played = velocities[..., index][hits[..., index]]
        per_class[name] = {"hits_per_window": float(hits[..., index].sum() / max(len(hits), 1)),
                           "velocity_mean": float(played.mean()) if played.size else float("nan"),
                           "velocity_sd": float(played.std()) if played.size else float("nan")}
    return {
        "windows": len(hits),
        "hits_per_window": float(hits.sum() / max(len(hits), 1)),
        "velocity_mean": float(velocities[hits].mean()), "velocity_sd": float(velocities[hits].std()),
        "timing_mean": float(offsets[hits].mean()), "timing_sd": float(offsets[hits].std()),
        "repetition": float(bar_repetition(hits).mean()),
        "classes_used": float(hits.any(axis=1).sum(axis=1).mean()),
        "onset_positions": (onsets / max(onsets.sum(), 1)).tolist(),
        "per_class": per_class,
    }


def window_features(tensors: np.ndarray) -> np.ndarray:
    """[N, F] per-window summary for the classifier: per class the hit count, its velocities' mean and sd and its
    offsets' mean and sd (0 for a class not played), the onset histogram, repetition and classes used."""
    hits, velocities, offsets = hit_values(tensors)
    count = hits.sum(axis=1)
    safe = np.maximum(count, 1)

    def mean_sd(values):
        mean = np.where(hits, values, 0).sum(axis=1) / safe
        sd = np.sqrt(np.maximum(np.where(hits, values**2, 0).sum(axis=1) / safe - mean**2, 0))
        return mean, sd

    velocity_mean, velocity_sd = mean_sd(velocities)
    offset_mean, offset_sd = mean_sd(offsets)
    positions = np.arange(hits.shape[1]) % STEPS_PER_BAR
    onsets = np.stack([hits[:, positions == p].sum(axis=(1, 2)) for p in range(STEPS_PER_BAR)], axis=1)
    onsets = onsets / np.maximum(onsets.sum(axis=1, keepdims=True), 1)
    return np.concatenate([count, velocity_mean, velocity_sd, offset_mean, offset_sd, onsets,
                           bar_repetition(hits)[:, None], (count > 0).sum(axis=1, keepdims=True)], axis=1)


def bar_features(bars: np.ndarray) -> np.ndarray:
    """[N, F] of single bars [N, 16, 27] for the beat/fill classifier: every cell's hit, and per drum its hit count
    and mean velocity (a fill moves around the kit, busier and often louder, where a beat repeats its pattern)."""
    hits, velocities, _ = hit_values(bars)
    count = hits.sum(axis=1)
    velocity = np.where(hits, velocities, 0).sum(axis=1) / np.maximum(count, 1)
    return np.concatenate([hits.reshape(len(bars), -1), count, velocity], axis=1).astype(np.float32)


def fill_classifier(beat_bars: np.ndarray, fill_bars: np.ndarray):
    """A logistic regression telling fill bars from beat bars ([N, 16, 27] each); `predict_proba(bar_features(…))`
    gives a bar's chance of being a fill."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([bar_features(beat_bars), bar_features(fill_bars)])
    labels = np.r_[np.zeros(len(beat_bars)), np.ones(len(fill_bars))]
    classifier = LogisticRegression(max_iter=2000, C=0.1, class_weight="balanced")
    return make_pipeline(StandardScaler(), classifier).fit(features, labels)


def novelty(generated: np.ndarray, training: np.ndarray) -> float:
    """How far grooves are from copies: for each generated window [N, T, 27], the hit Jaccard with its nearest
    training window (1: a copy), averaged. A model fine-tuned on a few files that copies them scores near 1."""
    hits = [np.asarray(t)[..., :NUM_CLASSES] > 0.5 for t in (generated, training)]
    return float(jaccard(*hits).max(axis=1).mean())


def classifier_accuracy(real: np.ndarray, real_groups, generated: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of telling `real` windows (grouped by their performance) from `generated` ones
    (each its own group); balanced classes make 0.5 chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([window_features(real), window_features(generated)])
    labels = np.r_[np.zeros(len(real)), np.ones(len(generated))]
    _, real_ids = np.unique(np.asarray(real_groups).astype(str), return_inverse=True)
    groups = np.r_[real_ids, real_ids.max() + 1 + np.arange(len(generated))]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(classifier, features, labels, groups=groups, cv=splitter).mean())


def realism_report(model, real: np.ndarray, real_groups, samples: int, temperatures, seed: int = 0) -> dict:
    """Statistics of `real` windows and of `samples` samples (from the model's sampling prior) per temperature, with
    the classifier's accuracy on `samples` real windows drawn from `real` against them. `model`: CompiledModel."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(real), size=min(samples, len(real)), replace=False))
    prior = f"a fitted {model.prior.components}-Gaussian mixture" if model.prior is not None else "N(0, I)"
    report = {"real": groove_statistics(real), "samples": samples, "prior": prior, "temperatures": {}}
    for temperature in temperatures:
        generated = sample_tensors(model, samples, temperature, seed)
        stats = groove_statistics(generated)
        stats["classifier_accuracy"] = classifier_accuracy(real[chosen], np.asarray(real_groups)[chosen], generated)
        report["temperatures"][f"{temperature:g}"] = stats
    return report
