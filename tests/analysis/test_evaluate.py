"""Hit precision / recall / F1 and matched-hit errors on hand-built tensors."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.evaluate import kl_divergence, reconstruction_metrics


def tensor(hits: dict[tuple[int, int], tuple[float, float]]) -> np.ndarray:
    """A [64, 27] tensor with hits at (step, class) → (velocity, offset)."""
    t = np.zeros((64, 27), np.float32)
    for (step, drum), (velocity, offset) in hits.items():
        t[step, drum], t[step, 9 + drum], t[step, 18 + drum] = 1.0, velocity, offset
    return t


def test_perfect_reconstruction():
    target = tensor({(0, 0): (0.8, 0.1), (4, 1): (0.6, -0.2)})
    metrics = reconstruction_metrics(target[None], target[None])
    assert metrics["hit_f1"] == 1.0 and metrics["velocity_mae"] == 0.0 and metrics["offset_mae"] == 0.0
    assert metrics["per_class"]["kick"]["support"] == 1 and metrics["per_class"]["ride"]["support"] == 0


def test_missed_and_extra_hits_and_matched_errors():
    target = tensor({(0, 0): (0.8, 0.1), (4, 1): (0.6, -0.2), (8, 2): (0.5, 0.0)})
    output = tensor({(0, 0): (0.7, 0.3), (4, 1): (0.6, -0.2), (12, 2): (1.0, 1.0)})  # one missed, one extra
    metrics = reconstruction_metrics(target[None], output[None])
    assert metrics["hit_precision"] == pytest.approx(2 / 3)
    assert metrics["hit_recall"] == pytest.approx(2 / 3)
    assert metrics["hit_f1"] == pytest.approx(2 / 3)
    # Errors count on the two matched hits only, not on the missed or extra one.
    assert metrics["velocity_mae"] == pytest.approx((0.1 + 0.0) / 2)
    assert metrics["offset_mae"] == pytest.approx((0.2 + 0.0) / 2)
    assert metrics["per_class"]["closed hi-hat"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_cell_accuracy_counts_silent_cells_and_window_precision_is_a_median():
    """Haki et al.'s "hit accuracy" counts every drum × step cell: silence everywhere scores high on sparse grooves,
    which is why it is reported beside, not instead of, precision."""
    sparse = tensor({(0, 0): (0.8, 0.0), (8, 1): (0.6, 0.0)})
    silent = np.zeros_like(sparse)
    assert reconstruction_metrics(sparse[None], silent[None])["cell_accuracy"] == pytest.approx(1 - 2 / (64 * 9))
    half_right = tensor({(0, 0): (0.8, 0.0), (9, 1): (0.6, 0.0)})
    all_right = sparse
    third_right = tensor({(0, 0): (0.8, 0.0), (1, 1): (0.6, 0.0), (2, 2): (0.6, 0.0)})
    metrics = reconstruction_metrics(np.stack([sparse] * 3), np.stack([half_right, all_right, third_right]))
    assert metrics["window_precision_median"] == pytest.approx(0.5)
    assert metrics["hit_precision"] == pytest.approx(4 / 7)  # pooled over the windows: not the same number


def test_kl_divergence_of_the_prior_is_zero():
    assert kl_divergence(np.zeros((1, 4)), np.ones((1, 4)))[0] == pytest.approx(0.0)
    # KL(N(1, 1) ‖ N(0, 1)) = ½ per dimension.
    assert kl_divergence(np.ones((1, 4)), np.ones((1, 4)))[0] == pytest.approx(2.0)
