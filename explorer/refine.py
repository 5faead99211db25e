"""Faithful encoding: each seed's latent code refined by gradient steps (semi-amortised inference).

The encoder guesses a code in one shot, and its guess is not the best code for a given seed: reconstructions from
mu lose about a quarter of the hits (model card). Kim et al. (2018, "Semi-Amortized Variational Autoencoders") start
from the encoder's mu and take gradient steps on z. Here the objective is the seed's teacher-forced negative
log-likelihood (its hits, and its velocities and offsets on its hits; the hits' part weighted by `hit_weight`) plus
`prior_weight` · ½‖z‖², a pull towards the prior so that paths and attribute moves stay where the decoder knows its
way. Adam on z, a fixed number of steps, the whole loop one XLA program per batch size; the code returned is the best
one seen whose (weighted) likelihood is no worse than mu's (so refinement never lowers the seed's likelihood).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from explorer.groove import FEATURES, NUM_CLASSES
from explorer.model import MusicVAE, reconstruction_terms


@dataclass(frozen=True)
class RefineOptions:
    steps: int = 30  # measured in the model card: F1 against steps, and the time per seed
    learning_rate: float = 0.1
    prior_weight: float = 0.1
    hit_weight: float = 1.0  # the hits' weight in the objective: 1 is the seed's likelihood (measured: model card)


def likelihood_terms(vae: MusicVAE, x, z):
    """(−log p(x | z) teacher-forced, its hits' part, ½‖z‖²), per example."""
    logits = vae.decode_teacher_forced(z, x)
    hits = tf.nn.sigmoid_cross_entropy_with_logits(labels=x[..., :NUM_CLASSES], logits=logits[..., :NUM_CLASSES])
    return (tf.reduce_sum(reconstruction_terms(x, logits, vae.config), axis=[1, 2]), tf.reduce_sum(hits, axis=[1, 2]),
            0.5 * tf.reduce_sum(tf.square(z), axis=-1))


def refine_loop(vae: MusicVAE, x, mu, steps, learning_rate, prior_weight, hit_weight):
    """The refined codes [B, z] of grooves x [B, T, 27] from their mu: `steps` Adam steps on z (β 0.9, 0.999)."""
    def objective(z):
        nll, hit_nll, size = likelihood_terms(vae, x, z)
        weighted = nll + (hit_weight - vae.config.hit_weight) * hit_nll  # the hits weighted by hit_weight
        return weighted, weighted + prior_weight * size

    start_nll, _ = objective(mu)

    def body(t, z, m, v, best, best_objective):
        with tf.GradientTape() as tape:
            tape.watch(z)
            nll, value = objective(z)
            total = tf.reduce_sum(value)
        gradient = tape.gradient(total, z)
        better = (value < best_objective) & (nll <= start_nll)
        best = tf.where(better[:, None], z, best)
        best_objective = tf.where(better, value, best_objective)
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * tf.square(gradient)
        count = tf.cast(t + 1, tf.float32)
        z = z - learning_rate * (m / (1 - 0.9**count)) / (tf.sqrt(v / (1 - 0.999**count)) + 1e-8)
        return t + 1, z, m, v, best, best_objective

    unseen = tf.fill(tf.shape(mu)[:1], np.float32(np.inf))
    _, z, _, _, best, best_objective = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), mu, tf.zeros_like(mu), tf.zeros_like(mu), mu, unseen))
    nll, value = objective(z)  # the last step's code, not yet scored inside the loop
    last_better = (value < best_objective) & (nll <= start_nll)
    return tf.where(last_better[:, None], z, best)


REFINED_CACHE_SIZE = 256  # codes kept per model, by the groove's bytes: the basket's seeds are refined once


class Refiner:
    """A model's refinement, compiled once per batch size (XLA up to the largest of `XLA_BATCH_SIZES`), with the
    codes of recent grooves kept. Safe to share between threads."""

    def __init__(self, model):
        from explorer.model import XLA_BATCH_SIZES

        self.model = model
        self._max_cached_batch = XLA_BATCH_SIZES[-1]
        vae = model.vae
        self._xla = tf.function(lambda x, mu, *args: refine_loop(vae, x, mu, *args), jit_compile=True)
        self._graph = tf.function(lambda x, mu, *args: refine_loop(vae, x, mu, *args))
        self._codes: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self, batch_sizes) -> None:
        """Compiles the refinement for these batch sizes now rather than at a user's first click (~10 s each)."""
        steps = self.model.config.steps
        for size in batch_sizes:
            zeros = np.zeros((size, steps, FEATURES), np.float32)
            self.model._run(self._xla, self._graph, (zeros, np.zeros((size, self.model.config.z_size), np.float32)),
                            np.int32(1), np.float32(0.1), np.float32(0.1), np.float32(1.0))

    def codes(self, tensors: np.ndarray, options: RefineOptions = RefineOptions()) -> np.ndarray:
        """The refined codes [B, z] of grooves [B, T, 27]; with 0 steps, their mu."""
        tensors = np.asarray(tensors, np.float32)
        mu, _ = self.model.encode(tensors)
        if options.steps <= 0 or not len(tensors):
            return mu
        salt = repr(options).encode()
        keys = [hashlib.sha1(tensor.tobytes() + salt).digest() for tensor in tensors]
        with self._lock:
            found = [self._codes.get(key) for key in keys]
        missing = [i for i, code in enumerate(found) if code is None]
        if missing:
            scalars = (np.int32(options.steps), np.float32(options.learning_rate), np.float32(options.prior_weight),
                       np.float32(options.hit_weight))
            refined = self.model._run(self._xla, self._graph, (tensors[missing], mu[missing]), *scalars)
            with self._lock:
                for j, i in enumerate(missing):
                    found[i] = refined[j]
                    if len(tensors) <= self._max_cached_batch:
                        self._codes[keys[i]] = refined[j]
                while len(self._codes) > REFINED_CACHE_SIZE:
                    self._codes.popitem(last=False)
        return np.stack(found)


_refiners_lock = threading.Lock()


def refiner(model) -> Refiner:
    """The one Refiner of a loaded model, kept on it (compiled on first use)."""
    with _refiners_lock:
        if getattr(model, "refiner", None) is None:
            model.refiner = Refiner(model)
        return model.refiner
