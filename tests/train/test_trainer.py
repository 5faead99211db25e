"""Training really learns, checkpoints atomically, resumes exactly, and runs under tf.distribute."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from explorer.analysis.evaluate import evaluate
from explorer.cli.main import build_parser
from explorer.cli.training import chosen_augmentations
from explorer.errors import TrainingError
from explorer.files import PROJECT_DIR
from explorer.model.checkpoints import read_weights
from explorer.model.runtime import CompiledModel
from explorer.train.export import export_run, read_metrics
from explorer.train.options import TrainOptions
from explorer.train.trainer import Trainer


def _options(**changes) -> TrainOptions:
    defaults = dict(config="tiny_4bar", batch_size=8, log_every=5, checkpoint_every=10, validation_windows=8)
    defaults.update(changes)
    return TrainOptions(**defaults)


@pytest.mark.slow
def test_tiny_model_overfits_eight_real_windows(eight_windows, tmp_path):
    """Learning really happens: eight GMD windows, reconstructed (from mu, T = 0) with hit F1 < 0.5 before
    training, reach F1 ≥ 0.95 after 1,200 steps.

    Float results differ in the last bits between CPUs (AVX2, AVX-512, AMX) and oneDNN's paths, and 1,200 steps
    add them up to different runs. Measured at step 1,200: seed 0 on an AVX2 Xeon 0.996 and on an AMX Xeon 0.986;
    on an AVX512-BF16 EPYC, seeds 0–2 with oneDNN on (float32) and off (bf16 matmuls): 0.968–0.999, velocity MAE
    0.060–0.072 (at step 600 F1 0.92–0.96)."""
    # Some input dropout makes the autoregressive decoder robust to its own slips (measured: keep 0.7 reaches
    # F1 0.99 by step 900, keep 1.0 stalls near 0.95).
    trainer = Trainer(_options(config="small_4bar", steps=1200, dropout_keep=0.7, learning_rate=0.01,
                               checkpoint_every=10**6, log_every=100, validate_every_epochs=10**6), tmp_path,
                      eight_windows, eight_windows)
    before = evaluate(CompiledModel(trainer.model), eight_windows)["hit_f1"]
    trainer.run()
    after = evaluate(CompiledModel(trainer.model), eight_windows)
    assert before < 0.5
    assert after["hit_f1"] >= 0.95, after
    assert after["velocity_mae"] < 0.1


def test_resume_continues_exactly(eight_windows, tmp_path):
    """Ten steps in one go equal five steps, a stop, and five more from the checkpoint."""
    windows = np.concatenate([eight_windows] * 3)  # 3 batches per epoch: the stop falls mid-epoch
    straight = Trainer(_options(steps=10), tmp_path / "straight", windows, eight_windows)
    straight.run()
    first = Trainer(_options(steps=5), tmp_path / "resumed", windows, eight_windows)
    first.run()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(_options(steps=10), tmp_path / "resumed", windows, eight_windows)
    second = Trainer(_options(steps=10), tmp_path / "resumed", windows, eight_windows, resume=True)
    assert second.step == 5
    second.run()
    assert second.step == 10
    for name, value in straight.model.weights_dict().items():
        np.testing.assert_allclose(second.model.weights_dict()[name], value, atol=1e-5, err_msg=name)
    # Validation ran at each epoch end, and the best weights were kept.
    _, validation = read_metrics(tmp_path / "resumed")
    assert [r["step"] for r in validation] == [3, 6, 9]
    assert (tmp_path / "resumed" / "best.npz").exists()


def test_a_run_stopped_at_an_epoch_end_is_validated_there_once(eight_windows, tmp_path):
    windows = np.concatenate([eight_windows] * 3)  # 3 batches per epoch
    Trainer(_options(steps=6), tmp_path, windows, eight_windows).run()
    assert [r["step"] for r in read_metrics(tmp_path)[1]] == [3, 6]
    Trainer(_options(steps=9), tmp_path, windows, eight_windows, resume=True).run()
    assert [r["step"] for r in read_metrics(tmp_path)[1]] == [3, 6, 9]


def test_a_run_stops_on_sigterm_as_on_ctrl_c_and_gives_the_handler_back(eight_windows, tmp_path):
    import signal

    before = signal.getsignal(signal.SIGTERM)
    trainer = Trainer(_options(steps=50), tmp_path, eight_windows, eight_windows)
    step = trainer._train_step

    def terminated_at_step_3(*args):
        if trainer.step == 3:
            signal.raise_signal(signal.SIGTERM)
        return step(*args)

    trainer._train_step = terminated_at_step_3
    assert trainer.run()["stopped_by"] == "interrupted"
    with np.load(tmp_path / "state.npz") as state:
        assert int(state["step"]) == 3  # saved on the way out
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_run_trains_and_logs_in_the_precision_it_was_given(eight_windows, tmp_path, precision):
    trainer = Trainer(_options(steps=5, precision=precision), tmp_path, eight_windows, eight_windows)
    before = trainer.model.weights_dict()
    trainer.run()
    training, _ = read_metrics(tmp_path)
    assert {r["precision"] for r in training} == {precision}
    assert not np.array_equal(trainer.model.weights_dict()["encoder.fw.kernel"], before["encoder.fw.kernel"])
    assert build_parser().parse_args(["train", "--out", "x", "--precision", precision]).precision == precision


def test_free_bits_beta_and_hit_weight_can_be_set_for_a_run(eight_windows, tmp_path):
    args = build_parser().parse_args(["train", "--out", str(tmp_path), "--free-bits", "64", "--beta", "0.1",
                                      "--hit-weight", "5"])
    assert (args.free_bits, args.beta, args.hit_weight) == (64.0, 0.1, 5.0)
    trainer = Trainer(_options(steps=1, free_bits=args.free_bits, beta=args.beta, hit_weight=args.hit_weight),
                      tmp_path / "run", eight_windows, eight_windows)
    assert (trainer.config.free_bits, trainer.config.beta, trainer.config.hit_weight) == (64.0, 0.1, 5.0)
    trainer.run()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert (saved["free_bits"], saved["beta"], saved["hit_weight"]) == (64.0, 0.1, 5.0)
    started_with = r"free_bits 64.0 \(now 48.0\), beta 0.1 \(now 0.2\), hit_weight 5.0 \(now 1.0\)"
    with pytest.raises(ValueError, match=started_with):
        Trainer(_options(steps=2), tmp_path / "run", eight_windows, eight_windows, resume=True)


def test_checkpoint_files_are_complete_and_exportable(eight_windows, tmp_path):
    trainer = Trainer(_options(steps=6), tmp_path / "run", eight_windows, eight_windows)
    trainer.run()
    run = tmp_path / "run"
    assert not list(run.glob(".*.tmp")), "no temporary file is left behind"
    with np.load(run / "state.npz") as state:
        assert int(state["step"]) == 6
        assert any(k.startswith("optimizer/") for k in state.files)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "tiny_4bar" and config["training"]["steps"] == 6
    info = export_run(run, tmp_path / "checkpoints" / "mine", eight_windows)
    assert info.metrics["split"] == "test" and info.metrics["training_steps"] == 6
    assert 0.0 <= info.metrics["hit_f1"] <= 1.0
    assert (tmp_path / "checkpoints" / "mine" / "training_curve.png").stat().st_size > 1000
    assert info.metrics["weights"] == "best.npz"
    latest = export_run(run, tmp_path / "checkpoints" / "latest", eight_windows, weights="latest")
    with np.load(run / "weights.npz") as saved:
        assert latest.metrics["weights"] == "weights.npz"
        np.testing.assert_array_equal(read_weights(latest)["encoder.mu.bias"], saved["encoder.mu.bias"])


def test_a_new_run_can_start_from_a_registry_checkpoint(eight_windows, tmp_path):
    """Training goes on on a new machine from the committed weights (runs/ is not committed)."""
    first = Trainer(_options(steps=3), tmp_path / "first", eight_windows, eight_windows)
    first.run()
    exported = export_run(tmp_path / "first", tmp_path / "checkpoints" / "tiny", eight_windows)
    second = Trainer(_options(steps=3, init_from=str(exported.directory)), tmp_path / "second", eight_windows,
                     eight_windows)
    for name, value in read_weights(exported).items():
        np.testing.assert_array_equal(second.model.weights_dict()[name], value, err_msg=name)
    assert second.step == 0
    with pytest.raises(TrainingError, match=r"'tiny' is a tiny_4bar, whose weights cannot start a small_4bar"):
        Trainer(_options(config="small_4bar", init_from=str(exported.directory)), tmp_path / "third",
                eight_windows, eight_windows)


def test_a_distribution_preset_warm_starts_from_a_magenta_head_checkpoint(eight_windows, tmp_path):
    """Heads aside, the layout is the same: the encoder, conductor and decoder carry over, and the hit columns."""
    first = Trainer(_options(config="tiny_hierdec_4bar", steps=2), tmp_path / "first", eight_windows, eight_windows)
    first.run()
    exported = export_run(tmp_path / "first", tmp_path / "checkpoints" / "hierdec", eight_windows)
    second = Trainer(_options(config="tiny_dist_4bar", steps=2, init_from=str(exported.directory)),
                     tmp_path / "second", eight_windows, eight_windows)
    weights = read_weights(exported)
    np.testing.assert_array_equal(second.model.weights_dict()["conductor.lstm1.kernel"],
                                  weights["conductor.lstm1.kernel"])
    np.testing.assert_array_equal(second.model.weights_dict()["decoder.output.bias"][:9],
                                  weights["decoder.output.bias"][:9])
    second.run()
    assert np.isfinite(read_metrics(tmp_path / "second")[1][-1]["velocity_mae"])


def test_a_multitask_run_starts_from_a_plain_checkpoint_and_learns_every_task_code(eight_windows, tmp_path):
    """The encoder's condition rows start at zero and every task's row moves: each task was drawn and seen."""
    from explorer.model.conditions import TASKS

    first = Trainer(_options(config="tiny_dist_4bar", steps=2), tmp_path / "first", eight_windows, eight_windows)
    first.run()
    exported = export_run(tmp_path / "first", tmp_path / "checkpoints" / "dist", eight_windows)
    windows = np.concatenate([eight_windows] * 4)
    second = Trainer(_options(config="tiny_multitask_4bar", steps=4, batch_size=32, init_from=str(exported.directory)),
                     tmp_path / "second", windows, eight_windows)
    np.testing.assert_array_equal(second.model.weights_dict()["encoder.fw.kernel"][27:], 0)
    second.run()
    task_rows = second.model.weights_dict()["encoder.fw.kernel"][27:27 + len(TASKS)]
    assert (np.abs(task_rows).max(axis=1) > 0).all()
    assert np.isfinite(read_metrics(tmp_path / "second")[1][-1]["hit_f1"])


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path, groove_dir):
    """`--strategy mirrored` splits each batch over two logical CPU devices and trains."""
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from explorer.datasets.gmd import load_windows
        from explorer.train.trainer import Trainer
        from explorer.train.options import TrainOptions
        windows = load_windows("test").tensors[:64]
        options = TrainOptions(config="tiny_4bar", steps=8, batch_size=16, strategy="mirrored", log_every=4,
                               validation_windows=16)
        trainer = Trainer(options, {str(tmp_path)!r}, windows, windows[:16])
        print("replicas", trainer.strategy.num_replicas_in_sync)
        print("result", trainer.run())
    """)
    env = dict(os.environ, GROOVE_DIR=str(groove_dir), PYTHONPATH=str(PROJECT_DIR))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout
    training, _ = read_metrics(tmp_path)
    assert [r["step"] for r in training] == [4, 8]
    assert all(np.isfinite(r["loss"]) for r in training)
    assert training[-1]["loss"] < training[0]["loss"] * 1.5


@pytest.mark.parametrize("flags, named", [(["--augment"], ["timekeepers", "toms"]),
                                          (["--augment", "cymbals", "dynamics"], ["cymbals", "dynamics"])])
def test_augmented_training_sees_changed_grooves_and_says_so(eight_windows, tmp_path, flags, named):
    """--augment reaches the training step: the same run with and without it ends with different weights, and
    its config.json records which augmentations it used."""
    args = build_parser().parse_args(["train", "--out", str(tmp_path), *flags])
    augmentations = chosen_augmentations(args.augment)
    assert list(augmentations) == named and chosen_augmentations(None) == ()
    plain = Trainer(_options(steps=3), tmp_path / "plain", eight_windows, eight_windows)
    plain.run()
    augmented = Trainer(_options(steps=3, augment=augmentations), tmp_path / "augmented", eight_windows,
                        eight_windows)
    augmented.run()
    assert json.loads((tmp_path / "augmented" / "config.json").read_text())["training"]["augment"] == named
    changed = [name for name, value in plain.model.weights_dict().items()
               if not np.allclose(augmented.model.weights_dict()[name], value)]
    assert "decoder.output.kernel" in changed


@pytest.mark.parametrize("changes, named", [(dict(batch_size=4), "batch_size 8 (now 4)"),
                                            (dict(augment=()), "augment ['toms'] (now [])"),
                                            (dict(seed=1), "seed 0 (now 1)")])
def test_resume_refuses_a_run_configured_otherwise(eight_windows, tmp_path, changes, named):
    """A resumed run must see what it started seeing: the error names the flag that differs."""
    Trainer(_options(steps=2, augment=("toms",)), tmp_path, eight_windows, eight_windows).run()
    with pytest.raises(ValueError, match=re.escape(named)):
        Trainer(_options(steps=4, **{"augment": ("toms",), **changes}), tmp_path, eight_windows, eight_windows,
                resume=True)
    resumed = Trainer(_options(steps=4, augment=("toms",)), tmp_path, eight_windows, eight_windows, resume=True)
    assert resumed.step == 2


def test_fewer_windows_than_a_batch_is_refused_in_words_not_a_run_that_never_steps(eight_windows, tmp_path):
    with pytest.raises(TrainingError, match=r"8 training windows, fewer than one batch \(32\): pass --batch-size 8"):
        Trainer(_options(batch_size=32), tmp_path, eight_windows, eight_windows)


def test_a_run_begun_before_an_option_existed_resumes_with_that_options_default(eight_windows, tmp_path):
    """config.json of an older run lacks the options added since (e.g. the folder options): they had their defaults."""
    Trainer(_options(steps=2), tmp_path, eight_windows, eight_windows).run()
    record = json.loads((tmp_path / "config.json").read_text())
    for added in ("midi_dir", "validation_dir", "validation_fraction", "drum_map"):
        del record["training"][added]
    (tmp_path / "config.json").write_text(json.dumps(record))
    assert Trainer(_options(steps=4), tmp_path, eight_windows, eight_windows, resume=True).step == 2
    with pytest.raises(ValueError, match=re.escape("validation_fraction 0.2 (now 0.5)")):
        Trainer(_options(steps=4, validation_fraction=0.5), tmp_path, eight_windows, eight_windows, resume=True)


def test_windows_per_performance_caps_each_performance_in_every_epoch_and_in_validation(eight_windows, tmp_path):
    """A long performance gives most windows: capped, each epoch draws at most N of each (a new draw each epoch,
    the same on resume), and validation holds at most N of each."""
    windows = np.concatenate([eight_windows] * 3)
    windows[:, 0, -1] = np.arange(24) / 100  # each window marked by its index (the last offset of its first step)
    performances = np.array(["long"] * 20 + ["a", "b", "c", "d"])

    def capped_trainer(directory):
        return Trainer(_options(steps=1, batch_size=4, windows_per_performance=2), tmp_path / directory, windows,
                       windows, train_performances=performances, validation_performances=performances)

    trainer = capped_trainer("run")
    assert trainer.epoch_size == 6 and trainer.batches_per_epoch == 1
    drawn = [np.rint(trainer._epoch_windows(epoch)[:, 0, -1] * 100).astype(int) for epoch in range(4)]
    for indices in drawn:
        assert len(set(indices)) == 6 and (indices < 20).sum() == 2 and set(indices[indices >= 20]) == {20, 21, 22, 23}
    assert len({tuple(sorted(d[d < 20])) for d in drawn}) > 1  # each epoch draws the long performance anew
    validation = np.rint(trainer.validation_tensors[:, 0, -1] * 100).astype(int)
    assert len(validation) == 6 and (validation < 20).sum() == 2
    again = capped_trainer("again")
    assert all(np.array_equal(np.rint(again._epoch_windows(e)[:, 0, -1] * 100), d) for e, d in enumerate(drawn))
    with pytest.raises(TrainingError, match="needs each window's performance"):
        Trainer(_options(windows_per_performance=2), tmp_path / "unlabelled", windows, windows)
