"""The MusicVAE graph: Magenta's sizes, the Keras LSTM layout, the loss, and sampler ≡ training decoder."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from explorer.model import runtime
from explorer.model.batching import XLA_BATCH_SIZES
from explorer.model.config import PRESETS, get_config
from explorer.model.runtime import CompiledModel
from explorer.model.surgery import warm_start
from explorer.model.vae import MusicVAE, head_quantile, lstm_sequence, reconstruction_terms

# Magenta's heads, flat and hierarchical; distributions; distributions reading the bar before
TINY = ["tiny_4bar", "tiny_hierdec_4bar", "tiny_dist_4bar", "tiny_prevbar_4bar"]


@pytest.fixture(scope="module", params=TINY)
def tiny(request) -> MusicVAE:
    keras.utils.set_random_seed(7)
    return MusicVAE(get_config(request.param))


@pytest.fixture(scope="module")
def compiled(tiny) -> CompiledModel:
    """The tiny model's compiled programs, shared by the tests of one preset (each XLA program compiles once)."""
    return CompiledModel(tiny)


def test_groovae_4bar_has_magentas_parameter_count():
    # 4,085,019 is what Magenta's groovae_4bar graph holds (shared/REFERENCE.md).
    assert MusicVAE(get_config("groovae_4bar")).parameter_count() == 4_085_019


def test_presets_are_frozen_and_complete():
    config = get_config("groovae_4bar")
    assert (config.encoder_units, config.z_size, config.decoder_units, config.decoder_layers) == (512, 256, 256, 2)
    assert (config.dropout_keep, config.free_bits, config.beta, config.batch_size) == (0.3, 48.0, 0.2, 512)
    assert config.free_nats == pytest.approx(48 * math.log(2))
    assert PRESETS["hierdec_4bar"].hierarchical and not config.hierarchical
    with pytest.raises(AttributeError):
        config.z_size = 3
    with pytest.raises(KeyError, match="unknown model config"):
        get_config("nope")


def test_lstm_matches_keras_lstm_with_the_same_weights():
    """Our hoisted-projection LSTM computes exactly keras.layers.LSTM (weights in Keras's layout)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 10, 5)).astype(np.float32)
    layer = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    reference, h_ref, c_ref = layer(x)
    kernel, recurrent, bias = (w.numpy() for w in layer.weights)
    projected = tf.transpose(tf.tensordot(x, kernel, axes=1) + bias, [1, 0, 2])
    zeros = tf.zeros([3, 4])
    outputs, (h, c) = lstm_sequence(projected, zeros, zeros, recurrent)
    np.testing.assert_allclose(tf.transpose(outputs, [1, 0, 2]), reference, atol=1e-5)
    np.testing.assert_allclose(h, h_ref, atol=1e-5)
    np.testing.assert_allclose(c, c_ref, atol=1e-5)


def test_shapes(tiny, compiled, eight_windows):
    mu, sigma = compiled.encode(eight_windows)
    assert mu.shape == sigma.shape == (8, tiny.config.z_size)
    assert (sigma > 0).all()
    logits = tiny.decode_teacher_forced(tf.constant(mu), tf.constant(eight_windows))
    assert logits.shape == (8, 64, tiny.config.output_size)
    decoded = compiled.decode(mu, temperature=0.5, seed=1)
    assert decoded.shape == (8, 64, 27)
    assert set(np.unique(decoded[..., :9])) <= {0.0, 1.0}
    assert (np.abs(decoded[..., 18:]) <= 1).all() and ((decoded[..., 9:18] >= 0) & (decoded[..., 9:18] <= 1)).all()


def test_sampler_is_the_training_decoder(tiny, compiled):
    """Feeding the sampler's own T=0 output back as teacher-forced targets reproduces it: both paths are one net."""
    z = np.random.default_rng(3).standard_normal((4, tiny.config.z_size)).astype(np.float32) * 2
    decoded = compiled.decode(z, temperature=0.0)
    logits = tiny.decode_teacher_forced(tf.constant(z), tf.constant(decoded)).numpy()
    hits = (logits[..., :9] > 0).astype(np.float32)
    np.testing.assert_array_equal(decoded[..., :9], hits)
    if tiny.config.distributional:  # the median of each hit's distributions; 0 where no hit
        medians = [head_quantile(tf.reshape(logits[..., start:end], (4, 64, 9, -1)), np.full((4, 64, 9), 0.5), *span)
                   for start, end, span in ((9, 9 + 9 * tiny.config.velocity_bins, (0, 1)),
                                            (9 + 9 * tiny.config.velocity_bins, None, (-1, 1)))]
        np.testing.assert_allclose(decoded[..., 9:18], hits * medians[0], atol=1e-5)
        np.testing.assert_allclose(decoded[..., 18:], hits * medians[1], atol=1e-5)
    else:  # Magenta's deterministic heads, on every cell
        np.testing.assert_allclose(decoded[..., 9:18], tf.sigmoid(logits[..., 9:18]), atol=1e-5)
        np.testing.assert_allclose(decoded[..., 18:], np.tanh(logits[..., 18:]), atol=1e-5)


def test_a_seeds_details_condition_the_sampler_as_they_do_the_training_decoder(tiny, compiled):
    """A code with details ([z | details], explorer/model/refine.py): the sampler's T = 0 output, fed back
    teacher-forced on the same conditions, gives the same hits; zero details play as the plain code; other details play
    otherwise."""
    rng = np.random.default_rng(8)
    z = rng.standard_normal((3, tiny.config.z_size)).astype(np.float32) * 2
    details = rng.standard_normal((3, *tiny.detail_shape())).astype(np.float32)
    code = compiled.join_codes(z, details)
    for part, back in zip((z, details), compiled.split_codes(code), strict=True):  # a round trip
        np.testing.assert_array_equal(back, part)
    decoded = compiled.decode(code)
    logits = tiny.decode_conditioned(tiny.conditions(tf.constant(z), tf.constant(details)), tf.constant(decoded))
    np.testing.assert_array_equal(decoded[..., :9], (logits.numpy()[..., :9] > 0).astype(np.float32))
    assert not np.array_equal(decoded, compiled.decode(z))
    np.testing.assert_array_equal(compiled.decode(compiled.join_codes(z)), compiled.decode(z))
    np.testing.assert_allclose(compiled.decode(code, heads_z=code), decoded, atol=1e-5)  # both streams' details
    with pytest.raises(ValueError, match="z and a seed's details"):
        compiled.decode(code[:, :-1])


def test_a_code_beside_itself_plays_as_it_does_alone(tiny, compiled):
    """Two decoders in lockstep (a seed's hits code and heads code) given the same code are that code's decoder."""
    z = np.random.default_rng(6).standard_normal((3, tiny.config.z_size)).astype(np.float32) * 2
    for temperature in (0.0, 1.0):
        alone = compiled.decode(z, temperature, seed=5)
        assert alone[..., :9].sum() > 0
        np.testing.assert_allclose(compiled.decode(z, temperature, seed=5, heads_z=z), alone, atol=1e-5)
    other = np.random.default_rng(7).standard_normal(z.shape).astype(np.float32) * 2
    assert not np.allclose(compiled.decode(z, heads_z=other), compiled.decode(z))


def test_sampling_is_deterministic_per_seed(tiny, compiled):
    z = np.random.default_rng(4).standard_normal((3, tiny.config.z_size)).astype(np.float32)
    first, again, other = (compiled.decode(z, 1.0, seed) for seed in (11, 11, 12))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[..., :9], other[..., :9])
    # any integer is a seed (NumPy's generators take only non-negative ones)
    assert compiled.decode(z, 1.0, -12).shape == first.shape
    # T = 0 ignores the seed.
    np.testing.assert_array_equal(compiled.decode(z, 0.0, 1), compiled.decode(z, 0.0, 2))


def test_a_groove_comes_out_the_same_in_any_batch(tiny, compiled, test_windows):
    """Small batches run as XLA programs padded to a fixed size, large ones as plain graphs: a groove's encoding
    and its sample for a seed must not depend on which path ran it or on the batch around it."""
    assert len(test_windows) > XLA_BATCH_SIZES[-1]
    windows = test_windows.tensors[:XLA_BATCH_SIZES[-1] + 4]  # plain graph
    mu, sigma = compiled.encode(windows)
    for count in (1, 3):  # XLA, padded to 1 and to 4
        alone = compiled.encode(windows[:count])
        np.testing.assert_allclose(alone[0], mu[:count], atol=1e-5)
        np.testing.assert_allclose(alone[1], sigma[:count], atol=1e-5)
    together = compiled.decode(mu, temperature=1.0, seed=5)
    for count in (1, 3):
        alone = compiled.decode(mu[:count], temperature=1.0, seed=5)
        np.testing.assert_array_equal(alone[..., :9], together[:count, :, :9])
        np.testing.assert_allclose(alone, together[:count], atol=1e-4)


def test_free_bits_and_beta(eight_windows):
    """loss = reconstruction + beta · max(KL − free nats, 0), per example."""
    model = MusicVAE(get_config("tiny_4bar"))
    x = tf.constant(eight_windows)
    seed = tf.constant([0, 1], tf.int64)
    loss, reconstruction, kl, _ = model.losses_for(x, seed)
    # A tiny fresh model's KL is far below 48 bits: the KL costs nothing.
    assert (kl.numpy() < model.config.free_nats).all()
    np.testing.assert_allclose(loss, reconstruction, rtol=1e-6)
    # Push mu far from 0: now the KL above the free nats is charged at beta.
    model.named["encoder.mu.bias"].assign(np.full(model.config.z_size, 5.0, np.float32))
    loss, reconstruction, kl, _ = model.losses_for(x, seed)
    assert (kl.numpy() > model.config.free_nats).all()
    expected = reconstruction + model.config.beta * (kl - model.config.free_nats)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_reconstruction_loss_is_magentas_sum(eight_windows):
    """Σ BCE(hits) + Σ MSE(velocities) + Σ MSE(offsets) over steps and classes, computed here in NumPy."""
    model = MusicVAE(get_config("tiny_4bar"))
    x = eight_windows
    _, reconstruction, _, logits = model.losses_for(tf.constant(x))
    logits = logits.numpy().astype(np.float64)
    hits, velocities, offsets = x[..., :9], x[..., 9:18], x[..., 18:]
    hit_logits = logits[..., :9]
    bce = np.maximum(hit_logits, 0) - hit_logits * hits + np.log1p(np.exp(-np.abs(hit_logits)))
    expected = (bce + (velocities - 1 / (1 + np.exp(-logits[..., 9:18]))) ** 2
                + (offsets - np.tanh(logits[..., 18:])) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(reconstruction, expected, rtol=1e-4)


def test_dropout_only_with_a_training_seed(eight_windows):
    model = MusicVAE(get_config("tiny_4bar"))
    x = tf.constant(eight_windows)
    mu_a, _ = model.encode_params(x)
    mu_b, _ = model.encode_params(x)
    np.testing.assert_array_equal(mu_a, mu_b)
    mu_train, _ = model.encode_params(x, seed=tf.constant([1, 2], tf.int64))
    assert not np.allclose(mu_train, mu_a)


def test_weights_round_trip_and_shape_checks():
    model = MusicVAE(get_config("tiny_4bar"))
    other = MusicVAE(get_config("tiny_4bar"))
    other.load_weights_dict(model.weights_dict())
    for name, value in model.weights_dict().items():
        np.testing.assert_array_equal(other.named[name].numpy(), value)
    weights = model.weights_dict()
    weights["decoder.output.bias"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match=r"decoder\.output\.bias"):
        other.load_weights_dict(weights)
    del weights["decoder.output.bias"]
    with pytest.raises(ValueError, match="missing"):
        other.load_weights_dict(weights)


# --- the per-hit velocity and offset distributions ----------------------------------------------------------------


def test_a_cell_without_a_hit_adds_nothing_to_the_head_loss(eight_windows):
    """Distributions: only cells that hold a hit pay for their velocity and offset; Magenta's heads pay on all."""
    rng = np.random.default_rng(0)
    for name, moved_by_empty_cells in (("tiny_dist_4bar", False), ("tiny_4bar", True)):
        config = get_config(name)
        logits = tf.constant(rng.standard_normal((8, 64, config.output_size)).astype(np.float32))
        x = eight_windows.copy()
        empty = x[..., :9] == 0
        moved = x.copy()
        moved[..., 9:18][empty], moved[..., 18:][empty] = 0.9, -0.7  # velocities and offsets where nothing is hit
        base, other = (reconstruction_terms(tf.constant(t), logits, config).numpy() for t in (x, moved))
        assert not np.allclose(base, other) if moved_by_empty_cells else np.array_equal(base, other), name
        hit_moved = x.copy()
        hit_moved[..., 9:18][~empty] = 1.0 - hit_moved[..., 9:18][~empty]  # the hits' own velocities do count
        assert not np.allclose(reconstruction_terms(tf.constant(hit_moved), logits, config).numpy(), base)


def test_head_loss_is_the_true_bins_cross_entropy():
    """One hit cell, in NumPy: −log softmax(velocity logits)[its bin] − log softmax(offset logits)[its bin]."""
    config = get_config("tiny_dist_4bar")
    bins = config.velocity_bins
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((1, 1, config.output_size)).astype(np.float32)
    x = np.zeros((1, 1, 27), np.float32)
    x[0, 0, 2], x[0, 0, 11], x[0, 0, 20] = 1.0, 0.70, -0.30  # closed hi-hat, velocity 89, played a bit late
    terms = reconstruction_terms(tf.constant(x), tf.constant(logits), config).numpy()[0, 0]

    def log_softmax(v):
        return v - np.log(np.exp(v - v.max()).sum()) - v.max()

    velocity = logits[0, 0, 9:9 + 9 * bins].reshape(9, bins)[2]
    offset = logits[0, 0, 9 + 9 * bins:].reshape(9, bins)[2]
    bce = np.log1p(np.exp(-logits[0, 0, 2]))
    expected = bce - log_softmax(velocity)[int(0.70 * bins)] - log_softmax(offset)[int((-0.30 + 1) / 2 * bins)]
    assert terms[2] == pytest.approx(expected, rel=1e-5)
    others = np.log1p(np.exp(np.delete(logits[0, 0, :9], 2)))  # no hit: BCE of 0 only
    np.testing.assert_allclose(np.delete(terms, 2), others, rtol=1e-5)
    weighted = dataclasses.replace(config, hit_weight=5.0)  # the hits' BCE alone is weighted
    terms = reconstruction_terms(tf.constant(x), tf.constant(logits), weighted).numpy()[0, 0]
    assert terms[2] == pytest.approx(expected + 4 * bce, rel=1e-5)
    np.testing.assert_allclose(np.delete(terms, 2), 5 * others, rtol=1e-5)


def test_head_quantile_draws_from_the_bins_masses():
    """u → value is the inverse CDF of the piecewise-uniform density: u = 0.5 is its median, uniform u reproduce
    each bin's mass, and every value lies in its range."""
    logits = np.log(np.array([[0.1, 0.2, 0.4, 0.3]], np.float32))  # 4 bins of [0, 1]
    assert float(head_quantile(tf.constant(logits), tf.constant([0.5]), 0.0, 1.0)[0]) == pytest.approx(0.625)
    u = np.random.default_rng(2).uniform(size=20000).astype(np.float32)
    values = head_quantile(tf.constant(np.repeat(logits, len(u), 0)), tf.constant(u), 0.0, 1.0).numpy()
    masses = np.histogram(values, bins=4, range=(0, 1))[0] / len(u)
    np.testing.assert_allclose(masses, [0.1, 0.2, 0.4, 0.3], atol=0.015)
    assert np.all(np.diff(values[np.argsort(u)]) >= -1e-6), "monotone in u"
    ends = head_quantile(tf.constant(np.repeat(logits, 2, 0)), tf.constant([0.0, 1.0]), -1.0, 1.0).numpy()
    np.testing.assert_allclose(ends, [-1.0, 1.0], atol=1e-6)


def _peaked_dist_model() -> CompiledModel:
    """tiny_dist_4bar that plays every cell, each velocity and offset peaked at its middle bins."""
    model = MusicVAE(get_config("tiny_dist_4bar"))
    bins = model.config.velocity_bins
    profile = -0.5 * ((np.arange(bins) - bins / 2 + 0.5) / 1.5) ** 2
    model.named["decoder.output.bias"].assign(np.r_[np.full(9, 8.0), np.tile(profile, 18)].astype(np.float32))
    model.named["decoder.output.kernel"].assign(np.zeros_like(model.named["decoder.output.kernel"].numpy()))
    return CompiledModel(model)


def test_distribution_heads_sample_wider_at_a_higher_temperature():
    model = _peaked_dist_model()
    z = np.zeros((4, model.config.z_size), np.float32)
    spreads = []
    for temperature in (0.0, 0.5, 1.0, 2.0):
        decoded = model.decode(z, temperature, seed=3)
        spreads.append((decoded[..., 9:18].std(), decoded[..., 18:].std()))
    spreads = np.array(spreads)
    assert np.all(spreads[0] < 1e-6), "T = 0: every hit gets its median"
    assert np.all(np.diff(spreads, axis=0) > 0), spreads  # velocity and timing spread grow with T
    np.testing.assert_array_equal(model.decode(z, 0.0, seed=1), model.decode(z, 0.0, seed=2))
    np.testing.assert_array_equal(model.decode(z, 1.0, seed=5), model.decode(z, 1.0, seed=5))
    assert not np.array_equal(model.decode(z, 1.0, seed=5), model.decode(z, 1.0, seed=6))


def test_a_magenta_head_checkpoint_warm_starts_a_distribution_preset():
    source = MusicVAE(get_config("tiny_hierdec_4bar"))
    target = MusicVAE(get_config("tiny_dist_4bar"))
    fresh_heads = target.named["decoder.output.kernel"].numpy()[:, 9:]
    warm_start(target, source.weights_dict())
    for name, value in source.weights_dict().items():
        if not name.startswith("decoder.output"):
            np.testing.assert_array_equal(target.named[name].numpy(), value, err_msg=name)
    np.testing.assert_array_equal(target.named["decoder.output.kernel"].numpy()[:, :9],
                                  source.named["decoder.output.kernel"].numpy()[:, :9])
    np.testing.assert_array_equal(target.named["decoder.output.kernel"].numpy()[:, 9:], fresh_heads)
    with pytest.raises(ValueError, match="conductor"):  # a flat model lacks the conductor: refused
        warm_start(target, MusicVAE(get_config("tiny_4bar")).weights_dict())


def test_a_previous_bar_preset_warm_starts_exactly_from_one_without(eight_windows):
    """The new input's kernel rows start at zero: the warm-started model plays exactly as its source, then learns
    to read the bar before."""
    keras.utils.set_random_seed(5)
    source = MusicVAE(get_config("tiny_dist_4bar"))
    target = MusicVAE(get_config("tiny_prevbar_4bar"))
    warm_start(target, source.weights_dict())
    kernel = target.named["decoder.lstm0.kernel"].numpy()
    assert kernel.shape[0] == source.named["decoder.lstm0.kernel"].shape[0] + 27
    np.testing.assert_array_equal(kernel[27:54], 0)
    np.testing.assert_array_equal(target.named["decoder.output.kernel"].numpy(),
                                  source.named["decoder.output.kernel"].numpy())  # same heads: all carried over
    x = tf.constant(eight_windows)
    mu = source.encode_params(x)[0]
    np.testing.assert_allclose(target.decode_teacher_forced(mu, x), source.decode_teacher_forced(mu, x), atol=1e-5)
    z = mu.numpy()
    np.testing.assert_array_equal(CompiledModel(target).decode(z, 1.0, seed=3), CompiledModel(source).decode(z, 1.0,
                                                                                                            seed=3))


def test_a_wider_decoder_warm_starts_exactly_from_a_narrower_one(eight_windows):
    """Each old unit keeps its weights and nothing reads a new unit yet: the widened model plays exactly as its
    source. The new units read the old ones, so the weights that read them get gradients at once."""
    keras.utils.set_random_seed(6)
    source = MusicVAE(get_config("tiny_dist_4bar"))
    target = MusicVAE(get_config("tiny_wide_4bar"))
    warm_start(target, source.weights_dict())
    old, new = 32, 48
    recurrent = target.named["decoder.lstm1.recurrent_kernel"].numpy()
    assert recurrent.shape == (new, 4 * new)
    np.testing.assert_array_equal(recurrent[:old, new:new + old],
                                  source.named["decoder.lstm1.recurrent_kernel"].numpy()[:, old:2 * old])  # gate f
    np.testing.assert_array_equal(recurrent[old:, new:new + old], 0)
    assert np.abs(recurrent[:, new + old:2 * new]).mean() > 0.01  # the new units read the old ones
    np.testing.assert_array_equal(target.named["decoder.output.kernel"].numpy()[old:], 0)
    np.testing.assert_array_equal(target.named["decoder.lstm0.bias"].numpy()[new + old:2 * new], 1)  # forget
    x = tf.constant(eight_windows)
    mu = source.encode_params(x)[0]
    np.testing.assert_allclose(target.decode_teacher_forced(mu, x), source.decode_teacher_forced(mu, x), atol=1e-5)
    z = mu.numpy()
    np.testing.assert_allclose(CompiledModel(target).decode(z, 1.0, seed=3), CompiledModel(source).decode(z, 1.0,
                                                                                                         seed=3),
                               atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(target.losses_for(x)[0])
    grads = tape.gradient(loss, [target.named["decoder.output.kernel"], target.named["decoder.lstm1.kernel"]])
    assert np.abs(grads[0].numpy()[old:]).max() > 0  # the output layer learns to read the new units
    assert np.abs(grads[1].numpy()[old:, :old]).max() > 0  # and so does the layer above
    with pytest.raises(ValueError, match="cannot start"):
        warm_start(source, target.weights_dict())


def test_each_bar_reads_the_same_steps_of_the_bar_before(eight_windows):
    """Changing bar 2 of the targets (but its last step, which bar 3's first step reads as the previous output)
    changes bar 3's teacher-forced logits only in a previous_bar preset; bar 1 and bar 4 never (exactly one bar
    back)."""
    x = eight_windows.copy()
    changed = x.copy()
    changed[:, 16:31, :9] = 1.0 - changed[:, 16:31, :9]
    for name, reads_back in (("tiny_dist_4bar", False), ("tiny_prevbar_4bar", True)):
        keras.utils.set_random_seed(6)
        model = MusicVAE(get_config(name))
        z = tf.zeros([8, model.config.z_size])
        before, after = (model.decode_teacher_forced(z, tf.constant(t)).numpy() for t in (x, changed))
        np.testing.assert_array_equal(before[:, :17], after[:, :17])
        np.testing.assert_array_equal(before[:, 48:], after[:, 48:])
        bar3_moved = np.abs(before[:, 32:48] - after[:, 32:48]).max()
        assert bar3_moved > 1e-3 if reads_back else bar3_moved == 0, (name, bar3_moved)


# bf16 rounds every matmul's inputs to 8 mantissa bits (relative error 2^-9 each). Measured on these windows (AMD
# EPYC with AVX512-BF16): the loss moved by 4e-6 to 7e-6 of itself and the gradient kept a cosine of 0.99999 to
# float32's (0.9999 for the trained hierdec_dist_4bar); where bf16 is emulated it rounds the same way. The
# tolerances are 100× those.
BF16_LOSS_RTOL = 1e-3
BF16_GRADIENT_COSINE = 0.99


@pytest.mark.parametrize("name", ["tiny_hierdec_4bar", "tiny_dist_4bar"])
def test_bf16_training_matches_float32(name, eight_windows):
    keras.utils.set_random_seed(3)
    model = MusicVAE(get_config(name))
    x, seed = tf.constant(eight_windows), tf.constant([0, 1], tf.int64)
    results = {}
    for dtype in (tf.float32, tf.bfloat16):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.losses_for(x, seed, dtype)[0])
        gradient = tape.gradient(loss, model.trainable_variables)
        results[dtype] = float(loss), np.concatenate([g.numpy().ravel() for g in gradient])
    (loss32, grad32), (loss16, grad16) = results[tf.float32], results[tf.bfloat16]
    assert loss16 != loss32, "bf16 really multiplied in bf16"
    assert loss16 == pytest.approx(loss32, rel=BF16_LOSS_RTOL)
    cosine = grad16 @ grad32 / np.linalg.norm(grad16) / np.linalg.norm(grad32)
    assert cosine >= BF16_GRADIENT_COSINE
    # and inference is float32 still, after a bf16 trace
    assert model.losses_for(x)[0].dtype == tf.float32 and model._compute_dtype == tf.float32


def test_a_loaded_checkpoint_encodes_each_seed_once(eight_windows, monkeypatch):
    """Seeds are encoded again on every click; a checkpoint's model keeps their encodings (weights fixed), a
    training run's does not (its weights change)."""
    model = CompiledModel(MusicVAE(get_config("tiny_hierdec_4bar")), cache_encodings=True)
    calls = []
    run = runtime.run_padded
    monkeypatch.setattr(runtime, "run_padded", lambda *args: calls.append(len(args[2][0])) or run(*args))
    first = model.encode(eight_windows[:3])
    again = model.encode(eight_windows[[2, 0, 5]])  # two cached, one new
    assert calls == [3, 1]
    np.testing.assert_array_equal(again[0][:2], first[0][[2, 0]])
    np.testing.assert_allclose(again[0][2], model.encode(eight_windows[5:6])[0][0], atol=1e-6)
    live = CompiledModel(model.vae)
    live.encode(eight_windows[:3])
    live.encode(eight_windows[:3])
    assert calls[-2:] == [3, 3]


def test_a_multitask_preset_warm_starts_exactly_from_a_plain_one(eight_windows):
    """The condition's rows of the encoder's kernels start at zero: a plain groove (identity's condition) encodes
    exactly as in the source model; a transformed input encodes differently once those rows have learnt."""
    from explorer.model.conditions import condition

    keras.utils.set_random_seed(5)
    source = MusicVAE(get_config("tiny_dist_4bar"))
    target = MusicVAE(get_config("tiny_multitask_4bar"))
    warm_start(target, source.weights_dict())
    for direction in ("fw", "bw"):
        kernel = target.named[f"encoder.{direction}.kernel"].numpy()
        assert kernel.shape[0] == 27 + target.config.task_channels
        np.testing.assert_array_equal(kernel[27:], 0)
    mu_source = source.encode_params(eight_windows)[0].numpy()
    np.testing.assert_allclose(CompiledModel(target).encode(eight_windows)[0], mu_source, atol=1e-5)
    with_condition = np.concatenate([eight_windows, np.tile(condition("identity", 64)[None], (8, 1, 1))], -1)
    np.testing.assert_allclose(CompiledModel(target).encode(with_condition)[0], mu_source, atol=1e-5)
    target.named["encoder.fw.kernel"].assign(tf.random.normal(target.named["encoder.fw.kernel"].shape))
    tapped = np.concatenate([eight_windows, np.tile(condition("tapify", 64)[None], (8, 1, 1))], -1)
    assert not np.allclose(target.encode_params(tapped)[0], target.encode_params(with_condition)[0])
