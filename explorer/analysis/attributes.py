"""Attribute vectors: directions in latent space that make a groove denser, more syncopated, louder, …

A vector is the difference of mean `mu` between two groups of dataset windows: for a metadata label
(a genre, beat vs fill, a drummer) the windows with the label against all others; for a computed
attribute the top quarter of windows against the bottom quarter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.notes.drums import NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR

# Metrical weight of each 16th step in a bar: on a quarter beat 0, on an off-beat 8th 0.5, on a 16th 1.
OFF_BEAT_WEIGHT = np.array([0.0, 1.0, 0.5, 1.0] * 4, np.float32)
# Syncopation is judged on the kick, snare and toms: hi-hats and cymbals on every 16th are not syncopation.
SYNCOPATION_CLASSES = (0, 1, 4, 5, 6)

COMPUTED_ATTRIBUTES = {
    "density": "hits per bar",
    "syncopation": "share of kick, snare and tom hits off the beat (16ths count double)",
    "loudness": "mean velocity of the hits",
    "push": "mean offset of the hits: positive = played ahead of the beat, negative = laid back",
    "looseness": "mean |offset| of the hits: how far from the grid",
}

# Measured from the hits alone: a move that holds the seed's hits ("Keep the pattern") cannot change them.
HITS_ONLY_ATTRIBUTES = ("density", "syncopation")


def groove_attributes(tensors: np.ndarray) -> pd.DataFrame:
    """One row per window [N, steps, 27] with the COMPUTED_ATTRIBUTES."""
    tensors = np.asarray(tensors, np.float32)
    hits = tensors[..., :NUM_CLASSES] > 0.5
    velocities = tensors[..., NUM_CLASSES:2 * NUM_CLASSES]
    offsets = tensors[..., 2 * NUM_CLASSES:]
    count = hits.sum(axis=(1, 2))
    safe = np.maximum(count, 1)
    steps = tensors.shape[1]
    weights = np.tile(OFF_BEAT_WEIGHT, steps // STEPS_PER_BAR)[None, :, None]
    core = hits[..., list(SYNCOPATION_CLASSES)]
    syncopation = (core * weights).sum(axis=(1, 2)) / np.maximum(core.sum(axis=(1, 2)), 1)
    return pd.DataFrame({
        "density": count / (steps / STEPS_PER_BAR),
        "syncopation": syncopation,
        "loudness": (velocities * hits).sum(axis=(1, 2)) / safe,
        "push": (offsets * hits).sum(axis=(1, 2)) / safe,
        "looseness": (np.abs(offsets) * hits).sum(axis=(1, 2)) / safe,
    })


def mean_difference(mu: np.ndarray, members: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """mean(mu[members]) − mean(mu[others]) (others: everyone not a member)."""
    members = np.asarray(members, bool)
    others = ~members if others is None else np.asarray(others, bool)
    if not members.any() or not others.any():
        raise ValueError("both groups need at least one window")
    return (mu[members].mean(axis=0) - mu[others].mean(axis=0)).astype(np.float32)


def label_vector(mu: np.ndarray, labels: pd.Series, value: str) -> np.ndarray:
    """Towards windows labelled `value` (e.g. genre 'funk', beat_type 'fill', drummer 'drummer3')."""
    return mean_difference(mu, (labels.astype(str) == value).to_numpy())


def computed_vector(mu: np.ndarray, values: np.ndarray, quantile: float = 0.25) -> np.ndarray:
    """Towards more of an attribute: top `quantile` of windows minus the bottom `quantile`."""
    values = np.asarray(values, float)
    low, high = np.quantile(values, [quantile, 1.0 - quantile])
    return mean_difference(mu, values >= high, values <= low)


RIDGE = 0.05  # of the mean squared norm


def disentangled(vectors: np.ndarray) -> np.ndarray:
    """[z, K] mean-difference vectors → K directions each of which leaves the others' projections unchanged: the
    dual basis (d_k · v_j = 0 for j ≠ k), scaled so that d_k · v_k = |v_k|² (a move of 1 goes as far along v_k as
    v_k itself). GMD's louder playing is also sparser (measured: the plain loudness vector at +2 took a jazz seed from
    117 hits to 67); along the dual direction it kept 115."""
    gram = vectors.T @ vectors
    # a little ridge keeps nearly parallel vectors (a handful of windows, a tiny latent space) from blowing up
    ridge = RIDGE * np.trace(gram) / len(gram) * np.eye(len(gram))
    return (vectors @ np.linalg.inv(gram + ridge) * np.diag(gram)).astype(np.float32)


def attribute_vectors(mu: np.ndarray, tensors: np.ndarray, meta: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """All computed-attribute vectors (disentangled from each other), plus one per genre, beat type and drummer when
    `meta` is given."""
    attributes = groove_attributes(tensors)
    plain = np.stack([computed_vector(mu, attributes[name].to_numpy()) for name in COMPUTED_ATTRIBUTES], axis=1)
    vectors = dict(zip(COMPUTED_ATTRIBUTES, disentangled(plain).T, strict=True))
    if meta is not None:
        for column in ("genre", "beat_type", "drummer"):
            labels = meta[column].astype(str).reset_index(drop=True)
            for value in sorted(labels.unique()):
                if 0 < (labels == value).sum() < len(labels):
                    vectors[f"{column}:{value}"] = label_vector(mu, labels, value)
    return vectors
