"""The Magenta importer, proven on two independent paths:
1. a real checkpoint written by magenta 2.1.4 reproduces the outputs magenta itself computed from it;
2. a TF1 checkpoint of random values, written here, matches a NumPy `LSTMBlockCell` written from the formula.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from explorer.cli.main import main
from explorer.errors import CheckpointError
from explorer.files import PROJECT_DIR
from explorer.model import checkpoints
from explorer.model.config import get_config
from explorer.model.magenta_import import (
    MAGENTA_CONFIGS,
    checkpoint_prefix,
    convert_variables,
    import_magenta,
    import_magenta_with_step,
    magenta_shapes,
)
from explorer.model.runtime import CompiledModel
from explorer.notes.groove import Groove
from explorer.notes.midi_write import groove_to_midi

MAGENTA_DIR = Path(os.environ.get("MAGENTA_REFERENCE", PROJECT_DIR.parent / "shared" / "magenta"))
REAL_PREFIX = MAGENTA_DIR / "groovae_4bar" / "model.ckpt-306"
MAGENTA_TICK = 60.0 / 120.0 / 220  # magenta writes MIDI at 120 qpm, 220 ticks per quarter

TINY = get_config("tiny_4bar")  # e 32, z 16, d 32
E, Z, D = TINY.encoder_units, TINY.z_size, TINY.decoder_units


# --- 1. the real magenta checkpoint ---------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    if not (REAL_PREFIX.with_name(REAL_PREFIX.name + ".index")).exists():
        pytest.skip(f"magenta's reference checkpoint is missing: expected {REAL_PREFIX}.index "
                    "(set MAGENTA_REFERENCE to the folder holding groovae_4bar/ and reference/)")
    with np.load(MAGENTA_DIR / "reference" / "reference.npz") as archive:
        return {name: archive[name] for name in archive.files}


@pytest.fixture(scope="module")
def imported(reference) -> CompiledModel:
    model, step = import_magenta_with_step(REAL_PREFIX, "groovae_4bar")
    assert step == 306
    return CompiledModel(model)


def test_real_checkpoint_reproduces_magentas_mu_and_sigma(imported, reference):
    mu, sigma = imported.encode(reference["inputs"])
    np.testing.assert_allclose(mu, reference["mu"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(sigma, reference["sigma"], rtol=0, atol=1e-5)


def test_real_checkpoint_reproduces_magentas_decoded_outputs(imported, reference):
    decoded = imported.decode(reference["mu"], temperature=0.0)
    expected = reference["decoded"]
    assert expected[..., :9].sum() > 100  # the reference holds real grooves, not silence
    np.testing.assert_array_equal(decoded[..., :9], expected[..., :9])
    np.testing.assert_allclose(decoded[..., 9:], expected[..., 9:], rtol=0, atol=1e-5)


def _notes(midi: pretty_midi.PrettyMIDI) -> list[tuple[int, int, float]]:
    return sorted((n.pitch, n.velocity, n.start) for instrument in midi.instruments for n in instrument.notes)


def test_reconstructions_write_magentas_midi(imported, reference):
    """Encode → decode (T = 0) → MIDI gives magenta's output/*.mid: same notes, onsets within one of its ticks."""
    mu, _ = imported.encode(reference["inputs"])
    decoded = imported.decode(mu, temperature=0.0)
    for index, tensor in enumerate(decoded):
        ours = _notes(pretty_midi.PrettyMIDI(io.BytesIO(groove_to_midi(Groove.from_tensor(tensor, bpm=120.0)))))
        theirs = _notes(pretty_midi.PrettyMIDI(str(MAGENTA_DIR / "reference" / "output" / f"{index:03d}.mid")))
        assert [note[:2] for note in ours] == [note[:2] for note in theirs], f"output/{index:03d}.mid"
        assert max(abs(a[2] - b[2]) for a, b in zip(ours, theirs, strict=True)) <= MAGENTA_TICK


def test_import_magenta_cli_registers_a_checkpoint_the_app_loads(reference, tmp_path, capsys):
    out = tmp_path / "magenta_groovae_4bar"
    assert main(["import-magenta", str(REAL_PREFIX), "--config", "groovae_4bar", "--out", str(out)]) == 0
    manifest = json.loads((out / checkpoints.MANIFEST_FILE).read_text())
    assert manifest["config"]["name"] == "groovae_4bar" and "step 306" in manifest["source"]
    loaded = checkpoints.load_model(out)
    mu, _ = loaded.encode(reference["inputs"][:4])
    np.testing.assert_allclose(mu, reference["mu"][:4], rtol=0, atol=1e-5)
    assert str(out) in capsys.readouterr().out
    # a second import into the same folder must not silently replace it
    assert main(["import-magenta", str(REAL_PREFIX), "--out", str(out)]) == 2
    assert "already holds a checkpoint" in capsys.readouterr().err
    # a folder that cannot be made (a file stands in the way) is said in one line
    (tmp_path / "a file").write_text("")
    assert main(["import-magenta", str(REAL_PREFIX), "--out", str(tmp_path / "a file" / "checkpoint")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_two_bar_presets_share_groovae_4bar_layout_and_decode_two_bars(imported, reference):
    """Magenta's 2-bar variants have groovae_4bar's variables; only the length differs, and the flat decoder's
    first 2 bars do not depend on the bars after them."""
    for name in MAGENTA_CONFIGS:
        assert magenta_shapes(get_config(name)) == magenta_shapes(get_config("groovae_4bar"))
    two_bar = CompiledModel(import_magenta(REAL_PREFIX, "groovae_2bar_humanize"))
    assert two_bar.config.steps == 32
    mu, _ = two_bar.encode(reference["inputs"][:3, :32])
    np.testing.assert_allclose(two_bar.decode(mu), imported.decode(mu)[:, :32], rtol=0, atol=1e-6)


# --- 2. a TF1 checkpoint of random values, written here -------------------------------------------

# Magenta's variable names for a flat GrooVAE, written out from the issue, with tiny_4bar's sizes.
ENCODER_CELL = "encoder/cell_0/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell"
DECODER_CELL = "decoder/multi_rnn_cell/cell_{}/lstm_cell"
TINY_VARIABLES = {
    **{f"{ENCODER_CELL.format(d)}/kernel": (27 + E, 4 * E) for d in ("fw", "bw")},
    **{f"{ENCODER_CELL.format(d)}/bias": (4 * E,) for d in ("fw", "bw")},
    "encoder/mu/kernel": (2 * E, Z), "encoder/mu/bias": (Z,),
    "encoder/sigma/kernel": (2 * E, Z), "encoder/sigma/bias": (Z,),
    "decoder/z_to_initial_state/kernel": (Z, 4 * D), "decoder/z_to_initial_state/bias": (4 * D,),
    f"{DECODER_CELL.format(0)}/kernel": (27 + Z + D, 4 * D), f"{DECODER_CELL.format(0)}/bias": (4 * D,),
    f"{DECODER_CELL.format(1)}/kernel": (D + D, 4 * D), f"{DECODER_CELL.format(1)}/bias": (4 * D,),
    "decoder/output_projection/kernel": (D, 27), "decoder/output_projection/bias": (27,),
}


def random_values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * 0.4).astype(np.float32) for name, shape in TINY_VARIABLES.items()}


def write_tf1_checkpoint(directory: Path, values: dict[str, np.ndarray], steps=(42,)) -> Path:
    """Magenta's on-disk format: TF1 variables saved by `tf.compat.v1.train.Saver`, with Adam slots,
    beta powers and global_step alongside. Returns the prefix of the last step."""
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        for name, value in values.items():
            v1.Variable(value, name=name)
            v1.Variable(np.full_like(value, 0.01), name=f"{name}/Adam")
            v1.Variable(np.full_like(value, 0.02), name=f"{name}/Adam_1")
        v1.Variable(0.9, name="beta1_power")
        v1.Variable(0.999, name="beta2_power")
        global_step = v1.Variable(0, dtype=tf.int64, name="global_step")
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            for step in steps:
                session.run(global_step.assign(step))
                prefix = saver.save(session, str(directory / "model.ckpt"), global_step=step)
    return Path(prefix)


@pytest.fixture(scope="module")
def tf1_values() -> dict[str, np.ndarray]:
    return random_values()


@pytest.fixture(scope="module")
def tf1_prefix(tmp_path_factory, tf1_values) -> Path:
    return write_tf1_checkpoint(tmp_path_factory.mktemp("tf1"), tf1_values)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def block_lstm_step(x, h, c, kernel, bias):
    """LSTMBlockCell from its formula: [i, j, f, o] = [x, h]·W + b;
    c' = σ(f + 1)·c + σ(i)·tanh(j); h' = σ(o)·tanh(c')."""
    i, j, f, o = np.split(np.concatenate([x, h], axis=1) @ kernel + bias, 4, axis=1)
    c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
    return sigmoid(o) * np.tanh(c), c


def numpy_encode(w: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finals = []
    for direction, order in (("fw", range(x.shape[1])), ("bw", reversed(range(x.shape[1])))):
        cell = ENCODER_CELL.format(direction)
        h = c = np.zeros((x.shape[0], E))
        for t in order:
            h, c = block_lstm_step(x[:, t], h, c, w[f"{cell}/kernel"], w[f"{cell}/bias"])
        finals.append(h)
    encoded = np.concatenate(finals, axis=1)
    mu = encoded @ w["encoder/mu/kernel"] + w["encoder/mu/bias"]
    sigma = np.log1p(np.exp(encoded @ w["encoder/sigma/kernel"] + w["encoder/sigma/bias"]))
    return mu, sigma


def numpy_decode(w: dict[str, np.ndarray], z: np.ndarray, steps: int = 64) -> np.ndarray:
    """Magenta's GrooVAE sampler at T = 0: hits where sigmoid(logit) > 0.5, each output fed back with z."""
    c0, h0, c1, h1 = np.split(np.tanh(z @ w["decoder/z_to_initial_state/kernel"]
                                      + w["decoder/z_to_initial_state/bias"]), 4, axis=1)
    states = [(h0, c0), (h1, c1)]
    previous = np.zeros((z.shape[0], 27))
    outputs = []
    for _ in range(steps):
        layer_input = np.concatenate([previous, z], axis=1)
        for layer, (h, c) in enumerate(states):
            cell = DECODER_CELL.format(layer)
            states[layer] = block_lstm_step(layer_input, h, c, w[f"{cell}/kernel"], w[f"{cell}/bias"])
            layer_input = states[layer][0]
        logits = layer_input @ w["decoder/output_projection/kernel"] + w["decoder/output_projection/bias"]
        previous = np.concatenate([(logits[:, :9] > 0).astype(float), sigmoid(logits[:, 9:18]),
                                   np.tanh(logits[:, 18:])], axis=1)
        outputs.append(previous)
    return np.stack(outputs, axis=1)


def groove_like_inputs(seed: int = 1, batch: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hits = (rng.random((batch, 64, 9)) < 0.25).astype(np.float32)
    return np.concatenate([hits, hits * rng.random(hits.shape), hits * rng.uniform(-1, 1, hits.shape)],
                          axis=-1).astype(np.float32)


def test_random_tf1_checkpoint_matches_the_lstm_block_cell_formula(tf1_prefix, tf1_values):
    model, step = import_magenta_with_step(tf1_prefix, TINY)
    assert step == 42
    compiled = CompiledModel(model)
    x = groove_like_inputs()
    mu, sigma = compiled.encode(x)
    mu_ref, sigma_ref = numpy_encode(tf1_values, x.astype(np.float64))
    np.testing.assert_allclose(mu, mu_ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(sigma, sigma_ref, rtol=0, atol=1e-5)
    z = np.random.default_rng(2).standard_normal((5, Z)).astype(np.float32)
    decoded, expected = compiled.decode(z, temperature=0.0), numpy_decode(tf1_values, z.astype(np.float64))
    assert 0 < expected[..., :9].mean() < 1  # both hits and rests, so thresholding is really tested
    np.testing.assert_array_equal(decoded[..., :9], expected[..., :9])
    np.testing.assert_allclose(decoded[..., 9:], expected[..., 9:], rtol=0, atol=5e-5)  # float32 vs float64, 64 steps


def test_bundle_directory_prefix_and_index_file_import_the_same(tf1_prefix, tmp_path):
    bundle = tmp_path / "groovae_tiny.tar"
    with tarfile.open(bundle, "w") as tar:  # like magenta's bundles: the checkpoint files in a folder
        for file in tf1_prefix.parent.glob(f"{tf1_prefix.name}.*"):
            tar.add(file, arcname=f"groovae_tiny/{file.name}")
    expected = import_magenta(tf1_prefix, TINY).weights_dict()
    for path in (bundle, tf1_prefix.parent, tf1_prefix.with_name(tf1_prefix.name + ".index")):
        weights = import_magenta(path, TINY).weights_dict()
        assert all(np.array_equal(weights[name], expected[name]) for name in expected), path


def test_a_directory_with_several_checkpoints_imports_the_newest(tmp_path):
    write_tf1_checkpoint(tmp_path, random_values(), steps=(7, 42, 100))
    assert checkpoint_prefix(tmp_path, tmp_path).name == "model.ckpt-100"
    assert import_magenta_with_step(tmp_path, TINY)[1] == 100


def test_the_gate_order_and_forget_bias_land_where_keras_wants_them():
    values = random_values()
    cell = ENCODER_CELL.format("fw")
    weights = convert_variables(values, TINY)
    i, j, f, o = np.split(values[f"{cell}/bias"], 4)
    np.testing.assert_array_equal(weights["encoder.fw.bias"], np.concatenate([i, f + 1.0, j, o]))
    kernel_i, kernel_j, kernel_f, kernel_o = np.split(values[f"{cell}/kernel"], 4, axis=1)
    keras_order = np.concatenate([kernel_i, kernel_f, kernel_j, kernel_o], axis=1)
    np.testing.assert_array_equal(weights["encoder.fw.kernel"], keras_order[:27])
    np.testing.assert_array_equal(weights["encoder.fw.recurrent_kernel"], keras_order[27:])
    np.testing.assert_array_equal(weights["decoder.initial_state.kernel"],
                                  values["decoder/z_to_initial_state/kernel"])


# --- what must fail loudly ------------------------------------------------------------------------


def test_training_state_is_skipped_but_any_other_extra_or_missing_variable_fails():
    values = random_values()
    with_state = {**values, "global_step": np.array(3), "beta1_power": np.array(0.9), "beta2_power": np.array(0.9),
                  "encoder/mu/kernel/Adam": values["encoder/mu/kernel"],
                  "encoder/mu/kernel/Adam_1": values["encoder/mu/kernel"]}
    assert set(convert_variables(with_state, TINY)) == set(convert_variables(values, TINY))
    with pytest.raises(CheckpointError, match="unknown decoder/extra/kernel"):
        convert_variables({**values, "decoder/extra/kernel": np.zeros((2, 2))}, TINY)
    missing = dict(values)
    del missing["decoder/output_projection/bias"]
    with pytest.raises(CheckpointError, match="missing decoder/output_projection/bias"):
        convert_variables(missing, TINY)


def test_a_model_of_another_shape_is_refused(tf1_prefix):
    melody_like = random_values()  # a melody model's encoder reads 90-wide one-hots, not 27 groove features
    melody_like[f"{ENCODER_CELL.format('fw')}/kernel"] = np.zeros((90 + E, 4 * E), np.float32)
    with pytest.raises(CheckpointError, match=r"has shape \[122, 128\] where 'tiny_4bar' needs \[59, 128\]"):
        convert_variables(melody_like, TINY)
    with pytest.raises(CheckpointError, match="does not fit 'groovae_4bar'"):  # right kind, wrong size
        import_magenta(tf1_prefix, "groovae_4bar")
    with pytest.raises(CheckpointError, match="hierarchical"):
        convert_variables(random_values(), get_config("tiny_hierdec_4bar"))
    with pytest.raises(CheckpointError, match="not a Magenta GrooVAE config"):
        import_magenta(tf1_prefix, "tiny_4bar")


def _plain_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nothing-here.tar", "does not exist"),
    (lambda d: (d / "notes.txt").write_text("a drum groove") and d / "notes.txt", "not a Magenta checkpoint"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "holds no checkpoint"),
    (lambda d: _plain_tar(d / "readme.tar", {"README": b"hello"}), "holds no checkpoint"),
    (lambda d: (d / "model.ckpt-1.index").write_bytes(b"garbage") and d / "model.ckpt-1", "cannot be read"),
])
def test_what_is_not_a_checkpoint_gets_a_clear_error(tmp_path, make, message):
    with pytest.raises(CheckpointError, match=message):
        import_magenta(make(tmp_path), TINY)


def test_an_index_without_its_data_file_gets_a_clear_error(tf1_prefix, tmp_path):
    shutil.copy(tf1_prefix.with_name(tf1_prefix.name + ".index"), tmp_path / "model.ckpt-42.index")
    with pytest.raises(CheckpointError, match="incomplete or damaged"):
        import_magenta(tmp_path / "model.ckpt-42", TINY)


@pytest.mark.parametrize("name", ["../escaped.index", "/tmp/absolute.index", "a/../../escaped.index"])
def test_a_bundle_with_paths_outside_itself_is_refused(tmp_path, name):
    bundle = _plain_tar(tmp_path / "evil.tar", {name: b"x"})
    with pytest.raises(CheckpointError, match="unsafe entry"):
        import_magenta(bundle, TINY)
    assert not (tmp_path / "escaped.index").exists()


def test_a_bundle_with_links_is_refused(tmp_path):
    bundle = tmp_path / "links.tar"
    with tarfile.open(bundle, "w") as tar:
        info = tarfile.TarInfo("model.ckpt-1.index")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(CheckpointError, match="unsafe entry"):
        import_magenta(bundle, TINY)


def test_the_cli_reports_a_bad_path_as_an_error(tmp_path, capsys):
    assert main(["import-magenta", str(tmp_path / "missing.tar"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
