"""Import Magenta's MusicVAE drum checkpoints (TF1 format) into the Keras `MusicVAE`, without magenta.

Magenta's GrooVAE checkpoints (`groovae_4bar.tar` and the 2-bar variants) hold the same flat model as
`explorer.model.vae`: a bidirectional LSTM encoder, Dense `mu`/`sigma`, Dense(tanh) `z_to_initial_state`, a
2-layer LSTM decoder and a Dense output. Two things differ in how the weights are laid out:
- Magenta's cells are `LSTMBlockCell`s: one kernel [input + units, 4·units] over [x, h], gate blocks in the
  order i, j (candidate), f, o, and a forget bias of 1.0 added at run time rather than stored;
- Keras keeps the kernel and the recurrent kernel apart, orders the gates i, f, c, o and keeps the forget
  bias inside the bias.
Dense layers and the initial-state split (c0, h0, c1, h1) are the same in both.

The reader is `tf.train.load_checkpoint`: a checkpoint prefix, a directory holding one, or Magenta's `.tar`
bundle (extracted into a temporary directory) all work.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import numpy as np

from explorer.errors import CheckpointError
from explorer.model.config import ModelConfig, get_config
from explorer.model.vae import MusicVAE
from explorer.notes.drums import FEATURES

# Magenta's variable scopes, by the name prefix of the weights they become here.
ENCODER_CELLS = {
    f"encoder.{direction}": f"encoder/cell_0/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell"
    for direction in ("fw", "bw")
}
DECODER_CELL = "decoder/multi_rnn_cell/cell_{layer}/lstm_cell"  # our `decoder.lstm{layer}`
DENSE_LAYERS = {
    "encoder.mu": "encoder/mu",
    "encoder.sigma": "encoder/sigma",
    "decoder.initial_state": "decoder/z_to_initial_state",  # split c0, h0, c1, h1 in both
    "decoder.output": "decoder/output_projection",
}
# Training state every Magenta checkpoint carries and a model does not need.
SKIPPED_NAMES = frozenset({"global_step", "beta1_power", "beta2_power"})
SKIPPED_SUFFIXES = ("/Adam", "/Adam_1")  # Adam's moment slots

# LSTMBlockCell's gate blocks are i, j, f, o; Keras wants i, f, c (= j), o.
KERAS_FROM_BLOCK_GATES = (0, 2, 1, 3)
FORGET_BIAS = 1.0  # LSTMBlockCell's default, added to the f gate at run time

# The Magenta configs whose checkpoints import (each has the preset of the same name), with what their
# encoder was trained to see (their GrooveConverter options). The decoder always writes the full groove.
MAGENTA_CONFIGS = {
    "groovae_4bar": "the groove itself",
    "groovae_2bar_humanize": "the groove with velocities and offsets zeroed",
    "groovae_2bar_tap_fixed_velocity": "the loudest hit of each step as one tap on the open hi-hat, velocity zeroed",
    "groovae_2bar_add_closed_hh": "the groove without its closed hi-hat",
}

Reader = Callable[[str], np.ndarray]


def cell_scopes(config: ModelConfig) -> dict[str, str]:
    """Our LSTM name → Magenta's LSTMBlockCell scope."""
    decoder = {f"decoder.lstm{layer}": DECODER_CELL.format(layer=layer) for layer in range(config.decoder_layers)}
    return {**ENCODER_CELLS, **decoder}


def magenta_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every variable a Magenta flat GrooVAE checkpoint of this config holds, with its shape."""
    e, z, d = config.encoder_units, config.z_size, config.decoder_units
    shapes = {}
    cell_inputs = {"encoder.fw": FEATURES, "encoder.bw": FEATURES, "decoder.lstm0": FEATURES + z}
    for name, scope in cell_scopes(config).items():
        units = e if name.startswith("encoder") else d
        shapes[f"{scope}/kernel"] = (cell_inputs.get(name, d) + units, 4 * units)
        shapes[f"{scope}/bias"] = (4 * units,)
    dense_sizes = {"encoder.mu": (2 * e, z), "encoder.sigma": (2 * e, z),
                   "decoder.initial_state": (z, 2 * d * config.decoder_layers), "decoder.output": (d, FEATURES)}
    for name, scope in DENSE_LAYERS.items():
        shapes[f"{scope}/kernel"] = dense_sizes[name]
        shapes[f"{scope}/bias"] = dense_sizes[name][1:]
    return shapes


def is_training_state(name: str) -> bool:
    return name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES)


def lstm_block_to_keras(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSTMBlockCell (kernel over [x, h], gates i, j, f, o, forget bias outside) → Keras
    (kernel, recurrent_kernel, bias; gates i, f, c, o; forget bias inside)."""
    units = bias.shape[0] // 4

    def reorder(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, 4, axis=-1)
        return np.concatenate([blocks[k] for k in KERAS_FROM_BLOCK_GATES], axis=-1)

    kernel, bias = reorder(kernel), reorder(bias)
    bias[units:2 * units] += FORGET_BIAS
    input_size = kernel.shape[0] - units
    return kernel[:input_size], kernel[input_size:], bias


def convert_variables(source, config: ModelConfig | str, label: str = "the checkpoint") -> dict[str, np.ndarray]:
    """A Magenta checkpoint's variables → this model's weights dict (Keras layout).

    `source` is a `tf.train.load_checkpoint` reader or a dict name → array. Raises CheckpointError when a
    model variable is missing, unmapped or of another shape than `config` needs.
    """
    config = get_config(config) if isinstance(config, str) else config
    if config.hierarchical:
        raise CheckpointError(f"Magenta's drum checkpoints have a flat decoder; '{config.name}' is hierarchical. "
                              "Import them with a flat config such as groovae_4bar.")
    shapes, read = _variables(source)
    expected = magenta_shapes(config)
    present = {name for name in shapes if not is_training_state(name)}
    missing, unmapped = sorted(set(expected) - present), sorted(present - set(expected))
    if missing or unmapped:
        problems = [f"{kind} {_listing(names)}" for kind, names in (("missing", missing), ("unknown", unmapped))
                    if names]
        raise CheckpointError(f"{label} is not a GrooVAE drum checkpoint that fits '{config.name}' "
                              f"({'; '.join(problems)}). Only Magenta's flat GrooVAE models "
                              f"({', '.join(MAGENTA_CONFIGS)}) can be imported.")
    for name, shape in expected.items():
        if tuple(shapes[name]) != shape:
            raise CheckpointError(
                f"{label} does not fit '{config.name}': {name} has shape {list(shapes[name])} where "
                f"'{config.name}' needs {list(shape)}. It is probably another kind of Magenta model "
                "(groovae_2bar_hits_control, a melody, trio or categorical drum model), which this app cannot load.")
    weights = {}
    for name, scope in cell_scopes(config).items():
        kernel, recurrent_kernel, bias = lstm_block_to_keras(read(f"{scope}/kernel"), read(f"{scope}/bias"))
        weights.update({f"{name}.kernel": kernel, f"{name}.recurrent_kernel": recurrent_kernel,
                        f"{name}.bias": bias})
    for name, scope in DENSE_LAYERS.items():
        weights[f"{name}.kernel"] = read(f"{scope}/kernel")
        weights[f"{name}.bias"] = read(f"{scope}/bias")
    return weights


def _listing(names: list[str], shown: int = 4) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _variables(source) -> tuple[dict[str, tuple[int, ...]], Reader]:
    if hasattr(source, "get_variable_to_shape_map"):
        return ({name: tuple(shape) for name, shape in source.get_variable_to_shape_map().items()},
                lambda name: np.array(source.get_tensor(name), dtype=np.float32))
    if isinstance(source, Mapping):
        return ({name: np.shape(value) for name, value in source.items()},
                lambda name: np.array(source[name], dtype=np.float32))
    raise TypeError(f"expected a checkpoint reader or a dict of arrays, got {type(source).__name__}")


# --- finding the checkpoint -----------------------------------------------------------------------

_DATA_SUFFIX = re.compile(r"\.data-\d+-of-\d+$")
_STEP = re.compile(r"-(\d+)$")


def checkpoint_prefix(path: Path, workdir: Path) -> Path:
    """The TF1 checkpoint prefix for a `.tar` bundle (extracted into `workdir`), a directory, a prefix,
    or one of the prefix's `.index` / `.data-…` files."""
    path = Path(path)
    if path.is_dir():
        return _prefix_in(path, path)
    if path.is_file() and path.suffix != ".index" and not _DATA_SUFFIX.search(path.name):
        if not tarfile.is_tarfile(path):
            raise CheckpointError(f"'{path}' is not a Magenta checkpoint: expected a .tar bundle, a checkpoint "
                                  "directory or a checkpoint prefix such as model.ckpt-1234.")
        _extract_tar(path, workdir)
        return _prefix_in(workdir, path)
    prefix = path.with_name(_DATA_SUFFIX.sub("", path.name).removesuffix(".index"))
    if not prefix.with_name(prefix.name + ".index").is_file():
        raise CheckpointError(f"'{path}' does not exist or is not a Magenta checkpoint (no "
                              f"'{prefix.name}.index' next to it).")
    return prefix


def _prefix_in(directory: Path, label: Path) -> Path:
    """The newest checkpoint in a directory tree (Magenta's trainer keeps the last five)."""
    prefixes = sorted(index.with_suffix("") for index in directory.rglob("*.index"))
    if not prefixes:
        raise CheckpointError(f"'{label}' holds no checkpoint (no .index file): is it a Magenta model?")
    steps = [int(match.group(1)) if (match := _STEP.search(p.name)) else -1 for p in prefixes]
    newest = max(steps)
    if steps.count(newest) > 1:
        names = ", ".join(p.name for p, step in zip(prefixes, steps, strict=True) if step == newest)
        raise CheckpointError(f"'{label}' holds several checkpoints ({names}); pass the one to import.")
    return prefixes[steps.index(newest)]


def _extract_tar(path: Path, workdir: Path) -> None:
    """Extracts regular files and directories only, refusing absolute or `..` names and links."""
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or not (member.isfile() or member.isdir()):
                    raise CheckpointError(f"'{path.name}' holds an unsafe entry '{member.name}' "
                                          "(a link, or a path outside the bundle); it was not extracted.")
            tar.extractall(workdir, members=members, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise CheckpointError(f"'{path.name}' is a damaged .tar bundle ({error}).") from None


# --- the import -----------------------------------------------------------------------------------


def read_checkpoint(prefix: Path):
    """`tf.train.load_checkpoint`, with its errors as CheckpointError."""
    import tensorflow as tf

    try:
        return tf.train.load_checkpoint(str(prefix))
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError(f"'{prefix.name}' cannot be read as a TensorFlow checkpoint "
                              f"({_first_line(error)}).") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def import_magenta(path: Path | str, config: ModelConfig | str) -> MusicVAE:
    """A MusicVAE holding the weights of a Magenta checkpoint (`.tar` bundle, directory or prefix)."""
    model, _ = import_magenta_with_step(path, config)
    return model


def import_magenta_with_step(path: Path | str, config: ModelConfig | str) -> tuple[MusicVAE, int | None]:
    """`import_magenta`, plus the training step the checkpoint was saved at (None if it holds none).

    `config` is the name of one of MAGENTA_CONFIGS or any flat ModelConfig."""
    import tensorflow as tf

    if isinstance(config, str):
        if config not in MAGENTA_CONFIGS:
            raise CheckpointError(f"'{config}' is not a Magenta GrooVAE config this app can import; "
                                  f"use one of {', '.join(MAGENTA_CONFIGS)}.")
        config = get_config(config)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="magenta-import-") as workdir:
        prefix = checkpoint_prefix(path, Path(workdir))
        reader = read_checkpoint(prefix)
        try:
            weights = convert_variables(reader, config, label=f"'{path.name}'")
            step = int(reader.get_tensor("global_step")) if reader.has_tensor("global_step") else None
        except tf.errors.OpError as error:  # an index whose data file is missing or damaged
            raise CheckpointError(f"'{path.name}' is incomplete or damaged ({_first_line(error)}).") from None
    model = MusicVAE(config)
    model.load_weights_dict(weights, strict=True)
    return model, step
