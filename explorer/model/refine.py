"""Faithful encoding: each seed's codes refined by gradient steps (semi-amortised inference).

The encoder guesses a code in one shot, and its guess is not the best code for a given seed: reconstructions from
mu lose about a quarter of the hits (model card). Kim et al. (2018, "Semi-Amortized Variational Autoencoders") start
from the encoder's mu and take gradient steps. Refining z itself (before 2026-12-05) stopped near hit F1 0.85 in the
app's time: 256 numbers cannot say where each of a performance's hits falls and how it is played. So z stays the
encoder's mu, and what is refined is each bar's condition of the bar decoder (the conductor's embedding of the bar;
a flat decoder's one condition): a seed's *details*, [bars, condition], added to what the conductor makes of z
(`MusicVAE.conditions`). A seed's code is [z | details] (`CODE LAYOUT` below): paths, blends and variations mix the
details as they mix z, and attribute vectors move z under the seed's details.

A seed gets two codes, each with its own details: the *hits code*, refined for the seed's hits (their
teacher-forced −log p, weighted 10 against the velocities' and offsets'), says where the hits fall; the *heads
code*, refined for the seed's velocities and offsets on its hits, plays them (`decode_codes`). Each objective also
has `pull_weight` · ½‖details‖², a pull towards the conductor's own embeddings. Adam for a fixed number of steps,
the seeds' codes of one objective in one batch, the whole loop one XLA program per batch size. Each code returned
is the best one seen whose objective (without the pull) is no worse than mu's: refinement never makes a seed less
likely under its code's objective.

CODE LAYOUT: a seed's code is z (`config.z_size`) followed by its details flattened (`CompiledModel.detail_size`);
`CompiledModel.join_codes` makes one and `split_codes` takes it apart; a plain z is a code whose details are 0.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from explorer.model.batching import run_padded
from explorer.model.lru import GrooveCache
from explorer.model.vae import MusicVAE, head_terms, hit_terms
from explorer.notes.drums import FEATURES

# A seed's codes along the codes' axis, with each one's objective: (the hits' weight, the heads' weight).
HITS_CODE = (10.0, 1.0)  # on validation windows hits ×10, ×30 and ×100 kept as many hits, ×1 fewer (model card)
HEADS_CODE = (0.0, 1.0)  # the heads alone: the hits it plays are the hits code's


@dataclass(frozen=True)
class RefineOptions:
    steps: int = 30  # measured in the model card: F1 against steps, and the time per seed
    learning_rate: float = 0.05  # the conditions are LSTM outputs, in (−1, 1)
    momentum: float = 0.5  # Adam's β1: on validation windows 0.5–0.7 kept more hits in 30 steps than 0.9 (model card)
    pull_weight: float = 0.1  # on validation windows 0 and 0.1 kept as much, 1 less (model card)
    # One code per (hits' weight, heads' weight). Two: the hits code, then the heads code (`decode_codes` plays the
    # first's hits with the second's velocities and offsets).
    objectives: tuple[tuple[float, float], ...] = (HITS_CODE, HEADS_CODE)

    def __post_init__(self):
        if len(self.objectives) == 2 and self.objectives[1][0] != 0:
            raise ValueError("the second of two codes is the heads code: its hits' weight must be 0")


def likelihood_terms(vae: MusicVAE, x, conditions):
    """(−log p of the hits of x, of its velocities and offsets (the heads)) per example, teacher-forced on the bars'
    conditions [B, bars, condition] (`MusicVAE.conditions` of a code and its details)."""
    logits = vae.decode_conditioned(conditions, x)
    return (tf.reduce_sum(hit_terms(x, logits), axis=[1, 2]),
            tf.reduce_sum(head_terms(x, logits, vae.config), axis=[1, 2]))


def refine_loop(vae: MusicVAE, x, mu, weights, steps, learning_rate, momentum, pull_weight):
    """The refined details [B, *detail_shape] of grooves x [B, T, 27] at z = mu: `steps` Adam steps (β1
    `momentum`, β2 0.999), the objective weighting the hits and the heads by `weights` [2]."""
    conditions = vae.conditions(mu)  # the conductor runs once: only the details are refined

    def objective(details):
        hits, heads = likelihood_terms(vae, x, conditions + details)
        weighted = weights[0] * hits + weights[1] * heads
        return weighted, weighted + pull_weight * 0.5 * tf.reduce_sum(tf.square(details), axis=[1, 2])

    start = tf.zeros(tf.concat([tf.shape(mu)[:1], vae.detail_shape()], 0))
    start_nll, _ = objective(start)

    def body(t, details, m, v, best, best_objective):
        with tf.GradientTape() as tape:
            tape.watch(details)
            nll, value = objective(details)
            total = tf.reduce_sum(value)
        gradient = tape.gradient(total, details)
        better = (value < best_objective) & (nll <= start_nll)
        best = tf.where(better[:, None, None], details, best)
        best_objective = tf.where(better, value, best_objective)
        m = momentum * m + (1 - momentum) * gradient
        v = 0.999 * v + 0.001 * tf.square(gradient)
        count = tf.cast(t + 1, tf.float32)
        details = details - learning_rate * (m / (1 - momentum**count)) / (tf.sqrt(v / (1 - 0.999**count)) + 1e-8)
        return t + 1, details, m, v, best, best_objective

    unseen = tf.fill(tf.shape(mu)[:1], np.float32(np.inf))
    _, details, _, _, best, best_objective = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), start, start, start, start, unseen))
    nll, value = objective(details)  # the last step's details, not yet scored inside the loop
    last_better = (value < best_objective) & (nll <= start_nll)
    return tf.where(last_better[:, None, None], details, best)


def decode_codes(model, codes: np.ndarray, temperature: float = 0.0, seed: int = 0,
                 given_hits: np.ndarray | None = None, given_cells: np.ndarray | None = None,
                 allowed: np.ndarray | None = None) -> np.ndarray:
    """Tensors [N, steps, 27] of codes [N, z] (each played whole) or of seeds' codes [N, 2, z + detail size]
    (`RefineOptions`' order; CODE LAYOUT): the hits drawn from each hits code, or `given_hits` [N, steps, 9],
    played by its heads code (the two decoders step by step, both reading back what was played). `given_cells`
    and `allowed` as `CompiledModel.decode` takes them: the given hits only in those cells, the others drawn by the
    hits code; hits only in the allowed cells."""
    codes = np.asarray(codes, np.float32)
    if codes.ndim == 2:
        return model.decode(codes, temperature, seed, given_hits=given_hits, given_cells=given_cells,
                            allowed=allowed)
    if codes.ndim != 3 or codes.shape[1] != 2:
        raise ValueError(f"codes must be [N, code] or [N, 2, code] (hits code, heads code), not "
                         f"{list(codes.shape)}")
    if given_hits is None or given_cells is not None:
        return model.decode(codes[:, 0], temperature, seed, given_hits=given_hits, given_cells=given_cells,
                            allowed=allowed, heads_z=codes[:, 1])
    return model.decode(codes[:, 1], temperature, seed, given_hits=given_hits, allowed=allowed)


REFINED_CACHE_SIZE = 256  # seeds' codes kept per model, by the groove's bytes: the basket's seeds are refined once
# XLA programs for one seed (a reconstruction, a move), up to four (paths, blends) and sixteen (benchmarks); larger
# batches run as a graph.
XLA_SEEDS = (1, 4, 16)
# A small batch's XLA program runs on one core: each code's batch runs beside the other's (one seed's two codes,
# measured: 310–330 ms side by side, 380–450 ms as one batch of two rows, 250–300 ms for one code alone).
_CODE_WORKERS = ThreadPoolExecutor(2, thread_name_prefix="refine")


class Refiner:
    """A model's refinement, compiled once per batch size, with the codes of recent grooves kept. Safe to share
    between threads."""

    def __init__(self, model):
        self.model = model
        vae = model.vae
        self._xla = tf.function(lambda x, mu, *args: refine_loop(vae, x, mu, *args), jit_compile=True)
        self._graph = tf.function(lambda x, mu, *args: refine_loop(vae, x, mu, *args))
        self._codes = GrooveCache(REFINED_CACHE_SIZE)

    def warm_up(self, seed_counts) -> None:
        """Compiles the refinement for these numbers of seeds now rather than at a user's first click (~10 s each)."""
        for count in seed_counts:
            zeros = np.zeros((count, self.model.config.steps, FEATURES), np.float32)
            self._refine(zeros, np.zeros((count, self.model.config.z_size), np.float32), RefineOptions(steps=1))

    def _refine(self, tensors: np.ndarray, mu: np.ndarray, options: RefineOptions) -> np.ndarray:
        """[B, codes, z + detail size]: each objective's code of every groove, the codes' batches side by side."""
        scalars = (np.int32(options.steps), np.float32(options.learning_rate), np.float32(options.momentum),
                   np.float32(options.pull_weight))

        def refined(objective):
            weights = np.asarray(objective, np.float32)
            details = run_padded(self._xla, self._graph, (tensors, mu), weights, *scalars, sizes=XLA_SEEDS)
            return self.model.join_codes(mu, details)

        return np.stack(list(_CODE_WORKERS.map(refined, options.objectives)), axis=1)

    def codes(self, tensors: np.ndarray, options: RefineOptions = RefineOptions()) -> np.ndarray:
        """The refined codes [B, codes, z + detail size] of grooves [B, T, 27] (CODE LAYOUT), one per objective of
        `options`; with 0 steps, their mu with no details."""
        tensors = np.asarray(tensors, np.float32)
        mu, _ = self.model.encode(tensors)
        if options.steps <= 0 or not len(tensors):
            return np.repeat(self.model.join_codes(mu)[:, None], len(options.objectives), axis=1)
        return np.stack(self._codes.rows(GrooveCache.keys(tensors, repr(options).encode()),
                                         lambda missing: self._refine(tensors[missing], mu[missing], options),
                                         keep=len(tensors) <= XLA_SEEDS[-1]))  # not a bulk batch's
