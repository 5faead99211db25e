"""Computed attributes on hand-built grooves, and mean-difference vectors on a toy latent space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.analysis.attributes import (
    COMPUTED_ATTRIBUTES,
    HITS_ONLY_ATTRIBUTES,
    attribute_vectors,
    computed_vector,
    disentangled,
    groove_attributes,
    label_vector,
)
from explorer.app import state


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


def test_the_attributes_held_by_keep_the_pattern_are_those_counted_from_the_hits_alone():
    """Same hits, other velocities and offsets: exactly the HITS_ONLY_ATTRIBUTES stay put (the page disables their
    sliders while Keep the pattern is on)."""
    cells = [(s, 0) for s in range(0, 64, 4)] + [(s, 1) for s in range(2, 64, 8)]
    table = groove_attributes(np.stack([groove(cells, 0.5, 0.2), groove(cells, 0.9, -0.3)]))
    unchanged = [name for name in COMPUTED_ATTRIBUTES if table[name].iloc[0] == pytest.approx(table[name].iloc[1])]
    assert unchanged == list(HITS_ONLY_ATTRIBUTES)


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
    plain = computed_vector(mu, groove_attributes(tensors)["density"].to_numpy())
    assert plain[0] > 5 * np.abs(plain[1:]).max()
    # disentangled from the other attributes (in this tiny 8-D space they share some noise): still mostly dim 0
    assert np.argmax(np.abs(vectors["density"])) == 0 and vectors["density"][0] > 0


def test_disentangled_directions_leave_the_other_attributes_alone():
    rng = np.random.default_rng(2)
    plain = rng.standard_normal((16, 5)).astype(np.float32)
    plain[:, 2] += 0.8 * plain[:, 0]  # loudness and density correlated, as in GMD
    directions = disentangled(plain)
    cross = directions.T @ plain / np.diag(plain.T @ plain)  # d_k · v_j / |v_j|²: 1 on the diagonal, 0 off it
    off = cross[~np.eye(5, dtype=bool)]
    assert np.abs(off).max() < 0.2 and np.all(np.abs(np.diag(cross) - 1) < 0.2), cross  # the ridge costs a little
    raw = plain.T @ plain / np.diag(plain.T @ plain)
    assert abs(raw[0, 2]) > 0.3 and abs(cross[0, 2]) < abs(raw[0, 2]) / 10, "entangled before, not after"


def test_a_loudness_move_makes_the_shipped_model_louder_and_keeps_its_hits(groove_dir):
    """On the four default seeds: −2, 0, +2 along loudness go softer to louder, each time, and the hit count stays
    within a quarter of the unmoved decoding (measured with the shipped model: −11 % to +17 %; the plain vector went
    down to −43 %)."""
    from explorer.app import map_selection
    from explorer.datasets import gmd
    from explorer.model import checkpoints
    from explorer.tools.generate import apply_vector, decode, encode, encode_tensors

    model = checkpoints.load_model()
    windows = gmd.load_windows(root=groove_dir)
    rows = map_selection.map_subset(windows.meta, "one")
    mu, _ = encode_tensors(model, windows.tensors[rows])
    loudness = attribute_vectors(mu, windows.tensors[rows])["loudness"]
    for seed in windows.grooves(state.default_seed_rows(windows.meta)):
        _, z, _ = encode(model, [seed])
        moved = [decode(model, apply_vector(z[0], loudness, amount), bpm=seed.bpm)[0] for amount in (-2, 0, 2)]
        levels = groove_attributes(np.stack([g.tensor() for g in moved]))["loudness"].to_numpy()
        assert levels[0] < levels[1] < levels[2], (seed.source, levels)
        hits = [g.hits.sum() for g in moved]
        assert abs(hits[0] / hits[1] - 1) <= 0.25 and abs(hits[2] / hits[1] - 1) <= 0.25, (seed.source, hits)
