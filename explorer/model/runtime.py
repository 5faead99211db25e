"""The serving runtime: a `CompiledModel` wraps a MusicVAE with its inference functions traced once per shape,
recent encodings cached, and its refinement (explorer/model/refine.py) made on first use."""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf

from explorer.model.batching import XLA_BATCH_SIZES, run_padded
from explorer.model.lru import GrooveCache
from explorer.model.refine import Refiner
from explorer.model.vae import MusicVAE
from explorer.notes.drums import FEATURES, NUM_CLASSES

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


# Small batches' encodings are kept (by the tensor's bytes): the basket's seeds are encoded again on every click of
# Interpolate, Blend or Attributes, and the encoder, memory-bound, is most of such a click's model time.
ENCODING_CACHE_SIZE = 256


class CompiledModel:
    """A MusicVAE with its inference functions traced once per shape: safe to share between threads."""

    def __init__(self, vae: MusicVAE, info=None, cache_encodings: bool = False, prior=None):
        """`cache_encodings` only for weights that no longer change (a loaded checkpoint, not a training run).
        `prior`: the checkpoint's fitted sampling prior (explorer/model/prior.py), or None for N(0, I)."""
        self.vae = vae
        self.config = vae.config
        self.info = info  # the CheckpointInfo it was loaded from, if any
        self.prior = prior
        self._cache_encodings = cache_encodings
        self._encodings = GrooveCache(ENCODING_CACHE_SIZE)
        self._refiner: Refiner | None = None
        self._refiner_lock = threading.Lock()
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
            return tuple(run_padded(self._encode_xla, self._encode_graph, (tensors,)))
        def encoded(missing):
            mu, sigma = run_padded(self._encode_xla, self._encode_graph, (tensors[missing],))
            return list(zip(mu, sigma, strict=True))

        found = self._encodings.rows(GrooveCache.keys(tensors), encoded)
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
        carry a seed's details after z ([B, z + detail size], explorer/model/refine.py)."""
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
            return run_padded(self._decode_pairs_xla, self._decode_pairs_graph, pairs, head_temperature)
        return run_padded(self._decode_xla, self._decode_graph, (z, details, *noise), head_temperature)

    def refiner(self) -> Refiner:
        """This model's refinement of seeds' codes (explorer/model/refine.py), compiled on first use."""
        with self._refiner_lock:
            if self._refiner is None:
                self._refiner = Refiner(self)
            return self._refiner

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
            run_padded(self._encode_xla, self._encode_graph, (zeros,))
            codes = np.zeros((size, self.config.z_size), np.float32)
            self.decode(codes)
            self.decode(codes, heads_z=codes)
