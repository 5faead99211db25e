"""Training augmentation: drum swaps (hi-hat ↔ ride, low ↔ high tom, crash ↔ ride) with velocities and offsets
moving along, and dynamics (a window's velocities scaled)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.train.augment import AUGMENTATIONS, DYNAMICS_RANGE, augment

KICK, SNARE, HIHAT, LOW_TOM, HIGH_TOM, CRASH, RIDE = (DRUM_CLASSES.index(n) for n in (
    "kick", "snare", "closed hi-hat", "low tom", "high tom", "crash", "ride"))
SEED = tf.constant([3, 4])


def _groove() -> np.ndarray:
    """One bar: kick on 1, snare on 3, hi-hat 8ths, a crash on 1, a low tom and a high tom at the end; distinct
    velocities and offsets per drum so that moved values can be traced."""
    x = np.zeros((1, 16, 3 * NUM_CLASSES), np.float32)
    for drum, steps, velocity, offset in ((KICK, [0], 0.9, 0.1), (SNARE, [8], 0.8, -0.2),
                                          (HIHAT, range(0, 16, 2), 0.5, 0.3), (CRASH, [0], 0.95, 0.15),
                                          (LOW_TOM, [14], 0.7, -0.4), (HIGH_TOM, [12], 0.6, 0.05)):
        for step in steps:
            x[0, step, drum] = 1.0
            x[0, step, NUM_CLASSES + drum] = velocity
            x[0, step, 2 * NUM_CLASSES + drum] = offset
    return x


def _features(drum: int) -> list[int]:
    return [drum, NUM_CLASSES + drum, 2 * NUM_CLASSES + drum]


@pytest.mark.parametrize("names, moves", [
    (("timekeepers", "toms"), ((HIHAT, RIDE), (RIDE, HIHAT), (LOW_TOM, HIGH_TOM), (HIGH_TOM, LOW_TOM))),
    (("cymbals",), ((CRASH, RIDE), (RIDE, CRASH), (HIHAT, HIHAT))),
    # swaps compose in order: the hi-hat pattern goes to the ride, then the ride's lane to the crash
    (("timekeepers", "cymbals"), ((HIHAT, CRASH), (CRASH, RIDE), (RIDE, HIHAT))),
])
def test_with_certainty_swaps_move_whole_lanes(names, moves):
    x = _groove()
    swapped = augment(tf.constant(x), SEED, names, probability=1.0).numpy()
    for source, target in (*moves, (KICK, KICK), (SNARE, SNARE)):
        np.testing.assert_array_equal(swapped[..., _features(target)], x[..., _features(source)])


def test_with_certainty_dynamics_scales_velocities_only_and_never_above_one():
    x = np.repeat(_groove(), 64, axis=0)
    louder = augment(tf.constant(x), SEED, ("dynamics",), probability=1.0).numpy()
    np.testing.assert_array_equal(louder[..., :NUM_CLASSES], x[..., :NUM_CLASSES])
    np.testing.assert_array_equal(louder[..., 2 * NUM_CLASSES:], x[..., 2 * NUM_CLASSES:])
    played = x[..., :NUM_CLASSES] > 0
    factor = louder[..., NUM_CLASSES + SNARE].sum(axis=1) / x[..., NUM_CLASSES + SNARE].sum(axis=1)
    assert np.all((factor >= 1 / DYNAMICS_RANGE - 1e-6) & (factor <= DYNAMICS_RANGE + 1e-6))
    assert factor.min() < 0.9 and factor.max() > 1.1  # softer and louder both occur
    velocities = louder[..., NUM_CLASSES:2 * NUM_CLASSES]
    assert velocities.max() <= 1.0 and np.all(velocities[played] > 0) and np.all(velocities[~played] == 0)


@pytest.mark.parametrize("names, probability", [((), 1.0), (AUGMENTATIONS, 0.0)])
def test_nothing_named_or_no_chance_leaves_grooves_as_played(names, probability):
    x = _groove()
    np.testing.assert_array_equal(augment(tf.constant(x), SEED, names, probability=probability).numpy(), x)


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="unknown augmentation reverse"):
        augment(tf.constant(_groove()), SEED, ("toms", "reverse"))


def test_each_window_draws_its_own_swaps_deterministically_per_seed():
    x = np.repeat(_groove(), 400, axis=0)
    first = augment(tf.constant(x), tf.constant([0, 7])).numpy()
    assert np.array_equal(first, augment(tf.constant(x), tf.constant([0, 7])).numpy())
    assert not np.array_equal(first, augment(tf.constant(x), tf.constant([0, 8])).numpy())
    on_ride = first[:, :, RIDE].sum(axis=1) > 0
    toms_mirrored = first[:, 12, LOW_TOM] > 0
    # each swap in about a quarter of the windows, independently of the other
    assert 0.18 < on_ride.mean() < 0.32 and 0.18 < toms_mirrored.mean() < 0.32
    assert 0.02 < (on_ride & toms_mirrored).mean() < 0.11
    # naming one more augmentation leaves these draws as they were
    more = augment(tf.constant(x), tf.constant([0, 7]), ("timekeepers", "toms", "dynamics")).numpy()
    np.testing.assert_array_equal(more[..., :NUM_CLASSES], first[..., :NUM_CLASSES])


@pytest.mark.parametrize("count", range(1, len(AUGMENTATIONS) + 1))
def test_hits_are_only_ever_moved_never_made_or_lost(count):
    x = np.repeat(_groove(), 50, axis=0)
    for names in itertools.combinations(AUGMENTATIONS, count):
        hits = augment(tf.constant(x), SEED, names, probability=0.5).numpy()[..., :NUM_CLASSES]
        np.testing.assert_array_equal(np.sort(hits.sum(axis=1), axis=-1), np.sort(x[..., :NUM_CLASSES].sum(axis=1),
                                                                                   axis=-1))
