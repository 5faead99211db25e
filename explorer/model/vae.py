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

import keras
import numpy as np
import tensorflow as tf

from explorer.model.conditions import condition
from explorer.model.config import ModelConfig
from explorer.notes.drums import FEATURES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR

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
    The heads' loss, hundreds of nats a window against the hits' tens, otherwise decides what z carries."""
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
        bars as refined to play the seed, explorer/model/refine.py)."""
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
        what was played (a seed's two codes, explorer/model/refine.py). `details`, `heads_details` [B, *detail_shape]:
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
        and with z = mu. `compute_dtype` bf16 multiplies in bf16 (explorer/model/precision.py); sums, states and the
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

    def parameter_count(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.named.values()))


