"""Training-data augmentation: the same groove with drums a drummer could have chosen instead.

GMD's train split is 16k windows of 4 bars, each bar seen in four overlapping windows, and the shipped model
reconstructs training windows far better than validation ones (docs in checkpoints/README.md). These swaps make
new, musical grooves from the same playing: the timekeeping pattern moved between hi-hat and ride (drummers
switch between them from section to section), and a fill's toms mirrored (a descending fill played ascending).
Hits, velocities and offsets move together, so each is a groove a drummer could have played.
"""

from __future__ import annotations

import tensorflow as tf

from explorer.groove import DRUM_CLASSES, NUM_CLASSES

# Each swap is a pair of drum classes exchanged.
TIMEKEEPER_SWAP = (DRUM_CLASSES.index("closed hi-hat"), DRUM_CLASSES.index("ride"))
TOM_MIRROR = (DRUM_CLASSES.index("low tom"), DRUM_CLASSES.index("high tom"))
SWAP_PROBABILITY = 0.25  # each swap, per window: most windows stay as played, as validation and test are


def _swapped(order: list[int], pair: tuple[int, int]) -> list[int]:
    order = list(order)
    order[pair[0]], order[pair[1]] = order[pair[1]], order[pair[0]]
    return order


def _class_orders() -> list[list[int]]:
    """The four class orders: as played, timekeepers swapped, toms mirrored, both; index = 2·toms + timekeepers."""
    identity = list(range(NUM_CLASSES))
    orders = []
    for toms in (False, True):
        for timekeepers in (False, True):
            order = _swapped(identity, TOM_MIRROR) if toms else identity
            orders.append(_swapped(order, TIMEKEEPER_SWAP) if timekeepers else order)
    return orders


CLASS_ORDERS = _class_orders()


def swap_drums(x, seed, probability: float = SWAP_PROBABILITY):
    """x [B, T, 27] groove tensors → the same with, in each window independently and each with `probability`,
    hi-hat and ride exchanged and low and high tom exchanged. `seed`: [2] integers (stateless, so a resumed
    training run swaps exactly as before)."""
    batch = tf.shape(x)[0]
    draws = tf.random.stateless_uniform([batch, 2], seed=seed) < probability
    choice = tf.cast(draws[:, 0], tf.int32) + 2 * tf.cast(draws[:, 1], tf.int32)
    order = tf.gather(tf.constant(CLASS_ORDERS, tf.int32), choice)  # [B, 9]
    features = tf.concat([order, order + NUM_CLASSES, order + 2 * NUM_CLASSES], axis=-1)  # [B, 27]
    return tf.gather(x, features, axis=2, batch_dims=1)
