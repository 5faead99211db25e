"""The multi-task model's input transformations, on hand-built windows, and the condition beside them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from explorer.model.conditions import (
    CONDITION_CHANNELS,
    FIXED_VELOCITY,
    TAP_CLASS,
    TASKS,
    condition,
    random_tasks,
    tapify,
)
from explorer.notes.drums import DRUM_CLASSES, FEATURES, NUM_CLASSES

KICK, SNARE, HAT = (DRUM_CLASSES.index(name) for name in ("kick", "snare", "closed hi-hat"))


def hand_built_window() -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4 (loud), closed hats on every 8th (soft), pushed and dragged a little."""
    x = np.zeros((64, FEATURES), np.float32)
    for step in range(0, 64, 2):
        x[step, HAT], x[step, 9 + HAT], x[step, 18 + HAT] = 1, 0.4, 0.1
    for step in range(0, 64, 8):
        drum, velocity = (KICK, 0.8) if step % 16 == 0 else (SNARE, 0.95)
        x[step, drum], x[step, 9 + drum], x[step, 18 + drum] = 1, velocity, -0.2
    return x


def draw(x: np.ndarray, task: str, seed: int = 0):
    """random_tasks on a batch of copies of x, with every window given `task`; (inputs [B, T, 42])."""
    probabilities = [1e-9] * len(TASKS)
    probabilities[TASKS.index(task)] = 1.0
    inputs, drawn = random_tasks(tf.constant(np.stack([x] * 16)), tf.constant([seed, 1], tf.int64), probabilities)
    assert set(drawn.numpy()) == {TASKS.index(task)}
    return inputs.numpy()


def test_the_condition_names_the_task_and_what_is_visible():
    code = condition("drop_drums", 64, visible=np.tile(np.arange(9) != HAT, (64, 1)))
    assert code.shape == (64, CONDITION_CHANNELS)
    np.testing.assert_array_equal(code[:, :len(TASKS)].argmax(-1), TASKS.index("drop_drums"))
    assert code[:, len(TASKS) + HAT].max() == 0 and code[:, len(TASKS) + KICK].min() == 1
    assert condition("tapify", 64)[:, len(TASKS):].max() == 0  # taps show no drum as itself
    with pytest.raises(ValueError, match="unknown task"):
        condition("shuffle", 64)


def test_identity_is_the_window_with_every_drum_visible():
    x = hand_built_window()
    inputs = draw(x, "identity")
    np.testing.assert_array_equal(inputs[0, :, :FEATURES], x)
    np.testing.assert_array_equal(inputs[0, :, FEATURES:], condition("identity", 64))


def test_quantize_keeps_the_hits_with_one_velocity_and_no_offsets():
    x = hand_built_window()
    inputs = draw(x, "quantize")[0]
    np.testing.assert_array_equal(inputs[:, :9], x[:, :9])
    np.testing.assert_allclose(inputs[:, 9:18], x[:, :9] * FIXED_VELOCITY)
    assert not inputs[:, 18:27].any()


def test_tapify_puts_the_loudest_hit_of_each_step_on_one_channel():
    x = hand_built_window()
    taps = tapify(x)
    assert taps[:, :9].sum() == 32 and taps[:, TAP_CLASS].sum() == 32  # one tap per 8th, all on one lane
    # step 8 has a snare (0.95) over a hat (0.4): the tap is the snare's velocity and offset
    assert taps[8, 9 + TAP_CLASS] == pytest.approx(0.95) and taps[8, 18 + TAP_CLASS] == pytest.approx(-0.2)
    assert taps[2, 9 + TAP_CLASS] == pytest.approx(0.4) and taps[2, 18 + TAP_CLASS] == pytest.approx(0.1)
    np.testing.assert_allclose(tapify(x, keep_velocity=False)[::2, 9 + TAP_CLASS], FIXED_VELOCITY)
    inputs = draw(x, "tapify")
    kinds = {0 if np.allclose(w[:, :FEATURES], taps) else 1 if np.allclose(w[:, :FEATURES], tapify(x, False)) else 2
             for w in inputs}
    assert kinds == {0, 1}  # the tap's own velocity or the fixed one, at random
    assert not inputs[:, :, FEATURES + len(TASKS):].any()


def test_drop_drums_hides_at_least_one_drum_that_plays_and_says_which():
    x = hand_built_window()
    for window in draw(x, "drop_drums"):
        visible = window[0, FEATURES + len(TASKS):] > 0
        dropped = [d for d in range(NUM_CLASSES) if not visible[d]]
        assert set(dropped) & {KICK, SNARE, HAT}  # a drum that plays is dropped
        assert set(dropped) <= {KICK, SNARE, HAT}  # silent drums are never "dropped"
        for drum in range(NUM_CLASSES):
            lanes = [drum, 9 + drum, 18 + drum]
            expected = 0 * x[:, lanes] if drum in dropped else x[:, lanes]
            np.testing.assert_array_equal(window[:, lanes], expected)


def test_keep_bars_keeps_the_first_one_to_three_bars():
    x = hand_built_window()
    kept_counts = set()
    for window in draw(x, "keep_bars"):
        visible_steps = window[:, FEATURES + len(TASKS)] > 0
        kept = int(visible_steps.sum()) // 16
        kept_counts.add(kept)
        assert visible_steps[:16 * kept].all() and not visible_steps[16 * kept:].any()
        np.testing.assert_array_equal(window[:16 * kept, :FEATURES], x[:16 * kept])
        assert not window[16 * kept:, :FEATURES].any()
    assert kept_counts == {1, 2, 3}


def test_note_dropout_removes_quiet_notes_first_and_keeps_the_rest_as_played():
    x = hand_built_window()
    inputs = np.concatenate([draw(x, "note_dropout", seed) for seed in range(8)])
    kept = inputs[:, :, :9] > 0
    assert (kept <= (x[:, :9] > 0)).all()  # only removes
    hats_kept, snares_kept = kept[:, :, HAT].mean() / (x[:, HAT] > 0).mean(), kept[:, :, SNARE].mean() / (
        x[:, SNARE] > 0).mean()
    assert hats_kept < snares_kept < 1.0  # soft hats (0.4) go before loud snares (0.95)
    survivors = np.broadcast_to(x, inputs[..., :FEATURES].shape) * np.tile(kept, (1, 1, 3))
    np.testing.assert_array_equal(inputs[..., :FEATURES], survivors)


def test_tasks_are_drawn_in_proportion_and_repeat_with_the_seed(eight_windows):
    batch = tf.constant(np.concatenate([eight_windows] * 64))
    inputs, tasks = random_tasks(batch, tf.constant([3, 4], tf.int64))
    again, tasks_again = random_tasks(batch, tf.constant([3, 4], tf.int64))
    np.testing.assert_array_equal(inputs.numpy(), again.numpy())
    np.testing.assert_array_equal(tasks.numpy(), tasks_again.numpy())
    shares = np.bincount(tasks.numpy(), minlength=len(TASKS)) / len(tasks.numpy())
    assert shares[0] == pytest.approx(0.3, abs=0.06) and all(0.08 < share < 0.22 for share in shares[1:])
