"""What a multi-task model's encoder sees: GrooVAE's "inverse sequence transformations" of a groove.

Magenta trained one model per tool, each on one transformation of its input (tapify for Drumify, quantize for
Groove, a dropped closed hi-hat for adding hats), the decoder always writing the whole groove. A multi-task preset
(`task_channels > 0`, explorer/model/vae.py) is trained on all of them, drawn at random per window, and told which one
it sees by a condition beside each step of its input:
- a one-hot of the task (`TASKS`);
- a visibility mask per drum: 1 where the input shows that drum's true playing at that step, 0 where the input
  hides it (a dropped drum, a bar not kept). The decoder is still asked for every cell; constrained decoding
  (explorer/tools/generate.py) then keeps what the user gave.

Every function here is batched, stateless (a [2] integer seed, so a resumed training run repeats exactly) and works
on the [B, T, 27] groove tensor; `condition` builds the same channels for a user's input at inference time.
"""

from __future__ import annotations

import numpy as np

from explorer.errors import CheckpointError
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR

TASKS = ("identity", "quantize", "tapify", "drop_drums", "keep_bars", "note_dropout")
CONDITION_CHANNELS = len(TASKS) + NUM_CLASSES  # task one-hot, then the per-drum visibility mask
# How often each task is drawn in training: plain encoding (every page's seeds) most, the rest alike.
TASK_PROBABILITIES = (0.3, 0.14, 0.14, 0.14, 0.14, 0.14)
FIXED_VELOCITY = 0.7  # the one velocity of a quantized input or a tap without its own (MIDI 89)
TAP_CLASS = DRUM_CLASSES.index("open hi-hat")  # taps go to one channel, Magenta's (channel 3)
DROP_PROBABILITY = 0.3  # drop_drums: each drum that plays is dropped with this probability (at least one is)
MAX_NOTE_DROPOUT = 0.5  # note_dropout: a rate ~ U(0, this) per window, as Magenta's max_note_dropout_probability


def require_multitask(model, tool: str) -> None:
    """Raises CheckpointError unless the model was trained on these transformations (Drumify, infill, continue)."""
    if not model.config.task_channels:
        name = model.info.name if model.info is not None else model.config.name
        raise CheckpointError(f"Checkpoint '{name}' was not trained for {tool}; it needs a multi-task checkpoint "
                              "(hierdec_dist_multitask_4bar).")


def condition(task: str, steps: int, visible=None) -> np.ndarray:
    """The condition channels [steps, CONDITION_CHANNELS] of one input: `task`'s one-hot, and `visible` [steps, 9]
    (default: every drum visible everywhere, except for "tapify", whose input shows no drum as itself)."""
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}' (one of {', '.join(TASKS)})")
    if visible is None:
        visible = np.full((steps, NUM_CLASSES), 0.0 if task == "tapify" else 1.0, np.float32)
    one_hot = np.zeros((steps, len(TASKS)), np.float32)
    one_hot[:, TASKS.index(task)] = 1.0
    return np.concatenate([one_hot, np.asarray(visible, np.float32).reshape(steps, NUM_CLASSES)], axis=-1)


def tapify(tensor: np.ndarray, keep_velocity: bool = True) -> np.ndarray:
    """One groove [T, 27] → its taps: at each step the loudest hit becomes one tap on `TAP_CLASS`, with that hit's
    offset and (with `keep_velocity`) velocity, else `FIXED_VELOCITY`; the training transformation itself."""
    import tensorflow as tf

    taps = _tapify(tf.constant(np.asarray(tensor, np.float32)[None]), tf.constant([keep_velocity]))
    return taps.numpy()[0]


def _quantize(x):
    import tensorflow as tf

    hits = x[..., :NUM_CLASSES]
    return tf.concat([hits, hits * FIXED_VELOCITY, tf.zeros_like(hits)], axis=-1)


def _tapify(x, keep_velocity):
    """keep_velocity: [B] booleans."""
    import tensorflow as tf

    hits, velocities, offsets = tf.split(x, 3, axis=-1)
    loudest = tf.one_hot(tf.argmax(velocities * hits + hits * 1e-3, axis=-1), NUM_CLASSES)  # [B, T, 9]
    tapped = tf.reduce_max(hits, axis=-1, keepdims=True)  # [B, T, 1]
    velocity = tf.reduce_sum(loudest * velocities, axis=-1, keepdims=True)
    velocity = tf.where(keep_velocity[:, None, None], velocity, FIXED_VELOCITY) * tapped
    offset = tf.reduce_sum(loudest * offsets, axis=-1, keepdims=True) * tapped
    lane = tf.one_hot(TAP_CLASS, NUM_CLASSES)  # [9]
    return tf.concat([tapped * lane, velocity * lane, offset * lane], axis=-1)


def random_tasks(x, seed, probabilities=TASK_PROBABILITIES):
    """x [B, T, 27] → (the encoder's input [B, T, 27 + CONDITION_CHANNELS], the task drawn per window [B]).
    `seed`: [2] integers. Each window gets one task; each task's own draws come from their own columns."""
    import tensorflow as tf

    batch, steps = tf.shape(x)[0], tf.shape(x)[1]
    seeds = [tf.random.experimental.stateless_fold_in(seed, k) for k in range(6)]
    logits = tf.math.log(tf.constant([probabilities], tf.float32))
    task = tf.random.stateless_categorical(tf.tile(logits, [batch, 1]), 1, seed=seeds[0])[:, 0]  # [B]
    uniform = tf.random.stateless_uniform([batch, 3], seed=seeds[1])
    hits, velocities, _ = tf.split(x, 3, axis=-1)
    all_visible = tf.ones_like(hits)

    # drop_drums: drums that play are dropped with DROP_PROBABILITY, and at least one (a random one that plays)
    plays = tf.reduce_max(hits, axis=1) > 0  # [B, 9]
    dropped = (tf.random.stateless_uniform([batch, NUM_CLASSES], seed=seeds[2]) < DROP_PROBABILITY) & plays
    forced = tf.one_hot(tf.random.stateless_categorical(
        tf.where(plays, 0.0, -1e9), 1, seed=seeds[3])[:, 0], NUM_CLASSES) > 0
    dropped = tf.where(tf.reduce_any(dropped, axis=-1, keepdims=True), dropped, forced)
    drop_visible = tf.tile(tf.cast(~dropped, tf.float32)[:, None, :], [1, steps, 1])

    # keep_bars: the first 1-3 bars
    kept_bars = 1 + tf.cast(uniform[:, 0] * 3, tf.int32)  # [B]
    in_kept = tf.range(steps)[None, :] < (kept_bars * STEPS_PER_BAR)[:, None]  # [B, T]
    bars_visible = tf.tile(tf.cast(in_kept, tf.float32)[..., None], [1, 1, NUM_CLASSES])

    # note_dropout: Magenta's, quiet notes first
    rate = uniform[:, 1] * MAX_NOTE_DROPOUT
    drop_note = tf.random.stateless_uniform(tf.shape(hits), seed=seeds[4]) < (
        tf.maximum(0.2, 1.0 - velocities) * rate[:, None, None])
    note_kept = tf.cast(~drop_note, tf.float32)

    transformed = tf.stack([
        x,
        _quantize(x),
        _tapify(x, uniform[:, 2] < 0.5),
        x * tf.tile(drop_visible, [1, 1, 3]),
        x * tf.tile(bars_visible, [1, 1, 3]),
        x * tf.tile(note_kept, [1, 1, 3]),
    ], axis=1)  # [B, tasks, T, 27]
    visible = tf.stack([all_visible, all_visible, tf.zeros_like(hits), drop_visible, bars_visible, all_visible],
                       axis=1)
    chosen = tf.one_hot(task, len(TASKS))  # [B, tasks]
    picked = tf.einsum("bk,bktf->btf", chosen, transformed)
    picked_visible = tf.einsum("bk,bktf->btf", chosen, visible)
    task_code = tf.tile(chosen[:, None, :], [1, steps, 1])
    return tf.concat([picked, task_code, picked_visible], axis=-1), task
