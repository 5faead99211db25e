"""The MusicVAE graph: Magenta's sizes, the Keras LSTM layout, the loss, and sampler ≡ training decoder."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from explorer.model import PRESETS, XLA_BATCH_SIZES, CompiledModel, MusicVAE, get_config, lstm_sequence

TINY = ["tiny_4bar", "tiny_hierdec_4bar"]


@pytest.fixture(scope="module", params=TINY)
def tiny(request) -> MusicVAE:
    keras.utils.set_random_seed(7)
    return MusicVAE(get_config(request.param))


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


def test_shapes(tiny, eight_windows):
    compiled = CompiledModel(tiny)
    mu, sigma = compiled.encode(eight_windows)
    assert mu.shape == sigma.shape == (8, tiny.config.z_size)
    assert (sigma > 0).all()
    logits = tiny.decode_teacher_forced(tf.constant(mu), tf.constant(eight_windows))
    assert logits.shape == (8, 64, 27)
    decoded = compiled.decode(mu, temperature=0.5, seed=1)
    assert decoded.shape == (8, 64, 27)
    assert set(np.unique(decoded[..., :9])) <= {0.0, 1.0}
    assert (np.abs(decoded[..., 18:]) <= 1).all() and ((decoded[..., 9:18] >= 0) & (decoded[..., 9:18] <= 1)).all()


def test_sampler_is_the_training_decoder(tiny):
    """Feeding the sampler's own T=0 output back as teacher-forced targets reproduces it: both paths are one net."""
    compiled = CompiledModel(tiny)
    z = np.random.default_rng(3).standard_normal((4, tiny.config.z_size)).astype(np.float32) * 2
    decoded = compiled.decode(z, temperature=0.0)
    logits = tiny.decode_teacher_forced(tf.constant(z), tf.constant(decoded)).numpy()
    np.testing.assert_array_equal(decoded[..., :9], (logits[..., :9] > 0).astype(np.float32))
    np.testing.assert_allclose(decoded[..., 9:18], tf.sigmoid(logits[..., 9:18]), atol=1e-5)
    np.testing.assert_allclose(decoded[..., 18:], np.tanh(logits[..., 18:]), atol=1e-5)


def test_sampling_is_deterministic_per_seed(tiny):
    compiled = CompiledModel(tiny)
    z = np.random.default_rng(4).standard_normal((3, tiny.config.z_size)).astype(np.float32)
    first, again, other = (compiled.decode(z, 1.0, seed) for seed in (11, 11, 12))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[..., :9], other[..., :9])
    # any integer is a seed (NumPy's generators take only non-negative ones)
    assert compiled.decode(z, 1.0, -12).shape == first.shape
    # T = 0 ignores the seed.
    np.testing.assert_array_equal(compiled.decode(z, 0.0, 1), compiled.decode(z, 0.0, 2))


def test_a_groove_comes_out_the_same_in_any_batch(tiny, test_windows):
    """Small batches run as XLA programs padded to a fixed size, large ones as plain graphs: a groove's encoding
    and its sample for a seed must not depend on which path ran it or on the batch around it."""
    assert len(test_windows) > XLA_BATCH_SIZES[-1]
    compiled = CompiledModel(tiny)
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
