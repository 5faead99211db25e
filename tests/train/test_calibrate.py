"""Calibration after training: the bin biases' fit, which weights it touches, and a calibrated checkpoint's files."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from explorer.errors import CheckpointError
from explorer.model import checkpoints
from explorer.model.config import get_config
from explorer.model.runtime import CompiledModel
from explorer.model.vae import MusicVAE, split_outputs
from explorer.notes.drums import NUM_CLASSES
from explorer.tools import generate
from explorer.train.calibrate import calibrate, calibrate_checkpoint, fit_bin_biases, with_head_offsets


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_fitted_biases_make_predicted_bin_counts_the_true_ones():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (3_000, 8)).astype(np.float32)
    bins = np.minimum(rng.poisson(2.0, 3_000), 6)  # bin 7 never occurs
    before = softmax(logits).sum(axis=0)
    offsets = fit_bin_biases(logits, bins)
    after = softmax(logits + offsets).sum(axis=0)
    counts = np.bincount(bins, minlength=8)
    assert np.abs(before[:7] / counts[:7] - 1).max() > 0.5
    np.testing.assert_allclose(after[:7], counts[:7], rtol=2e-3)
    assert np.isfinite(offsets).all() and after[7] < 2  # the empty bin: counted as one hit, not −∞
    likelihood = [np.log(softmax(logits + o)[np.arange(len(bins)), bins]).mean() for o in (0, offsets)]
    assert likelihood[1] > likelihood[0]


@pytest.fixture(scope="module")
def tiny_dist():
    tf.random.set_seed(0)
    return CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))


def expected_velocities(model, z, x):
    """Teacher-forced mean velocity (MIDI) of each drum's head at the true hits, and the true bins' mean."""
    _, velocity_logits, _ = split_outputs(model.vae.decode_teacher_forced(tf.constant(z), tf.constant(x)),
                                          model.config)
    bins = model.config.velocity_bins
    centres = (np.arange(bins) + 0.5) / bins
    means = softmax(velocity_logits.numpy()) @ centres
    hits = x[..., :NUM_CLASSES] > 0.5
    true = np.floor(np.clip(x[..., NUM_CLASSES:2 * NUM_CLASSES], 0, 1 - 1e-6) * bins) + 0.5
    return means[hits].mean() * 127, true[hits].mean() / bins * 127


def test_calibrated_heads_play_the_training_hits_as_loud_as_they_were(tiny_dist, test_windows):
    x = test_windows.tensors[:96].astype(np.float32)
    weights, prior, summary = calibrate(tiny_dist, x, components=2)
    calibrated = MusicVAE(tiny_dist.config)
    calibrated.load_weights_dict(weights)
    mu, _ = tiny_dist.encode(x)
    predicted, true = expected_velocities(tiny_dist, mu, x)
    assert abs(predicted - true) > 3  # an untrained head: uniform bins, mean 63.5
    # z here is mu, not the draws the fit used: within a MIDI velocity, not exactly
    predicted, true = expected_velocities(CompiledModel(calibrated), mu, x)
    assert abs(predicted - true) < 1.0
    assert prior.components == 2 and prior.z_size == tiny_dist.config.z_size
    assert summary["windows"] == 96 and summary["prior_draws_per_window"] == 3


def test_only_the_heads_biases_change(tiny_dist, eight_windows):
    offsets = {"velocity": np.ones((NUM_CLASSES, 8), np.float32), "offset": -np.ones((NUM_CLASSES, 8), np.float32)}
    before = tiny_dist.vae.weights_dict()
    after = with_head_offsets(before, tiny_dist.config, offsets)
    assert [name for name in before if not np.array_equal(before[name], after[name])] == ["decoder.output.bias"]
    bias = after["decoder.output.bias"] - before["decoder.output.bias"]
    np.testing.assert_array_equal(bias[:NUM_CLASSES], 0)  # the hits' logits
    np.testing.assert_array_equal(bias[NUM_CLASSES:NUM_CLASSES * 9], 1)
    np.testing.assert_array_equal(bias[NUM_CLASSES * 9:], -1)
    moved = MusicVAE(tiny_dist.config)
    moved.load_weights_dict(after)
    z = tiny_dist.encode(eight_windows)[0]
    logits = [split_outputs(vae.decode_teacher_forced(tf.constant(z), tf.constant(eight_windows)), moved.config)
              for vae in (tiny_dist.vae, moved)]
    np.testing.assert_array_equal(logits[0][0].numpy(), logits[1][0].numpy())
    np.testing.assert_allclose(logits[1][1].numpy() - logits[0][1].numpy(), 1, atol=1e-5)


def test_magenta_heads_are_not_calibrated(eight_windows):
    magenta_like = CompiledModel(MusicVAE(get_config("tiny_hierdec_4bar")))
    with pytest.raises(CheckpointError, match="Magenta's heads"):
        calibrate(magenta_like, eight_windows)


def test_a_calibrated_checkpoint_samples_from_its_prior(tmp_path, test_windows, tiny_dist):
    checkpoints.save_checkpoint(tiny_dist.vae.weights_dict(), tiny_dist.config.to_dict(), tmp_path / "dist",
                                source="test", metrics={"hit_f1": 0.1})
    before = checkpoints.load_model(tmp_path / "dist")
    assert before.prior is None and before.info.sampling_prior == "N(0, I)"
    info = calibrate_checkpoint(tmp_path / "dist", test_windows.tensors[:64], test_windows.tensors[64:96],
                                components=3)
    assert info.sampling_prior == "fitted" and info.prior["components"] == 3
    assert info.prior["calibration"]["windows"] == 64 and info.metrics["windows"] == 32
    model = checkpoints.load_model(tmp_path / "dist")
    assert model is not before and model.prior.components == 3
    np.testing.assert_array_equal(generate.prior_z(model, 4, seed=5), model.prior.sample(4, seed=5))
    assert not np.allclose(generate.prior_z(model, 4, seed=5), generate.prior_z(before, 4, seed=5))
    variations = generate.variations(model, test_windows.grooves([0])[0], 2, amount=1.0, seed=5)
    np.testing.assert_array_equal(variations[0].tensor(), model.decode(model.prior.sample(2, 5), 0.0, 5)[0])


def test_a_tampered_or_missing_prior_is_refused(tmp_path, tiny_dist, test_windows):
    checkpoints.save_checkpoint(tiny_dist.vae.weights_dict(), tiny_dist.config.to_dict(), tmp_path / "dist",
                                source="test")
    calibrate_checkpoint(tmp_path / "dist", test_windows.tensors[:32], test_windows.tensors[:8], components=2)
    prior_file = tmp_path / "dist" / "prior.npz"
    prior_file.write_bytes(prior_file.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"prior\.npz does not match its sha256"):
        checkpoints.load_model(tmp_path / "dist")
    prior_file.unlink()
    with pytest.raises(CheckpointError, match=r"has no prior\.npz"):
        checkpoints.load_model(tmp_path / "dist")


def test_the_cli_calibrates_a_copy_and_leaves_the_original(tmp_path, tiny_dist, groove_dir, capsys):
    from explorer.cli.main import main

    checkpoints.save_checkpoint(tiny_dist.vae.weights_dict(), tiny_dist.config.to_dict(), tmp_path / "dist",
                                source="test")
    assert main(["calibrate", "--checkpoint", str(tmp_path / "dist"), "--out", str(tmp_path / "calibrated"),
                 "--limit", "48", "--components", "2"]) == 0
    printed = capsys.readouterr()
    assert "heads calibrated on 48 training windows, a 2-component prior on 3 codes per window" in printed.out
    assert "fitting a 2-component prior to 144 codes…" in printed.err
    assert "scoring the calibrated heads on 1,972 test windows…" in printed.err
    assert checkpoints.read_info(tmp_path / "dist").sampling_prior == "N(0, I)"
    calibrated = checkpoints.read_info(tmp_path / "calibrated")
    assert calibrated.sampling_prior == "fitted" and calibrated.metrics["windows"] > 1_000  # the whole test split
    assert calibrated.sha256 != checkpoints.read_info(tmp_path / "dist").sha256
    magenta_like = MusicVAE(get_config("tiny_hierdec_4bar"))
    checkpoints.save_checkpoint(magenta_like.weights_dict(), magenta_like.config.to_dict(), tmp_path / "magenta",
                                source="test")
    assert main(["calibrate", "--checkpoint", str(tmp_path / "magenta"), "--limit", "8"]) == 2
    assert "has Magenta's heads" in capsys.readouterr().err
    assert main(["calibrate", "--checkpoint", str(tmp_path / "dist"), "--limit", "8", "--components", "16"]) == 2
    assert "fitting 16 components needs at least 32 codes; got 24" in capsys.readouterr().err  # 3 draws of 8
    assert checkpoints.read_info(tmp_path / "dist").sampling_prior == "N(0, I)"  # nothing written


def test_posterior_draws_sample_each_window_s_posterior():
    from explorer.train.calibrate import posterior_draws

    mu = np.array([[0.0, 10.0], [5.0, -5.0]], np.float32)
    sigma = np.array([[1.0, 0.1], [0.5, 2.0]], np.float32)
    mus, sigmas = np.repeat(mu, 4000, axis=0), np.repeat(sigma, 4000, axis=0)
    codes = posterior_draws(mus, sigmas, draws=3)
    assert codes.shape == (24_000, 2)
    windows = codes.reshape(3, 2, 4000, 2)
    np.testing.assert_allclose(windows.mean(axis=(0, 2)), mu, atol=0.05)
    np.testing.assert_allclose(windows.std(axis=(0, 2)), sigma, rtol=0.03)
    np.testing.assert_array_equal(codes, posterior_draws(mus, sigmas, 3))
