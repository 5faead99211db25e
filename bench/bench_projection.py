"""How long the latent map's projections take, on the shipped checkpoint's encodings of real GMD windows.

    GROOVE_DIR=... python -m bench.bench_projection [--sizes 1150 5000] [--write]

For each size (an even spread of all windows, as the map's t-SNE cap takes them): PCA, t-SNE as the app runs it
(openTSNE, Barnes-Hut) beside scikit-learn's, and UMAP (after one untimed run that compiles its numba code). 2-D.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.report import machine, publish
from explorer.analysis.projection import project
from explorer.datasets import gmd
from explorer.model import checkpoints


def sklearn_tsne(mu: np.ndarray) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=float(min(30.0, (len(mu) - 1) / 3)), init="pca", random_state=0).fit_transform(mu)


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run(sizes: list[int]) -> list[str]:
    model = checkpoints.load_model()
    windows = gmd.load_windows()
    project(np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32), "UMAP")  # numba compiles once
    lines = [f"`python -m bench.bench_projection` on {machine()}; checkpoint `{model.info.name}`; seconds for a "
             "2-D map of an even spread of GMD's windows.", "",
             "| windows | PCA | t-SNE (openTSNE, Barnes-Hut: the app's) | t-SNE (scikit-learn) | UMAP |",
             "|---:|---:|---:|---:|---:|"]
    for size in sizes:
        rows = np.linspace(0, len(windows) - 1, min(size, len(windows))).round().astype(int)
        mu, _ = model.encode(windows.tensors[rows])
        runs = (lambda mu=mu: project(mu, "PCA"), lambda mu=mu: project(mu, "t-SNE"), lambda mu=mu: sklearn_tsne(mu),
                lambda mu=mu: project(mu, "UMAP"))
        times = [seconds(fit) for fit in runs]
        lines.append(f"| {len(rows):,} | " + " | ".join(f"{t:.1f}" for t in times) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1150, 5000])
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    publish("Latent map projections", run(args.sizes), args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
