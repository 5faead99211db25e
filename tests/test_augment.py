"""Drum swaps for training: hi-hat ↔ ride and low ↔ high tom, with velocities and offsets moving along."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from explorer.augment import CLASS_ORDERS, swap_drums
from explorer.groove import DRUM_CLASSES, NUM_CLASSES

KICK, SNARE, HIHAT, LOW_TOM, HIGH_TOM, RIDE = (DRUM_CLASSES.index(n) for n in (
    "kick", "snare", "closed hi-hat", "low tom", "high tom", "ride"))


def _groove() -> np.ndarray:
    """One bar: kick on 1, snare on 3, hi-hat 8ths, a low tom and a high tom at the end; distinct velocities and
    offsets per drum so that moved values can be traced."""
    x = np.zeros((1, 16, 3 * NUM_CLASSES), np.float32)
    for drum, steps, velocity, offset in ((KICK, [0], 0.9, 0.1), (SNARE, [8], 0.8, -0.2),
                                          (HIHAT, range(0, 16, 2), 0.5, 0.3), (LOW_TOM, [14], 0.7, -0.4),
                                          (HIGH_TOM, [12], 0.6, 0.05)):
        for step in steps:
            x[0, step, drum] = 1.0
            x[0, step, NUM_CLASSES + drum] = velocity
            x[0, step, 2 * NUM_CLASSES + drum] = offset
    return x


def _features(drum: int) -> list[int]:
    return [drum, NUM_CLASSES + drum, 2 * NUM_CLASSES + drum]


def test_with_certainty_both_swaps_move_whole_lanes():
    x = _groove()
    swapped = swap_drums(tf.constant(x), tf.constant([3, 4]), probability=1.0).numpy()
    for source, target in ((HIHAT, RIDE), (RIDE, HIHAT), (LOW_TOM, HIGH_TOM), (HIGH_TOM, LOW_TOM),
                           (KICK, KICK), (SNARE, SNARE)):
        np.testing.assert_array_equal(swapped[..., _features(target)], x[..., _features(source)])


def test_with_no_chance_nothing_moves():
    x = _groove()
    np.testing.assert_array_equal(swap_drums(tf.constant(x), tf.constant([3, 4]), probability=0.0).numpy(), x)


def test_each_window_draws_its_own_swaps_deterministically_per_seed():
    x = np.repeat(_groove(), 400, axis=0)
    first = swap_drums(tf.constant(x), tf.constant([0, 7])).numpy()
    assert np.array_equal(first, swap_drums(tf.constant(x), tf.constant([0, 7])).numpy())
    assert not np.array_equal(first, swap_drums(tf.constant(x), tf.constant([0, 8])).numpy())
    on_ride = first[:, :, RIDE].sum(axis=1) > 0
    toms_mirrored = first[:, 12, LOW_TOM] > 0
    # each swap in about a quarter of the windows, independently of the other
    assert 0.18 < on_ride.mean() < 0.32 and 0.18 < toms_mirrored.mean() < 0.32
    assert 0.02 < (on_ride & toms_mirrored).mean() < 0.11
    # hits are only ever moved, never made or lost
    np.testing.assert_array_equal(first[..., :NUM_CLASSES].sum(axis=(1, 2)), x[..., :NUM_CLASSES].sum(axis=(1, 2)))


@pytest.mark.parametrize("order", CLASS_ORDERS)
def test_every_class_order_is_a_permutation_that_undoes_itself(order):
    assert sorted(order) == list(range(NUM_CLASSES))
    assert [order[i] for i in order] == list(range(NUM_CLASSES))
