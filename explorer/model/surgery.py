"""Weight surgery: one model's weights laid into another preset's layout, so that a new preset starts from a trained
one (a wider bar decoder, a previous-bar input, distributional heads, a multi-task encoder) and plays as it did."""

from __future__ import annotations

import numpy as np

from explorer.model.vae import MusicVAE
from explorer.notes.drums import FEATURES, NUM_CLASSES


def warm_start(vae: MusicVAE, weights: dict[str, np.ndarray]) -> None:
    """Starts from another model's weights whose layout differs at most in two places, every other weight
    matching by name and shape:
    - the velocity and offset heads (e.g. a Magenta-head checkpoint for a distributional preset): of an output
      layer of another width only the hit columns (the first 9) carry over, the heads keep their initial values;
    - the previous bar's input (a `previous_bar` preset from one without): its rows of the first decoder
      layer's kernel start at zero, so the warm-started model plays exactly as the one it came from."""
    weights = widened_decoder(vae, weights)
    output_names = {"decoder.output.kernel", "decoder.output.bias"}
    transferred = {}
    for name, variable in vae.named.items():
        value = np.asarray(weights.get(name, np.zeros(0)), np.float32)
        shape = tuple(variable.shape)
        if name in output_names and value.shape != shape:
            fresh = variable.numpy()
            assert value.shape[:-1] == fresh.shape[:-1] and value.shape[-1] >= NUM_CLASSES, (name, value.shape)
            fresh[..., :NUM_CLASSES] = value[..., :NUM_CLASSES]
            value = fresh
        elif name == "decoder.lstm0.kernel" and vae.config.previous_bar and value.shape == (
                shape[0] - FEATURES, shape[1]):
            value = np.concatenate([value[:FEATURES], np.zeros((FEATURES, shape[1]), np.float32),
                                    value[FEATURES:]])
        elif name in ("encoder.fw.kernel", "encoder.bw.kernel") and value.shape == (FEATURES, shape[1]):
            value = np.concatenate([value, np.zeros((shape[0] - FEATURES, shape[1]), np.float32)])
        elif value.shape != shape:
            raise ValueError(f"{name}: the warm-start weights have {value.shape}, the model {shape}")
        transferred[name] = value
    vae.load_weights_dict(transferred)


def widened_decoder(vae: MusicVAE, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A narrower bar decoder's weights (a `wide` preset from its source) laid into this one's, so that it plays
    exactly as before: each old unit keeps its weights; a new unit reads what the old ones read through this
    model's initial weights, and nothing reads it yet (zero rows where old units and the output layer read the
    new units' h), and the weights that read it get gradients at once. Weights of the same width pass unchanged."""
    old = np.asarray(weights["decoder.lstm0.recurrent_kernel"]).shape[0]
    new = vae.config.decoder_units
    same_elsewhere = all(np.shape(weights.get(name)) == tuple(variable.shape)
                         for name, variable in vae.named.items() if not name.startswith("decoder."))
    if old == new or not same_elsewhere:  # another model: warm_start names the first weight that differs
        return weights
    if old > new:
        raise ValueError(f"a decoder of {old} units cannot start one of {new}")
    layers = vae.config.decoder_layers
    widened = dict(weights)
    for layer in range(layers):
        for part in ("kernel", "recurrent_kernel", "bias"):
            name = f"decoder.lstm{layer}.{part}"
            source = np.asarray(weights[name], np.float32)
            value = vae.named[name].numpy()
            reads_h = part == "recurrent_kernel" or (part == "kernel" and layer > 0)
            assert source.shape[-1] == 4 * old and (not reads_h or source.shape[0] == old), (name, source.shape)
            for k in range(4):  # the gates i, f, c, o: each a block of `old` columns → a block of `new`
                if reads_h:
                    value[old:, k * new:k * new + old] = 0.0  # the old gates do not read the new units
                rows = (slice(source.shape[0]),) if source.ndim == 2 else ()
                value[(*rows, slice(k * new, k * new + old))] = source[..., k * old:(k + 1) * old]
            widened[name] = value
    for part in ("kernel", "bias"):  # c0, h0, c1, h1 …: blocks of `old` → blocks of `new`
        source = np.asarray(weights[f"decoder.initial_state.{part}"], np.float32)
        value = vae.named[f"decoder.initial_state.{part}"].numpy()
        for k in range(2 * layers):
            value[..., k * new:k * new + old] = source[..., k * old:(k + 1) * old]
        widened[f"decoder.initial_state.{part}"] = value
    output = np.asarray(weights["decoder.output.kernel"], np.float32)
    widened["decoder.output.kernel"] = np.concatenate(
        [output, np.zeros((new - old, output.shape[1]), np.float32)])  # nothing reads the new units yet
    return widened
