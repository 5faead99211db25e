"""Latent maps: PCA, t-SNE and UMAP keep clusters apart, place new points, and report their progress."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer.analysis import projection


def clustered(n_per: int = 20, z: int = 16, seed: int = 0) -> np.ndarray:
    """Two well separated clusters in z dimensions."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(z, np.float32)
    centre[0] = 10.0
    return np.concatenate([rng.normal(0, 0.3, (n_per, z)), rng.normal(0, 0.3, (n_per, z)) + centre]).astype(np.float32)


def test_pca_projection_separates_clusters_and_places_new_points_exactly():
    mu = clustered()
    fitted = projection.project(mu, "PCA", 2)
    assert fitted.points.shape == (40, 2)
    first = fitted.points[:, 0]
    assert abs(first[:20].mean() - first[20:].mean()) > 9  # the separating axis is the first component
    np.testing.assert_allclose(fitted.place(mu[:5]), fitted.points[:5], atol=1e-4)
    assert projection.project(mu, "PCA", 3).place(mu[:1]).shape == (1, 3)


@pytest.mark.parametrize("method", ["t-SNE", pytest.param("UMAP", marks=pytest.mark.slow)])  # UMAP: ~30 s of numba
def test_nonlinear_projections_keep_clusters_and_place_points_among_their_neighbours(method):
    mu = clustered()
    reports = []
    fitted = projection.project(mu, method, 2, progress=lambda done, total: reports.append((done, total)))
    points = fitted.points
    gap = np.linalg.norm(points[:20].mean(axis=0) - points[20:].mean(axis=0))
    spread = max(points[:20].std(axis=0).max(), points[20:].std(axis=0).max())
    assert gap > 2 * spread
    placed = fitted.place(mu[25] + 0.01)  # a new point beside a member of the second cluster
    nearest_cluster = np.argmin([np.linalg.norm(placed - points[:20].mean(axis=0)),
                                 np.linalg.norm(placed - points[20:].mean(axis=0))])
    assert nearest_cluster == 1
    # progress: one total throughout, counts that only grow, from the start to the end
    done, totals = zip(*reports, strict=True)
    assert len(set(totals)) == 1 and totals[0] > 0, reports
    assert done[0] == 0 and done[-1] == totals[0] and all(b >= a for a, b in itertools.pairwise(done))


def test_project_refuses_bad_requests():
    with pytest.raises(ValueError, match="method"):
        projection.project(clustered(), "MDS")
    with pytest.raises(ValueError, match="dims"):
        projection.project(clustered(), "PCA", 4)
    with pytest.raises(ValueError, match="more than"):
        projection.project(clustered()[:2], "PCA", 2)


def test_tsne_reports_each_phase_once_through_to_its_total():
    reports = []
    projection.project(clustered(), "t-SNE", 3, progress=lambda done, total: reports.append(done))
    total = projection.TSNE_EXAGGERATION_ITERATIONS + projection.TSNE_ITERATIONS
    assert reports == list(range(0, total + 1, projection.PROGRESS_EVERY))


def test_umap_epochs_are_read_from_its_bar():
    reports = []
    counter = projection._EpochCounter(lambda done, total: reports.append((done, total)))
    for text in ("\r0/200", "\r17/200", "\r", "\r200/200\n"):  # what tqdm writes with bar_format "{n}/{total}"
        counter.write(text)
    assert reports == [(0, 200), (17, 200), (200, 200)]
