"""Per-hit statistics of grooves, and the real-vs-generated classifier, on hand-built and real windows."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.realism import (
    bar_repetition,
    classifier_accuracy,
    groove_statistics,
    levels_kept,
    realism_report,
    window_features,
)
from explorer.notes.drums import DRUM_CLASSES

KICK, SNARE = DRUM_CLASSES.index("kick"), DRUM_CLASSES.index("snare")


def _window(velocity_by_step: dict[tuple[int, int], tuple[int, float]]) -> np.ndarray:
    """One [64, 27] window from {(step, class): (MIDI velocity, offset in the tensor's ±1)}."""
    tensor = np.zeros((64, 27), np.float32)
    for (step, drum), (velocity, offset) in velocity_by_step.items():
        tensor[step, drum], tensor[step, 9 + drum], tensor[step, 18 + drum] = 1.0, velocity / 127, offset
    return tensor


def test_statistics_count_hits_only():
    # four bars of kick on 1 (velocity 100, on the grid) and snare on 3 (velocity 50, a quarter step early)
    window = _window({**{(16 * bar, KICK): (100, 0.0) for bar in range(4)},
                      **{(16 * bar + 8, SNARE): (50, 0.5) for bar in range(4)}})
    stats = groove_statistics(window[None])
    assert stats["hits_per_window"] == 8 and stats["classes_used"] == 2
    assert stats["velocity_mean"] == pytest.approx(75, abs=0.01) and stats["velocity_sd"] == pytest.approx(25, abs=0.01)
    assert stats["timing_mean"] == pytest.approx(0.125) and stats["timing_sd"] == pytest.approx(0.125)
    assert stats["repetition"] == 1.0
    assert stats["onset_positions"][0] == stats["onset_positions"][8] == 0.5
    assert stats["per_class"]["snare"]["velocity_mean"] == pytest.approx(50, abs=0.01)


def test_a_drum_keeps_its_level_within_its_ratios_window_by_window():
    programmed = np.stack([_window({(0, KICK): (100, 0.0), (4, KICK): (100, 0.0), (8, SNARE): (50, 0.0)}),
                           _window({(0, KICK): (40, 0.0)})])
    played = programmed.copy()
    played[0, 0, 9 + KICK], played[0, 4, 9 + KICK] = 70 / 127, 90 / 127  # mean 80: × 0.8, kept
    played[0, 8, 9 + SNARE] = 65 / 127  # × 1.3: not kept
    played[1, 0, 9 + KICK] = 50 / 127  # × 1.25: kept
    assert levels_kept(programmed, played) == (2, 3)
    played[0, 4, 9 + KICK] = 88 / 127  # mean 79: not kept
    assert levels_kept(programmed, played) == (1, 3)


def test_repetition_is_the_jaccard_of_consecutive_bars():
    hits = np.zeros((1, 64, 9), bool)
    hits[0, [0, 4], KICK] = True  # bar 1: two kicks
    hits[0, [16], KICK] = True  # bar 2: one of them (J = 1/2)
    hits[0, [36], SNARE] = True  # bar 3: something else (J = 0)
    hits[0, [52], SNARE] = True  # bar 4: its position again (J = 1)
    assert bar_repetition(hits)[0] == pytest.approx((0.5 + 0.0 + 1.0) / 3)


def test_features_are_finite_for_empty_and_full_windows():
    features = window_features(np.stack([np.zeros((64, 27)), np.ones((64, 27))]))
    assert np.isfinite(features).all() and not np.allclose(features[0], features[1])


def test_the_classifier_tells_quantized_playing_from_real_but_not_real_from_real(test_windows):
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(test_windows), 240, replace=False)
    real, groups = test_windows.tensors[chosen], test_windows.meta["midi_filename"].to_numpy()[chosen]
    quantized = real.copy()
    quantized[..., 9:18] = np.where(real[..., :9] > 0.5, 100 / 127, 0)
    quantized[..., 18:] = 0
    assert classifier_accuracy(real[:120], groups[:120], quantized[120:]) > 0.9  # measured 0.99–1.0, six draws
    # two halves of the same real data: measured 0.36–0.41 over six draws (under chance: windows of one file can
    # sit on both sides of the label, and the folds keep them apart)
    assert classifier_accuracy(real[:120], groups[:120], real[120:], seed=1) < 0.7


def test_realism_report_samples_each_temperature_from_the_models_prior():
    from explorer.model.config import get_config
    from explorer.model.prior import MixturePrior
    from explorer.model.runtime import CompiledModel
    from explorer.model.vae import MusicVAE

    rng = np.random.default_rng(1)
    real = (rng.random((40, 64, 27)) < 0.1).astype(np.float32)
    model = CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))
    report = realism_report(model, real, np.arange(40) // 4, samples=20, temperatures=[1.0, 0.5])
    assert report["real"]["windows"] == 40 and set(report["temperatures"]) == {"1", "0.5"}
    assert report["prior"] == "N(0, I)"
    for stats in report["temperatures"].values():
        assert stats["windows"] == 20 and 0 <= stats["classifier_accuracy"] <= 1
    model.prior = MixturePrior(np.ones(2) / 2, np.full((2, 16), 3.0, np.float32), np.ones((2, 16), np.float32))
    fitted = realism_report(model, real, np.arange(40) // 4, samples=20, temperatures=[1.0])
    assert fitted["prior"] == "a fitted 2-Gaussian mixture"
    assert fitted["temperatures"]["1"] != report["temperatures"]["1"]  # other codes, other grooves


def test_novelty_is_one_for_copies_and_lower_for_new_grooves():
    from explorer.analysis.realism import novelty

    rng = np.random.default_rng(0)
    training = np.zeros((5, 64, 27), np.float32)
    training[..., :9] = rng.random((5, 64, 9)) < 0.2
    assert novelty(training[:2], training) == pytest.approx(1.0)
    shifted = np.roll(training[:2], 1, axis=1)
    assert novelty(shifted, training) < 0.5
