"""Training-data augmentation: the same groove as a drummer could have played it instead.

GMD's train split is 16k windows of 4 bars, each bar seen in four overlapping windows, and the shipped model
reconstructs training windows far better than validation ones (docs in checkpoints/README.md). These make new,
musical grooves from the same playing: the timekeeping pattern moved between hi-hat and ride (drummers switch
between them from section to section), a fill's toms mirrored (a descending fill played ascending), crash and ride
exchanged (riding on the crash, accents on the ride), and the whole window played softer or louder. Hits,
velocities and offsets move together, so each is a groove a drummer could have played.
"""

from __future__ import annotations

import math

from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES

# Each swap exchanges two drum classes; swaps drawn for the same window apply in this order.
SWAPS = {
    "timekeepers": (DRUM_CLASSES.index("closed hi-hat"), DRUM_CLASSES.index("ride")),
    "toms": (DRUM_CLASSES.index("low tom"), DRUM_CLASSES.index("high tom")),
    "cymbals": (DRUM_CLASSES.index("crash"), DRUM_CLASSES.index("ride")),
}
AUGMENTATIONS = (*SWAPS, "dynamics")
DEFAULT_AUGMENTATIONS = ("timekeepers", "toms")  # what `train --augment` alone means
PROBABILITY = 0.25  # each augmentation, per window: most windows stay as played, as validation and test are
DYNAMICS_RANGE = 1.25  # "dynamics" scales a window's velocities by a factor in [1/1.25, 1.25] (log-uniform)


def _exchange(pair: tuple[int, int]) -> list[int]:
    order = list(range(NUM_CLASSES))
    order[pair[0]], order[pair[1]] = order[pair[1]], order[pair[0]]
    return order


def augment(x, seed, names=DEFAULT_AUGMENTATIONS, probability: float = PROBABILITY):
    """x [B, T, 27] groove tensors → the same with each named augmentation applied, in each window independently,
    with `probability`. `seed`: [2] integers (stateless, so a resumed training run augments exactly as before).
    Each augmentation draws from its own column, so naming more of them leaves the others' draws unchanged."""
    import tensorflow as tf  # here, so that the CLI lists the names without loading TensorFlow

    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)} (choose from {', '.join(AUGMENTATIONS)})")
    batch = tf.shape(x)[0]
    uniform = tf.random.stateless_uniform([batch, len(AUGMENTATIONS) + 1], seed=seed)
    chosen = uniform[:, :len(AUGMENTATIONS)] < probability  # [B, augmentations]
    order = tf.tile(tf.range(NUM_CLASSES)[None], [batch, 1])  # order[b, j]: the class lane j is taken from
    for column, name in enumerate(AUGMENTATIONS):
        if name in SWAPS and name in names:
            order = tf.where(chosen[:, column:column + 1], tf.gather(order, _exchange(SWAPS[name]), axis=1), order)
    features = tf.concat([order, order + NUM_CLASSES, order + 2 * NUM_CLASSES], axis=-1)  # [B, 27]
    x = tf.gather(x, features, axis=2, batch_dims=1)
    if "dynamics" in names:
        log_factor = (2 * uniform[:, -1] - 1) * math.log(DYNAMICS_RANGE)
        factor = tf.where(chosen[:, AUGMENTATIONS.index("dynamics")], tf.exp(log_factor), 1.0)
        hits, velocities, offsets = tf.split(x, 3, axis=-1)
        x = tf.concat([hits, tf.minimum(velocities * factor[:, None, None], 1.0), offsets], axis=-1)
    return x
