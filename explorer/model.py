"""MusicVAE for drums (GrooVAE), the whole model in one file.

Encoder: a bidirectional LSTM over the [64, 27] groove tensor; its two final h states give `mu` and
`sigma` (softplus) of a diagonal Gaussian over z. Decoder, one of two:
- flat (Magenta's `groovae_4bar`): a 2-layer LSTM whose initial states come from Dense(tanh) on z and
  whose input each step is [previous output (27), z];
- hierarchical (the MusicVAE paper's): a conductor LSTM emits one embedding per bar from z; each bar is
  decoded by the 2-layer LSTM, initialised from and conditioned on its bar's embedding. With `previous_bar`
  (this project's presets, beyond Magenta) each step also sees the same step of the bar before (zeros in the
  first bar): drummers repeat themselves bar to bar, so z need not carry what the last bar already played.
The output Dense splits into hit logits (sigmoid) and, per drum, one of two kinds of velocity and offset head:
- Magenta's (`velocity_bins = offset_bins = 0`, as in `groovae_4bar`): one value each, velocity = sigmoid,
  offset = tanh, trained by MSE on all 9 × 64 cells, hit or not; deterministic when sampled. Output width 27.
- per-hit distributions (the presets this project trains): logits over equal bins of [0, 1] (velocity) and
  [-1, 1] (offset), a piecewise-uniform density; trained by cross-entropy on the cells that hold a hit only (a
  cell without a hit has no velocity), and drawn at the hits' temperature, T = 0 giving the median.

The LSTMs are written out here rather than taken from keras.layers.LSTM so that the input projections
(teacher-forced inputs, z) are one matmul over all steps, outside the recurrence; the weights keep the
Keras layout (kernel, recurrent_kernel, bias; gates i, f, c, o; forget bias inside the bias).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from explorer.groove import FEATURES, NUM_CLASSES, STEPS_PER_BAR, WINDOW_BARS
from explorer.transforms import CONDITION_CHANNELS, condition


@dataclass(frozen=True)
class ModelConfig:
    name: str
    encoder_units: int = 512
    z_size: int = 256
    decoder_units: int = 256
    decoder_layers: int = 2
    conductor_units: int = 0  # 0: flat decoder; > 0: hierarchical decoder with a conductor of this width
    conductor_layers: int = 2
    dropout_keep: float = 0.3  # keep-probability of every LSTM's input, in training only (Magenta's DropoutWrapper)
    free_bits: float = 48.0
    beta: float = 0.2
    hit_weight: float = 1.0  # the hits' share of the reconstruction loss against the heads' (1: a likelihood)
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    clip_norm: float = 1.0
    batch_size: int = 512
    bars: int = WINDOW_BARS
    velocity_bins: int = 0  # 0: Magenta's heads (MSE, deterministic); > 0: a distribution per hit over these bins
    offset_bins: int = 0
    previous_bar: bool = False  # layer 0 also reads the output one bar back (hierarchical presets of this project)
    task_channels: int = 0  # > 0: multi-task; the encoder also reads which transformation it sees (transforms.py)

    @property
    def encoder_input_size(self) -> int:
        return FEATURES + self.task_channels

    @property
    def feedback_size(self) -> int:
        """Width of what the decoder's first layer reads back each step: the previous output, and with
        `previous_bar` the output one bar earlier."""
        return FEATURES * (2 if self.previous_bar else 1)

    @property
    def distributional(self) -> bool:
        """Per-hit velocity and offset distributions (else Magenta's deterministic heads)."""
        return self.velocity_bins > 0

    @property
    def output_size(self) -> int:
        if not self.distributional:
            return FEATURES
        return NUM_CLASSES * (1 + self.velocity_bins + self.offset_bins)

    @property
    def hierarchical(self) -> bool:
        return self.conductor_units > 0

    @property
    def steps(self) -> int:
        return self.bars * STEPS_PER_BAR

    @property
    def free_nats(self) -> float:
        return self.free_bits * math.log(2.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


PRESETS = {config.name: config for config in (
    ModelConfig("groovae_4bar"),  # Magenta's config exactly
    ModelConfig("hierdec_4bar", conductor_units=256),
    # hierdec_4bar with per-hit velocity and offset distributions (32 bins: 4 MIDI velocities, 1/32 of a step),
    # trained with the shipped checkpoint's measured settings: batch 128, input keep 0.7.
    ModelConfig("hierdec_dist_4bar", conductor_units=256, velocity_bins=32, offset_bins=32, batch_size=128,
                dropout_keep=0.7, learning_rate=5e-4),
    # hierdec_dist_4bar whose bar decoder also reads the same step one bar back (warm-starts from it exactly).
    ModelConfig("hierdec_dist_prevbar_4bar", conductor_units=256, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4, previous_bar=True),
    # hierdec_dist_4bar trained on every transformation of transforms.py at once (Drumify, Groove, infill, continue);
    # warm-starts from it exactly (the condition's kernel rows start at zero).
    ModelConfig("hierdec_dist_multitask_4bar", conductor_units=256, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4, task_channels=CONDITION_CHANNELS),
    # hierdec_dist_4bar with a bar decoder twice as wide, warm-started from it exactly (MusicVAE._widened_decoder);
    # tried for issue 24 and stopped: the model overfits, capacity is not the lever (model card, session 14).
    ModelConfig("hierdec_dist_wide_4bar", conductor_units=256, decoder_units=512, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4),
    # Magenta's 2-bar GrooVAE variants, for importing their published checkpoints (explorer/magenta_import.py):
    # groovae_4bar's layout over 2 bars; they differ only in what their encoder was trained to see.
    ModelConfig("groovae_2bar_humanize", bars=2),
    ModelConfig("groovae_2bar_tap_fixed_velocity", bars=2),
    ModelConfig("groovae_2bar_add_closed_hh", bars=2),
    # Tiny widths for the test suite.
    ModelConfig("tiny_4bar", encoder_units=32, z_size=16, decoder_units=32, batch_size=32),
    # Just enough capacity to memorise a handful of grooves quickly (the "learning happens" test).
    ModelConfig("small_4bar", encoder_units=64, z_size=32, decoder_units=64, batch_size=32, decay_rate=0.998),
    ModelConfig("tiny_hierdec_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32),
    ModelConfig("tiny_dist_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8),
    ModelConfig("tiny_prevbar_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8, previous_bar=True),
    ModelConfig("tiny_wide_4bar", encoder_units=32, z_size=16, decoder_units=48, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8),
    ModelConfig("tiny_multitask_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8, task_channels=CONDITION_CHANNELS),
)}


def get_config(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown model config '{name}'; known: {', '.join(PRESETS)}")
    return PRESETS[name]


# --- the LSTM, in Keras's weight layout ---------------------------------------------------------


def lstm_step(projected_input, h, c, recurrent_kernel):
    """One LSTM step given the input's projection x·W + b (gates i, f, c, o); h is multiplied in the kernel's
    dtype (bf16 in bf16 training), the sum and the cell state stay float32."""
    recurrent = tf.matmul(tf.cast(h, recurrent_kernel.dtype), recurrent_kernel)
    return lstm_gates(projected_input + tf.cast(recurrent, tf.float32), c)


def lstm_gates(gates, c):
    """The cell update from the summed pre-activations of the gates i, f, c, o: (h, c)."""
    i, f, g, o = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def lstm_sequence(projected_inputs, h, c, recurrent_kernel, reverse=False):
    """Runs the recurrence over time-major projections [T, B, 4u]; returns outputs [T, B, u] and (h, c)."""
    def step(carry, x):
        return lstm_step(x, carry[0], carry[1], recurrent_kernel)

    outputs_h, outputs_c = tf.scan(step, projected_inputs, initializer=(h, c), reverse=reverse)
    last = 0 if reverse else -1
    return outputs_h, (outputs_h[last], outputs_c[last])


def input_dropout(x, keep: float, seed, salt: int):
    """Dropout in training only (`seed` is None at inference); stateless, so a resumed run repeats exactly."""
    if seed is None or keep >= 1.0:
        return x
    return tf.nn.experimental.stateless_dropout(x, rate=1.0 - keep, seed=tf.random.experimental.stateless_fold_in(
        seed, salt))


# --- the velocity and offset heads -----------------------------------------------------------

VELOCITY_RANGE = (0.0, 1.0)  # the tensor's velocity: MIDI velocity / 127
OFFSET_RANGE = (-1.0, 1.0)  # the tensor's offset: ±1 = half a step


def split_outputs(logits, config: ModelConfig):
    """Output logits [..., output_size] → hit logits [..., 9] and the velocity and offset heads: [..., 9] each
    (Magenta's), or [..., 9, bins] each (distributions)."""
    hit_logits = logits[..., :NUM_CLASSES]
    if not config.distributional:
        return hit_logits, logits[..., NUM_CLASSES:2 * NUM_CLASSES], logits[..., 2 * NUM_CLASSES:]
    lead = tf.shape(logits)[:-1]
    velocity_end = NUM_CLASSES * (1 + config.velocity_bins)
    velocity = tf.reshape(logits[..., NUM_CLASSES:velocity_end],
                          tf.concat([lead, [NUM_CLASSES, config.velocity_bins]], 0))
    offset = tf.reshape(logits[..., velocity_end:], tf.concat([lead, [NUM_CLASSES, config.offset_bins]], 0))
    return hit_logits, velocity, offset


def value_bins(values, bins: int, low: float, high: float):
    """The bin of [low, high] (of `bins` equal ones) that each value falls in; the ends fall in the end bins."""
    index = tf.cast(tf.floor((values - low) / (high - low) * bins), tf.int32)
    return tf.clip_by_value(index, 0, bins - 1)


def head_cross_entropy(logits, values, low: float, high: float):
    """−log p(the value's bin) per cell: logits [..., 9, bins], values [..., 9]."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=value_bins(values, logits.shape[-1], low, high), logits=logits)


def hit_terms(x, logits):
    """Each cell's −log p(hit or not) [B, T, 9] of targets x [B, T, 27] under the output logits."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=x[..., :NUM_CLASSES], logits=logits[..., :NUM_CLASSES])


def head_terms(x, logits, config: ModelConfig):
    """Each cell's velocity and offset loss [B, T, 9]: Magenta's MSE(velocity) + MSE(offset) on every cell, or, for
    distributions, the cross-entropy of the true velocity's and offset's bins on the cells that hold a hit (a cell
    without a hit has no velocity)."""
    hits, velocities, offsets = tf.split(x, 3, axis=-1)
    _, velocity_logits, offset_logits = split_outputs(logits, config)
    if config.distributional:
        return hits * (head_cross_entropy(velocity_logits, velocities, *VELOCITY_RANGE)
                       + head_cross_entropy(offset_logits, offsets, *OFFSET_RANGE))
    return tf.square(velocities - tf.sigmoid(velocity_logits)) + tf.square(offsets - tf.tanh(offset_logits))


def reconstruction_terms(x, logits, config: ModelConfig):
    """Each cell's reconstruction loss [B, T, 9]: `hit_terms` weighted by `config.hit_weight`, plus `head_terms`.
    The heads' loss, hundreds of nats a window against the hits' tens, otherwise decides what z carries (issue 24)."""
    return config.hit_weight * hit_terms(x, logits) + head_terms(x, logits, config)


def head_quantile(logits, u, low: float, high: float):
    """The u-quantile of the piecewise-uniform density on [low, high] whose equal bins hold softmax(logits):
    u ~ U(0, 1) draws from it, u = 0.5 is its median. logits [..., bins], u [...] → values [...]."""
    bins = logits.shape[-1]
    probabilities = tf.nn.softmax(logits, axis=-1)
    cdf = tf.cumsum(probabilities, axis=-1)
    index = tf.minimum(tf.reduce_sum(tf.cast(cdf < u[..., None], tf.int32), axis=-1), bins - 1)
    chosen = tf.one_hot(index, bins, dtype=probabilities.dtype)  # one-hot sums, not gathers: cheap under XLA
    mass = tf.reduce_sum(chosen * probabilities, axis=-1)
    below = tf.reduce_sum(chosen * cdf, axis=-1) - mass
    fraction = tf.clip_by_value((u - below) / tf.maximum(mass, 1e-12), 0.0, 1.0)
    return low + (high - low) * (tf.cast(index, probabilities.dtype) + fraction) / bins


# --- the model ----------------------------------------------------------------------------------


class MusicVAE(keras.Model):
    """Weights live in `self.named` (name → variable) so checkpoints and importers can address them."""

    def __init__(self, config: ModelConfig):
        super().__init__(name=config.name)
        self.config = config
        self._compute_dtype = tf.float32  # of the matmuls; bf16 only while `losses_for` traces a bf16 train step
        self.named: dict[str, keras.Variable] = {}
        e, z, d = config.encoder_units, config.z_size, config.decoder_units
        for direction in ("fw", "bw"):
            self._lstm_weights(f"encoder.{direction}", config.encoder_input_size, e)
        self._dense_weights("encoder.mu", 2 * e, z)
        self._dense_weights("encoder.sigma", 2 * e, z)
        if config.hierarchical:
            cu = config.conductor_units
            self._dense_weights("conductor.initial_state", z, 2 * cu * config.conductor_layers)
            for layer in range(config.conductor_layers):
                self._lstm_weights(f"conductor.lstm{layer}", 0 if layer == 0 else cu, cu)
            condition = cu
        else:
            condition = z
        self._dense_weights("decoder.initial_state", condition, 2 * d * config.decoder_layers)
        for layer in range(config.decoder_layers):
            self._lstm_weights(f"decoder.lstm{layer}", config.feedback_size + condition if layer == 0 else d, d)
        self._dense_weights("decoder.output", d, config.output_size)
        self.built = True

    def _add(self, name, shape, initializer):
        variable = self.add_weight(name=name.replace(".", "_"), shape=shape, initializer=initializer)
        self.named[name] = variable

    def _lstm_weights(self, name, input_size, units):
        if input_size:  # the conductor's first layer has no input: its projection is the bias alone
            self._add(f"{name}.kernel", (input_size, 4 * units), "glorot_uniform")
        self._add(f"{name}.recurrent_kernel", (units, 4 * units), "orthogonal")
        forget_bias_one = np.concatenate([np.zeros(units), np.ones(units), np.zeros(2 * units)]).astype("float32")
        self._add(f"{name}.bias", (4 * units,), keras.initializers.Constant(forget_bias_one))

    def _dense_weights(self, name, input_size, units):
        self._add(f"{name}.kernel", (input_size, units), "glorot_uniform")
        self._add(f"{name}.bias", (units,), "zeros")

    def _kernel(self, name):
        """A weight matrix in the compute dtype (its float32 variable stays the master copy)."""
        return tf.cast(self.named[name], self._compute_dtype)

    def _dense(self, name, x):
        product = tf.matmul(tf.cast(x, self._compute_dtype), self._kernel(f"{name}.kernel"))
        return tf.cast(product, tf.float32) + self.named[f"{name}.bias"]

    def _project(self, name, x):
        """The LSTM's input projection x·W + b, for x of any leading shape."""
        product = tf.tensordot(tf.cast(x, self._compute_dtype), self._kernel(f"{name}.kernel"), axes=1)
        return tf.cast(product, tf.float32) + self.named[f"{name}.bias"]

    def _initial_states(self, name, condition, layers, units):
        """Dense(tanh) on the condition, split in Magenta's order c0, h0, c1, h1, …"""
        parts = tf.split(tf.tanh(self._dense(name, condition)), 2 * layers, axis=-1)
        return [(parts[2 * k + 1], parts[2 * k]) for k in range(layers)]  # (h, c) per layer

    # encoder

    def encoder_input(self, x):
        """The encoder's input for grooves x [B, T, 27]: x itself, or for a multi-task model x beside the identity
        task's condition (a plain groove, every drum visible). An input that already has its condition passes."""
        if not self.config.task_channels or x.shape[-1] == self.config.encoder_input_size:
            return x
        code = tf.constant(condition("identity", self.config.steps))
        return tf.concat([x, tf.tile(code[None], [tf.shape(x)[0], 1, 1])], axis=-1)

    def encode_params(self, x, seed=None):
        """x [B, T, 27] (or, for a multi-task model, with its condition: [B, T, encoder_input_size]) → mu, sigma
        [B, z]. A training `seed` turns dropout on."""
        x = input_dropout(self.encoder_input(tf.convert_to_tensor(x, tf.float32)), self.config.dropout_keep, seed,
                          salt=1)
        time_major = tf.transpose(x, [1, 0, 2])
        batch = tf.shape(x)[0]
        zeros = tf.zeros([batch, self.config.encoder_units])
        finals = []
        for direction in ("fw", "bw"):
            projected = self._project(f"encoder.{direction}", time_major)
            _, (h, _) = lstm_sequence(projected, zeros, zeros, self._kernel(f"encoder.{direction}.recurrent_kernel"),
                                      reverse=direction == "bw")
            finals.append(h)
        encoded = tf.concat(finals, axis=-1)
        return self._dense("encoder.mu", encoded), tf.nn.softplus(self._dense("encoder.sigma", encoded))

    # decoder, teacher-forced (training and likelihoods)

    def _bar_conditions(self, z):
        """Hierarchical only: the conductor's one embedding per bar, [bars, B, conductor_units]."""
        config = self.config
        states = self._initial_states("conductor.initial_state", z, config.conductor_layers, config.conductor_units)
        inputs = tf.zeros([config.bars, tf.shape(z)[0], 4 * config.conductor_units])
        outputs = None
        for layer, (h, c) in enumerate(states):
            name = f"conductor.lstm{layer}"
            projected = inputs + self.named[f"{name}.bias"] if layer == 0 else self._project(name, outputs)
            outputs, _ = lstm_sequence(projected, h, c, self._kernel(f"{name}.recurrent_kernel"))
        return outputs

    def conditions(self, z, details=None):
        """What the bar decoder is conditioned on, [B, bars, condition]: the conductor's embedding of each bar
        (hierarchical), or z for every bar (flat); plus a seed's `details` [B, bars, condition] where given (its
        bars as refined to play the seed, explorer/refine.py)."""
        config = self.config
        if config.hierarchical:
            conditions = tf.transpose(self._bar_conditions(z), [1, 0, 2])
        else:
            conditions = tf.tile(z[:, None], [1, config.bars, 1])
        return conditions if details is None else conditions + details

    def detail_shape(self) -> tuple[int, int]:
        """A seed's details: one vector per bar the size of its condition (a flat decoder's one condition: one)."""
        config = self.config
        return (config.bars, config.conductor_units) if config.hierarchical else (1, config.z_size)

    def decode_teacher_forced(self, z, targets, seed=None):
        """Output logits/pre-activations [B, T, output_size] given the true previous outputs."""
        return self.decode_conditioned(self.conditions(z), targets, seed)

    def decode_conditioned(self, conditions, targets, seed=None):
        """`decode_teacher_forced` given the bars' conditions [B, bars, condition] (`conditions`)."""
        config = self.config
        batch = tf.shape(targets)[0]
        previous = tf.concat([tf.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1)
        if config.previous_bar:
            bar_before = tf.concat([tf.zeros_like(targets[:, :STEPS_PER_BAR]), targets[:, :-STEPS_PER_BAR]], axis=1)
            previous = tf.concat([previous, bar_before], axis=-1)
        if config.hierarchical:
            # Each bar is its own sequence of 16 steps: fold the bars into the batch.
            conditions = tf.reshape(conditions, [batch * config.bars, -1])
            previous = tf.reshape(previous, [batch * config.bars, STEPS_PER_BAR, config.feedback_size])
        else:
            conditions = conditions[:, 0]  # one 64-step sequence: the flat decoder's condition is the first bar's
        logits = self._decode_sequences(conditions, previous, seed)
        return tf.reshape(logits, [batch, config.steps, config.output_size])

    def _decode_sequences(self, conditions, previous, seed):
        config = self.config
        length = tf.shape(previous)[1]
        states = self._initial_states("decoder.initial_state", conditions, config.decoder_layers,
                                      config.decoder_units)
        tiled = tf.tile(conditions[:, None, :], [1, length, 1])
        layer_input = tf.transpose(tf.concat([previous, tiled], axis=-1), [1, 0, 2])
        for layer, (h, c) in enumerate(states):
            name = f"decoder.lstm{layer}"
            projected = self._project(name, input_dropout(layer_input, config.dropout_keep, seed, salt=2 + layer))
            layer_input, _ = lstm_sequence(projected, h, c, self._kernel(f"{name}.recurrent_kernel"))
        return tf.transpose(self._project("decoder.output", layer_input), [1, 0, 2])

    # decoder, autoregressive (sampling)

    def decode_sampled(self, z, thresholds, head_noise, head_temperature, heads_z=None, details=None,
                       heads_details=None):
        """Autoregressive decoding: a hit where its logit exceeds its threshold ([B, T, 9]; see
        `sampling_thresholds`); velocities and offsets from `activate` (head_noise [B, T, 18], see
        `head_uniforms`); the activated sample is fed back. With `heads_z` [B, z] a second decoder runs beside the
        first, step by step: the hits are the first's, their velocities and offsets the second's, and both read back
        what was played (a seed's two codes, explorer/refine.py). `details`, `heads_details` [B, *detail_shape]:
        added to each stream's bar conditions (`conditions`). Returns [B, T, 27]."""
        config = self.config
        batch = tf.shape(z)[0]
        codes = z if heads_z is None else tf.concat([z, heads_z], axis=0)  # the streams' codes, [streams · B, z]
        if details is not None and heads_z is not None:
            details = tf.concat([details, heads_details], axis=0)
        # [bars, streams · B, condition]: the conductor's bar embeddings, or the code for every bar
        conditions = tf.transpose(self.conditions(codes, details), [1, 0, 2])
        # The hierarchical decoder restarts every bar from that bar's initial states; the flat one is one 64-step
        # sequence whose states carry across bars.
        bar_states = self._initial_states("decoder.initial_state", conditions, config.decoder_layers,
                                          config.decoder_units)  # per layer (h, c), each [bars, B, units]
        states = [(h[0], c[0]) for h, c in bar_states]
        # Layer 0's input is [previous output, (output one bar back,) condition]: the condition's part is projected
        # once per bar.
        feedback = config.feedback_size
        layer0_biases = tf.matmul(conditions, self.named["decoder.lstm0.kernel"][feedback:]) + self.named[
            "decoder.lstm0.bias"]
        biases = [self.named[f"decoder.lstm{layer}.bias"] for layer in range(config.decoder_layers)]
        stacked = self._stacked_decoder_kernels()
        thresholds = tf.transpose(thresholds, [1, 0, 2])
        head_noise = tf.transpose(head_noise, [1, 0, 2])
        previous = tf.zeros([batch, FEATURES])
        last_bar = tf.zeros([STEPS_PER_BAR, batch, FEATURES])  # the last 16 outputs, oldest first
        outputs = tf.TensorArray(tf.float32, size=config.steps)
        for step in tf.range(config.steps):
            bar = step // STEPS_PER_BAR
            if config.hierarchical:
                bar_start = tf.equal(step % STEPS_PER_BAR, 0)
                states = [(tf.where(bar_start, h[bar], state_h), tf.where(bar_start, c[bar], state_c))
                          for (h, c), (state_h, state_c) in zip(bar_states, states, strict=True)]
            layer_input = tf.concat([previous, last_bar[0]], axis=-1) if config.previous_bar else previous
            if heads_z is not None:  # both streams read back what was played
                layer_input = tf.concat([layer_input, layer_input], axis=0)
            new_states = []
            for layer, ((h, c), weights) in enumerate(zip(states, stacked, strict=True)):
                bias = layer0_biases[bar] if layer == 0 else biases[layer]
                h, c = lstm_gates(tf.matmul(tf.concat([layer_input, h], axis=-1), weights) + bias, c)
                new_states.append((h, c))
                layer_input = h
            states = new_states
            logits = self._dense("decoder.output", layer_input)
            hit_logits, head_logits = (logits, logits) if heads_z is None else tf.split(logits, 2)
            hits = tf.cast(hit_logits[:, :NUM_CLASSES] > thresholds[step], tf.float32)
            previous = self.activate(head_logits, hits, head_noise[step], head_temperature)
            if config.previous_bar:
                last_bar = tf.concat([last_bar[1:], previous[None]], axis=0)
            outputs = outputs.write(step, previous)
        return tf.transpose(outputs.stack(), [1, 0, 2])

    def activate(self, logits, hits, head_noise, head_temperature):
        """One step's [hits | velocities | offsets] (27) from its output logits and its drawn hits.
        Magenta's heads: sigmoid / tanh, deterministic, on every cell as Magenta feeds them back. Distributions:
        each hit's velocity and offset is the `head_noise` quantile of softmax(logits / head_temperature); a cell
        without a hit gets 0, as in the data."""
        if not self.config.distributional:
            # velocities = sigmoid(v), offsets = tanh(o) = 2 sigmoid(2 o) - 1: one sigmoid for both
            scale = tf.constant([1.0] * NUM_CLASSES + [2.0] * NUM_CLASSES)
            shift = tf.constant([0.0] * NUM_CLASSES + [1.0] * NUM_CLASSES)
            return tf.concat([hits, tf.sigmoid(scale * logits[..., NUM_CLASSES:]) * scale - shift], axis=-1)
        _, velocity_logits, offset_logits = split_outputs(logits, self.config)
        velocities = head_quantile(velocity_logits / head_temperature, head_noise[..., :NUM_CLASSES], *VELOCITY_RANGE)
        offsets = head_quantile(offset_logits / head_temperature, head_noise[..., NUM_CLASSES:], *OFFSET_RANGE)
        return tf.concat([hits, hits * velocities, hits * offsets], axis=-1)

    def _stacked_decoder_kernels(self):
        """Per decoder layer [input kernel; recurrent kernel], so that a sampling step multiplies [input, h] once
        (a graph loop's time goes mostly to per-op overhead: fewer ops is faster). Layer 0's input is what it reads
        back (`feedback_size`) only; its condition part is projected once per bar."""
        kernels = []
        for layer in range(self.config.decoder_layers):
            kernel = self.named[f"decoder.lstm{layer}.kernel"]
            kernels.append(tf.concat([kernel[:self.config.feedback_size] if layer == 0 else kernel,
                                      self.named[f"decoder.lstm{layer}.recurrent_kernel"]], axis=0))
        return kernels

    # loss

    def losses_for(self, x, seed=None, compute_dtype=tf.float32, encoder_input=None):
        """The loss per example: Σ_steps Σ_classes `reconstruction_terms` + beta · max(KL − free nats, 0); its
        batch mean is what is minimised.
        `seed` ([2] int32, e.g. [run seed, step]) draws z and the dropout masks; None evaluates without dropout
        and with z = mu. `compute_dtype` bf16 multiplies in bf16 (explorer/precision.py); sums, states and the
        loss stay float32. `encoder_input`: what the encoder sees instead of x (a multi-task model's transformed x
        with its condition); the decoder is always asked for x. Returns per-example (loss, reconstruction, kl) and
        the logits."""
        config = self.config
        self._compute_dtype = compute_dtype
        try:
            mu, sigma = self.encode_params(x if encoder_input is None else encoder_input, seed)
            z = mu if seed is None else mu + sigma * tf.random.stateless_normal(
                tf.shape(mu), seed=tf.random.experimental.stateless_fold_in(seed, 0))
            logits = self.decode_teacher_forced(z, x, seed)
        finally:
            self._compute_dtype = tf.float32
        reconstruction = tf.reduce_sum(reconstruction_terms(x, logits, config), axis=[1, 2])
        kl = tf.reduce_sum(-tf.math.log(sigma) + 0.5 * (tf.square(sigma) + tf.square(mu) - 1.0), axis=-1)
        loss = reconstruction + config.beta * tf.maximum(kl - config.free_nats, 0.0)
        return loss, reconstruction, kl, logits

    # weights

    def weights_dict(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(variable.numpy()) for name, variable in self.named.items()}

    def load_weights_dict(self, weights: dict[str, np.ndarray], strict: bool = True) -> None:
        """Assigns every named weight; shapes must match exactly, and with `strict` so must the names."""
        missing = sorted(set(self.named) - set(weights))
        unexpected = sorted(set(weights) - set(self.named))
        if strict and (missing or unexpected):
            raise ValueError(f"weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
        for name, variable in self.named.items():
            if name not in weights:
                continue
            value = np.asarray(weights[name], dtype=np.float32)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{name}: checkpoint shape {value.shape} != model shape {tuple(variable.shape)}")
            variable.assign(value)

    def warm_start(self, weights: dict[str, np.ndarray]) -> None:
        """Starts from another model's weights whose layout differs at most in two places, every other weight
        matching by name and shape:
        - the velocity and offset heads (e.g. a Magenta-head checkpoint for a distributional preset): of an output
          layer of another width only the hit columns (the first 9) carry over, the heads keep their initial values;
        - the previous bar's input (a `previous_bar` preset from one without): its rows of the first decoder
          layer's kernel start at zero, so the warm-started model plays exactly as the one it came from."""
        weights = self._widened_decoder(weights)
        output_names = {"decoder.output.kernel", "decoder.output.bias"}
        transferred = {}
        for name, variable in self.named.items():
            value = np.asarray(weights.get(name, np.zeros(0)), np.float32)
            shape = tuple(variable.shape)
            if name in output_names and value.shape != shape:
                fresh = variable.numpy()
                assert value.shape[:-1] == fresh.shape[:-1] and value.shape[-1] >= NUM_CLASSES, (name, value.shape)
                fresh[..., :NUM_CLASSES] = value[..., :NUM_CLASSES]
                value = fresh
            elif name == "decoder.lstm0.kernel" and self.config.previous_bar and value.shape == (
                    shape[0] - FEATURES, shape[1]):
                value = np.concatenate([value[:FEATURES], np.zeros((FEATURES, shape[1]), np.float32),
                                        value[FEATURES:]])
            elif name in ("encoder.fw.kernel", "encoder.bw.kernel") and value.shape == (FEATURES, shape[1]):
                value = np.concatenate([value, np.zeros((shape[0] - FEATURES, shape[1]), np.float32)])
            elif value.shape != shape:
                raise ValueError(f"{name}: the warm-start weights have {value.shape}, the model {shape}")
            transferred[name] = value
        self.load_weights_dict(transferred)

    def _widened_decoder(self, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A narrower bar decoder's weights (a `wide` preset from its source) laid into this one's, so that it plays
        exactly as before: each old unit keeps its weights; a new unit reads what the old ones read through this
        model's initial weights, and nothing reads it yet (zero rows where old units and the output layer read the
        new units' h), and the weights that read it get gradients at once. Weights of the same width pass unchanged."""
        old = np.asarray(weights["decoder.lstm0.recurrent_kernel"]).shape[0]
        new = self.config.decoder_units
        same_elsewhere = all(np.shape(weights.get(name)) == tuple(variable.shape)
                             for name, variable in self.named.items() if not name.startswith("decoder."))
        if old == new or not same_elsewhere:  # another model: warm_start names the first weight that differs
            return weights
        if old > new:
            raise ValueError(f"a decoder of {old} units cannot start one of {new}")
        layers = self.config.decoder_layers
        widened = dict(weights)
        for layer in range(layers):
            for part in ("kernel", "recurrent_kernel", "bias"):
                name = f"decoder.lstm{layer}.{part}"
                source = np.asarray(weights[name], np.float32)
                value = self.named[name].numpy()
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
            value = self.named[f"decoder.initial_state.{part}"].numpy()
            for k in range(2 * layers):
                value[..., k * new:k * new + old] = source[..., k * old:(k + 1) * old]
            widened[f"decoder.initial_state.{part}"] = value
        output = np.asarray(weights["decoder.output.kernel"], np.float32)
        widened["decoder.output.kernel"] = np.concatenate(
            [output, np.zeros((new - old, output.shape[1]), np.float32)])  # nothing reads the new units yet
        return widened

    def parameter_count(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.named.values()))


SAMPLING_SALT = 1  # separates the hit noise from the z drawn with the same seed
HEAD_SALT = 2  # and the heads' noise from both


def sampling_thresholds(batch: int, steps: int, temperature: float, seed: int) -> np.ndarray:
    """[batch, steps, 9] logit thresholds of the hits: sigmoid(logit / T) > u  ⇔  logit > T · logit(u), with
    u ~ U(0, 1) from `seed`; T = 0 gives the 0.5 threshold. Drawn here, in NumPy, because TensorFlow's and XLA's
    Philox give different numbers for the same seed; batch-first, so a groove's noise does not depend on the batch
    around it. The stream is salted apart from `generate`'s z draws with the same seed."""
    if temperature == 0:
        return np.zeros((batch, steps, NUM_CLASSES), np.float32)
    noise = np.random.default_rng([seed, SAMPLING_SALT]).uniform(1e-7, 1.0 - 1e-7, (batch, steps, NUM_CLASSES))
    return (temperature * (np.log(noise) - np.log1p(-noise))).astype(np.float32)


def head_uniforms(batch: int, steps: int, temperature: float, seed: int) -> np.ndarray:
    """[batch, steps, 18] quantiles at which the distribution heads draw each cell's velocity (9) and offset (9):
    U(0, 1) from `seed`, batch-first and in NumPy as the hits' thresholds; T = 0 gives 0.5, the median."""
    if temperature == 0:
        return np.full((batch, steps, 2 * NUM_CLASSES), 0.5, np.float32)
    rng = np.random.default_rng([seed, HEAD_SALT])
    return rng.uniform(0.0, 1.0, (batch, steps, 2 * NUM_CLASSES)).astype(np.float32)


# Batches up to the largest of these run as XLA programs, padded up to the next size listed: a graph while-loop
# spends most of a small batch's time on per-op overhead (one groove: decode ~18 → ~8 ms, encode ~16 → ~10 ms).
# Larger batches are compute-bound and run as plain graphs, which need no compiling. XLA compiles each size once
# per process (~1.5–2.5 s for the sampler; TensorFlow's persistent XLA cache fails to read back on CPU), so the
# sizes are few: one groove, Generate's 4, the 6 steps between a path's ends (measured: 8-step path 52 → 32 ms with
# 8, its seeds' two codes decoded in lockstep) and 16 for 4×4 blends and longer paths.
XLA_BATCH_SIZES = (1, 4, 8, 16)
# Small batches' encodings are kept (by the tensor's bytes): the basket's seeds are encoded again on every click of
# Interpolate, Blend or Attributes, and the encoder, memory-bound, is most of such a click's model time.
ENCODING_CACHE_SIZE = 256


class CompiledModel:
    """A MusicVAE with its inference functions traced once per shape: safe to share between threads."""

    def __init__(self, vae: MusicVAE, info=None, cache_encodings: bool = False, prior=None):
        """`cache_encodings` only for weights that no longer change (a loaded checkpoint, not a training run).
        `prior`: the checkpoint's fitted sampling prior (explorer/prior.py), or None for N(0, I)."""
        self.vae = vae
        self.config = vae.config
        self.info = info  # the CheckpointInfo it was loaded from, if any
        self.prior = prior
        self._cache_encodings = cache_encodings
        self._encodings: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._encodings_lock = threading.Lock()
        steps, z_size = vae.config.steps, vae.config.z_size
        self._encode_graph = tf.function(
            lambda x: vae.encode_params(x),
            input_signature=[tf.TensorSpec([None, steps, vae.config.encoder_input_size], tf.float32)])
        codes, details, noise_specs = tf.TensorSpec([None, z_size], tf.float32), tf.TensorSpec(
            [None, *vae.detail_shape()], tf.float32), [
            tf.TensorSpec([None, steps, NUM_CLASSES], tf.float32),
            tf.TensorSpec([None, steps, 2 * NUM_CLASSES], tf.float32), tf.TensorSpec([], tf.float32)]

        def play(z, details, *noise):
            return vae.decode_sampled(z, *noise, details=details)

        def play_pairs(z, heads_z, details, heads_details, *noise):  # a seed's two codes, in lockstep
            return vae.decode_sampled(z, *noise, heads_z=heads_z, details=details, heads_details=heads_details)

        self._decode_graph = tf.function(play, input_signature=[codes, details, *noise_specs])

        self._hit_logits_graph = tf.function(
            lambda z, x: vae.decode_teacher_forced(z, x)[..., :NUM_CLASSES],
            input_signature=[tf.TensorSpec([None, z_size], tf.float32),
                             tf.TensorSpec([None, steps, FEATURES], tf.float32)])
        self._encode_xla = tf.function(lambda x: vae.encode_params(x), jit_compile=True)
        self._decode_xla = tf.function(play, jit_compile=True)
        self._decode_pairs_graph = tf.function(play_pairs, input_signature=[codes, codes, details, details,
                                                                            *noise_specs])
        self._decode_pairs_xla = tf.function(play_pairs, jit_compile=True)

    def encode(self, tensors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[B, 64, 27] (a multi-task model's also [B, 64, encoder_input_size], with a condition) → (mu, sigma), each
        [B, z]. With `cache_encodings`, batches up to the largest XLA size are served from and added to a cache of
        recent encodings; larger (bulk) ones are always computed."""
        tensors = np.asarray(self.vae.encoder_input(np.asarray(tensors, np.float32)), np.float32)
        if not self._cache_encodings or len(tensors) > XLA_BATCH_SIZES[-1]:
            return tuple(self._run(self._encode_xla, self._encode_graph, (tensors,)))
        keys = [hashlib.sha1(tensor.tobytes()).digest() for tensor in tensors]
        with self._encodings_lock:
            found = [self._encodings.get(key) for key in keys]
        missing = [i for i, entry in enumerate(found) if entry is None]
        if missing:
            mu, sigma = self._run(self._encode_xla, self._encode_graph, (tensors[missing],))
            with self._encodings_lock:
                for j, i in enumerate(missing):
                    found[i] = self._encodings[keys[i]] = (mu[j], sigma[j])
                while len(self._encodings) > ENCODING_CACHE_SIZE:
                    self._encodings.popitem(last=False)
        return np.stack([entry[0] for entry in found]), np.stack([entry[1] for entry in found])

    def decode(self, z: np.ndarray, temperature: float = 0.0, seed: int = 0,
               given_hits: np.ndarray | None = None, allowed: np.ndarray | None = None,
               given_cells: np.ndarray | None = None, heads_z: np.ndarray | None = None) -> np.ndarray:
        """[B, z] → [B, 64, 27] activated outputs (hits 0/1). With `given_hits` [B, 64, 9], those are the hits, and
        the model plays only their velocities and offsets (the decoder was trained teacher-forced on true hits, so
        given hits are what it has seen); with `given_cells` [B, 64, 9] (booleans) as well, only in those cells, the
        others drawn as usual (infilling a drum, continuing after kept bars). With `allowed` [B, 64, 9] (booleans),
        hits are drawn as usual but only in the allowed cells (Drumify's "strictly on my taps"). With `heads_z`
        [B, z], the hits drawn from z are played by heads_z, step by step (`MusicVAE.decode_sampled`). A code may
        carry a seed's details after z ([B, z + detail size], explorer/refine.py)."""
        z, details = self.split_codes(z)
        temperature, seed, steps = float(temperature), int(seed) % 2**63, self.config.steps
        thresholds = sampling_thresholds(len(z), steps, temperature, seed)
        if given_hits is not None:  # a logit always passes -inf and never passes +inf
            given = np.asarray(given_hits, np.float32).reshape(len(z), steps, NUM_CLASSES)
            cells = (np.ones(given.shape, bool) if given_cells is None
                     else np.asarray(given_cells, bool).reshape(given.shape))
            thresholds = np.where(cells, np.where(given > 0.5, -np.inf, np.inf), thresholds).astype(np.float32)
        if allowed is not None:
            allowed = np.asarray(allowed, bool).reshape(len(z), steps, NUM_CLASSES)
            thresholds = np.where(allowed, thresholds, np.inf).astype(np.float32)
        noise = (thresholds, head_uniforms(len(z), steps, temperature, seed))
        # the heads' softmax temperature: T itself, or 1 at T = 0, where the median is taken
        head_temperature = np.float32(temperature if temperature > 0 else 1.0)
        if heads_z is not None:
            heads_z, heads_details = self.split_codes(heads_z)
            pairs = (z, heads_z, details, heads_details, *noise)
            return self._run(self._decode_pairs_xla, self._decode_pairs_graph, pairs, head_temperature)
        return self._run(self._decode_xla, self._decode_graph, (z, details, *noise), head_temperature)

    def detail_size(self) -> int:
        return int(np.prod(self.vae.detail_shape()))

    def join_codes(self, z: np.ndarray, details: np.ndarray | None = None) -> np.ndarray:
        """z [B, z] with details [B, *detail_shape] (default: none, zeros) flattened after it: codes
        [B, z + detail size], as `split_codes` takes them apart."""
        z = np.asarray(z, np.float32)
        details = (np.zeros((len(z), self.detail_size()), np.float32) if details is None
                   else np.asarray(details, np.float32).reshape(len(z), -1))
        return np.concatenate([z, details], axis=-1)

    def split_codes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes [B, z] or [B, z + detail size] (a seed's, with its details) → z [B, z], details [B, *detail_shape]
        (zeros for a plain code)."""
        z_size, detail_size = self.config.z_size, self.detail_size()
        codes = np.asarray(codes, np.float32)
        if codes.shape[-1] not in (z_size, z_size + detail_size):
            raise ValueError(f"codes must have {z_size} values (z) or {z_size + detail_size} (z and a seed's "
                             f"details), not {codes.shape[-1]}")
        codes = codes.reshape(-1, codes.shape[-1])
        details = (codes[:, z_size:] if codes.shape[-1] > z_size
                   else np.zeros((len(codes), detail_size), np.float32))
        return np.ascontiguousarray(codes[:, :z_size]), details.reshape(len(codes), *self.vae.detail_shape())

    def hit_logits(self, z: np.ndarray, tensors: np.ndarray) -> np.ndarray:
        """[B, 64, 9]: each cell's hit logit given z and the grooves before it (teacher-forced on `tensors`)."""
        return self._hit_logits_graph(np.asarray(z, np.float32), np.asarray(tensors, np.float32)).numpy()

    def warm_up(self, batch_sizes=XLA_BATCH_SIZES) -> None:
        """Compiles the encoder and the sampler for these batch sizes now rather than at a user's first click."""
        for size in batch_sizes:  # past the cache of encodings, which would answer every size but the first
            zeros = np.zeros((size, self.config.steps, self.config.encoder_input_size), np.float32)
            self._run(self._encode_xla, self._encode_graph, (zeros,))
            codes = np.zeros((size, self.config.z_size), np.float32)
            self.decode(codes)
            self.decode(codes, heads_z=codes)

    @staticmethod
    def _run(xla, graph, batches: tuple[np.ndarray, ...], *scalars, sizes=None):
        """Calls `xla` on the batches padded to the next of the XLA batch `sizes` (default `XLA_BATCH_SIZES`), or
        `graph` when they are larger; the scalars follow them unpadded."""
        count = len(batches[0])
        size = next((size for size in sizes or XLA_BATCH_SIZES if size >= count), None)
        if size is None:
            outputs = graph(*batches, *scalars)
        else:
            outputs = xla(*(np.concatenate([batch, np.zeros((size - count, *batch.shape[1:]), batch.dtype)])
                            for batch in batches), *scalars)
        return tf.nest.map_structure(lambda output: output.numpy()[:count], outputs)
