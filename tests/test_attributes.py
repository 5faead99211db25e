"""Computed attributes on hand-built grooves, and mean-difference vectors on a toy latent space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.attributes import attribute_vectors, computed_vector, groove_attributes, label_vector


def groove(steps_and_classes, velocity=0.5, offset=0.0) -> np.ndarray:
    t = np.zeros((64, 27), np.float32)
    for step, drum in steps_and_classes:
        t[step, drum], t[step, 9 + drum], t[step, 18 + drum] = 1.0, velocity, offset
    return t


def test_groove_attributes():
    on_beat = groove([(s, 0) for s in range(0, 64, 4)], velocity=0.5, offset=0.2)  # kick on every beat
    off_beat = groove([(s, 1) for s in range(1, 64, 4)] + [(s, 1) for s in range(2, 64, 4)], velocity=1.0,
                      offset=-0.4)  # snare on every "e" and "and"
    table = groove_attributes(np.stack([on_beat, off_beat]))
    assert table["density"].tolist() == [4.0, 8.0]
    assert table["syncopation"].tolist() == [0.0, pytest.approx(0.75)]
    assert table["loudness"].tolist() == pytest.approx([0.5, 1.0])
    assert table["push"].tolist() == pytest.approx([0.2, -0.4])
    assert table["looseness"].tolist() == pytest.approx([0.2, 0.4])


def test_hi_hats_do_not_count_as_syncopation():
    hats = groove([(s, 2) for s in range(64)])
    assert groove_attributes(hats[None])["syncopation"][0] == 0.0


def test_vectors_point_from_one_group_to_the_other():
    mu = np.array([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0], [2.0, 1.0]], np.float32)
    labels = pd.Series(["rock", "rock", "funk", "funk"])
    np.testing.assert_allclose(label_vector(mu, labels, "funk"), [2.0, 0.0])
    np.testing.assert_allclose(computed_vector(mu, np.array([0, 1, 2, 3]), quantile=0.5), [2.0, 0.0])
    with pytest.raises(ValueError):
        label_vector(mu, labels, "jazz")


def test_attribute_vectors_cover_computed_and_metadata(test_windows):
    spread = np.linspace(0, len(test_windows) - 1, 400).astype(int)  # across drummers and genres
    tensors = test_windows.tensors[spread]
    meta = test_windows.meta.iloc[spread]
    mu = np.random.default_rng(0).standard_normal((400, 8)).astype(np.float32)
    mu[:, 0] = groove_attributes(tensors)["density"]  # plant density in dimension 0
    vectors = attribute_vectors(mu, tensors, meta)
    assert {"density", "syncopation", "loudness", "push", "looseness"} <= set(vectors)
    assert any(name.startswith("genre:") for name in vectors) and any(name.startswith("drummer:") for name in vectors)
    density = vectors["density"]
    assert density[0] > 5 * np.abs(density[1:]).max()
