"""Sampling, variations, interpolation and blends on a tiny model: ends, determinism and tempo."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from explorer import generate
from explorer.groove import Groove
from explorer.model import CompiledModel, MusicVAE, get_config


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    keras.utils.set_random_seed(5)
    vae = MusicVAE(get_config("tiny_4bar"))
    # Random weights decode near-silence; a larger output bias on the hits makes grooves with notes in them.
    vae.named["decoder.output.bias"].assign(np.r_[np.full(9, 0.3), np.zeros(18)].astype(np.float32))
    return CompiledModel(vae)


@pytest.fixture(scope="module")
def seeds(eight_windows) -> list[Groove]:
    return [Groove.from_tensor(t, bpm=90.0 + 10 * i, source=f"seed {i}") for i, t in enumerate(eight_windows[:4])]


def same(a: list[Groove], b: list[Groove]) -> bool:
    """Equal up to float rounding (XLA may round differently for another batch size)."""
    return all(x.same_as(y, atol=1e-5) for x, y in zip(a, b, strict=True))


def test_encode_is_seeded(model, seeds):
    z1, mu1, sigma1 = generate.encode(model, seeds, seed=1)
    z2, mu2, _ = generate.encode(model, seeds, seed=1)
    z3, _, _ = generate.encode(model, seeds, seed=2)
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(mu1, mu2)
    assert not np.allclose(z1, z3)
    np.testing.assert_allclose(z1, mu1 + sigma1 * np.random.default_rng(1).standard_normal(mu1.shape), rtol=1e-5)


def test_sample_count_tempo_and_determinism(model):
    first = generate.sample(model, 3, temperature=1.0, seed=9, bpm=97.0)
    assert len(first) == 3 and all(g.steps == 64 and g.bpm == 97.0 for g in first)
    assert same(first, generate.sample(model, 3, temperature=1.0, seed=9, bpm=97.0))
    assert not same(first, generate.sample(model, 3, temperature=1.0, seed=10, bpm=97.0))


def test_reconstruct_keeps_each_tempo_and_plays_the_refined_codes(model, seeds):
    out = generate.reconstruct(model, seeds)
    assert [g.bpm for g in out] == [g.bpm for g in seeds]
    codes = generate.seed_codes(model, seeds)
    assert same(out, generate.decode(model, codes, 0.0, 0, [g.bpm for g in seeds]))
    _, mu, _ = generate.encode(model, seeds)
    assert not np.allclose(codes, mu)  # refined, not the encoder's guess
    assert same(out, generate.reconstruct(model, seeds))  # T = 0 repeats


def test_refinement_never_lowers_a_seeds_likelihood_and_raises_it_for_real_grooves(eight_windows):
    """The shipped model, on eight real test windows: every refined code is at least as likely as mu, most are
    likelier, and the free-running reconstruction at T = 0 keeps more of the hits."""
    import tensorflow as tf

    from explorer import checkpoints
    from explorer.evaluate import reconstruction_metrics
    from explorer.refine import RefineOptions, likelihood_terms, refiner

    shipped = checkpoints.load_model()
    mu, _ = shipped.encode(eight_windows)
    refined = refiner(shipped).codes(eight_windows)
    before, after = (likelihood_terms(shipped.vae, tf.constant(eight_windows), tf.constant(z))[0].numpy()
                     for z in (mu, refined))
    assert (after <= before + 1e-3).all() and (after < before - 1.0).sum() >= 6, (before, after)
    np.testing.assert_array_equal(refiner(shipped).codes(eight_windows, RefineOptions(steps=0)), mu)
    f1 = [reconstruction_metrics(eight_windows, shipped.decode(z))["hit_f1"] for z in (mu, refined)]
    assert f1[1] > f1[0], f1
    # Hits weighted 10×: the weighted likelihood is never lowered either, and the hits are likelier than when
    # refined for the plain likelihood
    weighted = refiner(shipped).codes(eight_windows, RefineOptions(hit_weight=10.0))
    terms = [likelihood_terms(shipped.vae, tf.constant(eight_windows), tf.constant(z)) for z in (mu, refined, weighted)]
    assert (terms[2][0] + 9 * terms[2][1] <= terms[0][0] + 9 * terms[0][1] + 1e-3).numpy().all()
    assert terms[2][1].numpy().sum() < 0.9 * terms[1][1].numpy().sum(), (terms[1][1], terms[2][1])  # measured 0.8


def test_variations_span_reconstruction_to_sample(model, seeds):
    at_zero = generate.variations(model, seeds[0], n=2, amount=0.0)
    reconstruction = generate.reconstruct(model, seeds[:1])[0]
    assert same(at_zero, [reconstruction] * 2)
    varied = generate.variations(model, seeds[0], n=3, amount=0.8, seed=4)
    assert len(varied) == 3 and not same(varied[:1], varied[1:2])
    with pytest.raises(ValueError):
        generate.variations(model, seeds[0], n=1, amount=1.5)


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_interpolation_starts_and_ends_on_the_seeds_as_played(model, seeds, method):
    path = generate.interpolate(model, seeds[0], seeds[1], steps=5, method=method)
    assert len(path) == 5
    assert path[0] is seeds[0] and path[-1] is seeds[1]  # exactly the seeds, not the model's reconstructions
    codes = generate.seed_codes(model, seeds[:2])
    inner = generate.decode(model, generate.latent_path(codes[0], codes[1], 5, method)[1:-1])
    assert all(np.array_equal(p.tensor(), q.tensor()) for p, q in zip(path[1:-1], inner, strict=True))
    assert len(generate.interpolate(model, seeds[0], seeds[1], steps=2)) == 2
    assert [g.bpm for g in path] == pytest.approx(np.linspace(seeds[0].bpm, seeds[1].bpm, 5))


def test_latent_paths():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    lerp = generate.latent_path(a, b, 3, "lerp")
    np.testing.assert_allclose(lerp[1], [0.5, 0.5])
    slerp = generate.latent_path(a, b, 3, "slerp")
    np.testing.assert_allclose(slerp[[0, -1]], [a, b], atol=1e-6)
    # slerp follows the arc between unit vectors: the midpoint stays on the unit circle, halfway round.
    np.testing.assert_allclose(slerp[1], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    with pytest.raises(ValueError):
        generate.latent_path(a, b, 1)


def test_blend_grid_corners_are_the_seeds(model, seeds):
    grid = generate.blend(model, seeds, rows=3, cols=4)
    assert [len(row) for row in grid] == [4, 4, 4]
    assert [grid[0][0], grid[0][-1], grid[-1][0], grid[-1][-1]] == list(seeds)  # the seeds as played
    # Row ½, column ⅓: weights ⅓, ⅙, ⅓, ⅙ on the corner tempos 90, 100, 110, 120.
    assert grid[1][1].bpm == pytest.approx(90 / 3 + 100 / 6 + 110 / 3 + 120 / 6)
    with pytest.raises(ValueError):
        generate.blend(model, seeds[:3])


def test_apply_vector_moves_linearly():
    z = np.zeros((2, 3), np.float32)
    moved = generate.apply_vector(z, np.array([1.0, 2.0, 3.0]), 0.5)
    np.testing.assert_allclose(moved, [[0.5, 1.0, 1.5]] * 2)


def test_wrong_length_groove_is_refused(model):
    short = Groove(np.zeros((32, 9)), np.zeros((32, 9)), np.zeros((32, 9)), 120.0, "2 bars")
    with pytest.raises(ValueError, match="64-step"):
        generate.encode(model, [short])
