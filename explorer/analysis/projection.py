"""Latent vectors → a 2-D or 3-D map: PCA, t-SNE (openTSNE) or UMAP, reporting progress as they go.

t-SNE and UMAP take seconds to a minute on thousands of windows, so both say how far they are: openTSNE calls back
every PROGRESS_EVERY iterations of its two phases, and UMAP's epochs are counted from its tqdm bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PROJECTIONS = ("PCA", "t-SNE", "UMAP")
# How extra points (seeds, generated grooves) land on a t-SNE or UMAP map, which cannot place new points exactly:
# at the mean position of their nearest dataset windows in latent space.
PLACEMENT_NEIGHBOURS = 5
# openTSNE's schedule (its defaults): early exaggeration, then the main optimisation; progress every 25 iterations.
TSNE_EXAGGERATION_ITERATIONS, TSNE_ITERATIONS, PROGRESS_EVERY = 250, 500, 25
# Barnes-Hut on every core: 7.7 s for 5,000 GMD windows on 2 quiet cores, against 13.9 s on one and scikit-learn's
# 11.1 s (FFT: 56 s against Barnes-Hut's 27 s on loaded cores); docs/BENCHMARKS.md. FFT wins only far beyond the
# map's cap (explorer/app/ui.py, TSNE_MAX_WINDOWS).
TSNE_GRADIENT, TSNE_JOBS = "bh", -1

Progress = Callable[[int, int], None]  # (iterations or epochs done, of total); total stays the same throughout


@dataclass(frozen=True)
class Projection:
    """A 2-D or 3-D projection of latent vectors, able to place new vectors on the same map."""

    method: str
    points: np.ndarray  # [N, dims]
    mu: np.ndarray  # [N, z]: the vectors it was fitted on
    components: np.ndarray | None = None  # PCA: [dims, z]
    mean: np.ndarray | None = None  # PCA: [z]

    def place(self, mu: np.ndarray) -> np.ndarray:
        """[M, z] → [M, dims]: exact for PCA; for t-SNE/UMAP the mean of the PLACEMENT_NEIGHBOURS nearest windows."""
        mu = np.atleast_2d(np.asarray(mu, np.float32))
        if len(mu) == 0:
            return np.zeros((0, self.points.shape[1]), np.float32)
        if self.components is not None:
            return ((mu - self.mean) @ self.components.T).astype(np.float32)
        distances = ((mu[:, None, :] - self.mu[None, :, :]) ** 2).sum(axis=2)
        k = min(PLACEMENT_NEIGHBOURS, len(self.mu))
        nearest = np.argsort(distances, axis=1)[:, :k]
        return self.points[nearest].mean(axis=1).astype(np.float32)


def project(mu: np.ndarray, method: str = "PCA", dims: int = 2, seed: int = 0,
            progress: Progress | None = None) -> Projection:
    """Fit a projection of `mu` [N, z] (N ≥ dims + 1) to `dims` dimensions with PCA, t-SNE or UMAP. `progress` hears
    how far t-SNE's iterations or UMAP's epochs are (PCA is instant)."""
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {', '.join(PROJECTIONS)}")
    if dims not in (2, 3):
        raise ValueError("dims must be 2 or 3")
    mu = np.asarray(mu, np.float32)
    if len(mu) <= dims:
        raise ValueError(f"a {dims}-D map needs more than {dims} points")
    if method == "PCA":
        mean = mu.mean(axis=0)
        _, _, vt = np.linalg.svd(mu - mean, full_matrices=False)
        components = vt[:dims]
        return Projection(method, ((mu - mean) @ components.T).astype(np.float32), mu, components, mean)
    report = progress or (lambda done, total: None)
    points = _tsne(mu, dims, seed, report) if method == "t-SNE" else _umap(mu, dims, seed, report)
    return Projection(method, np.asarray(points, np.float32), mu)


def _tsne(mu: np.ndarray, dims: int, seed: int, progress: Progress) -> np.ndarray:
    import openTSNE

    total = TSNE_EXAGGERATION_ITERATIONS + TSNE_ITERATIONS
    done = [0]

    def callback(iteration, error, embedding) -> bool:  # the iteration count restarts with each phase: count calls
        done[0] = min(done[0] + PROGRESS_EVERY, total)
        progress(done[0], total)
        return False  # go on

    progress(0, total)
    tsne = openTSNE.TSNE(dims, perplexity=float(min(30.0, (len(mu) - 1) / 3)), initialization="pca",
                         early_exaggeration_iter=TSNE_EXAGGERATION_ITERATIONS, n_iter=TSNE_ITERATIONS,
                         negative_gradient_method=TSNE_GRADIENT, random_state=seed, n_jobs=TSNE_JOBS,
                         callbacks=callback, callbacks_every_iters=PROGRESS_EVERY)
    return np.asarray(tsne.fit(mu))


class _EpochCounter:
    """A file for UMAP's tqdm bar, drawn as "n/total": each write tells `progress` how many epochs are done."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def write(self, text: str) -> None:
        counts = re.findall(r"(\d+)/(\d+)", text)
        if counts:
            self.progress(*map(int, counts[-1]))

    def flush(self) -> None:
        pass


def _umap(mu: np.ndarray, dims: int, seed: int, progress: Progress) -> np.ndarray:
    import umap  # imported here: it takes seconds (numba)

    bar = {"disable": False, "file": _EpochCounter(progress), "bar_format": "{n}/{total}", "mininterval": 0.25}
    return umap.UMAP(n_components=dims, n_neighbors=int(min(15, len(mu) - 1)), random_state=seed, n_jobs=1,
                     tqdm_kwds=bar).fit_transform(mu)
