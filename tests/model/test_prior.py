"""The sampling prior: a fitted mixture's draws, its fit on known clusters, and its file's round trip and errors."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import CheckpointError
from explorer.model.prior import MixturePrior, fit_mixture, load_prior, save_prior, standard_normal


def two_clusters() -> MixturePrior:
    return MixturePrior(np.array([0.25, 0.75]), np.array([[-4.0, 0.0, 2.0], [4.0, 1.0, -2.0]], np.float32),
                        np.array([[0.5, 1.0, 0.2], [1.0, 0.5, 0.3]], np.float32))


def test_draws_follow_the_mixture_and_repeat_for_a_seed():
    prior = two_clusters()
    draws = prior.sample(20_000, seed=3)
    assert draws.shape == (20_000, 3) and draws.dtype == np.float32
    np.testing.assert_array_equal(draws, prior.sample(20_000, seed=3))
    assert not np.array_equal(draws, prior.sample(20_000, seed=4))
    left = draws[:, 0] < 0
    assert left.mean() == pytest.approx(0.25, abs=0.02)
    np.testing.assert_allclose(draws[left].mean(axis=0), [-4, 0, 2], atol=0.05)
    np.testing.assert_allclose(draws[~left].std(axis=0), [1.0, 0.5, 0.3], rtol=0.05)


def test_a_fitted_mixture_finds_known_clusters():
    truth = two_clusters()
    fitted = fit_mixture(truth.sample(4_000, seed=0), components=2)
    order = np.argsort(fitted.means[:, 0])
    np.testing.assert_allclose(fitted.weights[order], truth.weights, atol=0.03)
    np.testing.assert_allclose(fitted.means[order], truth.means, atol=0.1)
    np.testing.assert_allclose(fitted.scales[order], truth.scales, rtol=0.1)


def test_one_standard_component_draws_what_n01_draws():
    """ε comes first from the seed, as N(0, I) draws it: a seed means the same noise with either prior."""
    standard = MixturePrior(np.ones(1), np.zeros((1, 5), np.float32), np.ones((1, 5), np.float32))
    np.testing.assert_allclose(standard.sample(7, seed=11), standard_normal(7, 5, seed=11), atol=1e-6)


def test_a_prior_needs_consistent_shapes_and_valid_numbers():
    with pytest.raises(ValueError, match="weights"):
        MixturePrior(np.ones(3) / 3, np.zeros((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="positive scales"):
        MixturePrior(np.ones(1), np.zeros((1, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="summing to 1"):
        MixturePrior(np.array([0.5, 0.6]), np.zeros((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least 8 codes"):
        fit_mixture(np.zeros((5, 3)), components=4)


def test_file_round_trip_and_clear_errors(tmp_path):
    path = tmp_path / "prior.npz"
    save_prior(two_clusters(), path)
    loaded = load_prior(path, z_size=3)
    np.testing.assert_array_equal(loaded.means, two_clusters().means)
    np.testing.assert_array_equal(loaded.sample(5, 1), two_clusters().sample(5, 1))
    with pytest.raises(CheckpointError, match="3-dimensional codes; the model's z has 16"):
        load_prior(path, z_size=16)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="cannot be used"):
        load_prior(path, z_size=3)
    np.savez(path, weights=np.ones(1), means=np.zeros((1, 3)))  # no scales
    with pytest.raises(CheckpointError, match="cannot be used"):
        load_prior(path, z_size=3)
    np.savez(path, weights=np.array([object()], dtype=object), means=np.zeros((1, 3)), scales=np.ones((1, 3)))
    with pytest.raises(CheckpointError, match="cannot be used"):  # a pickle is refused, never run
        load_prior(path, z_size=3)
