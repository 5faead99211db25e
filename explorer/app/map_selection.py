"""The latent map's windows and selection: which windows a map encodes, the points picked on it, and a spread
of them to show as cards."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

MAP_SUBSETS = {  # how many 4-bar windows the latent map encodes: few enough by default to stay responsive
    "one": "one window per performance",
    "every4": "every 4th bar (non-overlapping windows)",
    "all": "every window (slow the first time: ~20k on the full set)",
}


def spread_selection(rows: Sequence[int], meta: pd.DataFrame, limit: int) -> list[int]:
    """Up to `limit` of the selected window rows that show the selection's range: one window per performance
    (its first selected), spread evenly over the performances in the order of the selection; with fewer
    performances than `limit`, further windows of theirs, spread likewise."""
    rows = list(rows)
    if len(rows) <= limit:
        return rows
    files = meta["midi_filename"].to_numpy()[rows]
    _, first = np.unique(files, return_index=True)
    firsts = [rows[i] for i in sorted(first)]
    if len(firsts) >= limit:
        return [firsts[i] for i in np.linspace(0, len(firsts) - 1, limit).round().astype(int)]
    taken = set(firsts)
    others = [r for r in rows if r not in taken]
    extra = [others[i] for i in np.linspace(0, len(others) - 1, limit - len(firsts)).round().astype(int)]
    return sorted(firsts + extra, key=rows.index)


def kept_selection(previous: dict | None, picked: list[int], context: tuple, color_by: str) -> dict:
    """The map's selection to show, across reruns: a new selection replaces the old; an empty one clears it, except
    right after "Colour by" changed, whose redraw empties the chart's selection without the user asking (the same
    map in another colour keeps its selection). `context` names the map (its windows, projection, dimensions)."""
    if picked or not previous or previous["context"] != context or previous["color_by"] == color_by:
        return {"rows": list(picked), "context": context, "color_by": color_by}
    return {**previous, "color_by": color_by}


# t-SNE's cost grows faster than the number of points: openTSNE took 7.7 s for 5,000 windows on 2 quiet cores,
# scikit-learn's ~96 s for all 20,236 on 2 loaded ones (docs/BENCHMARKS.md). Maps asking for more are drawn from an
# even spread of this many, and say so; PCA and UMAP draw every window.
TSNE_MAX_WINDOWS = 5000


def capped_for_projection(rows: np.ndarray, method: str) -> np.ndarray:
    """The map's rows, or for t-SNE at most TSNE_MAX_WINDOWS of them, evenly spread (the same ones every time)."""
    if method != "t-SNE" or len(rows) <= TSNE_MAX_WINDOWS:
        return rows
    return rows[np.linspace(0, len(rows) - 1, TSNE_MAX_WINDOWS).round().astype(int)]


def map_subset(meta: pd.DataFrame, mode: str, files: Sequence[str] | None = None) -> np.ndarray:
    """Row numbers of the windows the latent map shows: of the performances in `files` (None = all), per MAP_SUBSETS.

    "one" takes each performance's middle window, so the map has one point per recording.
    """
    if mode not in MAP_SUBSETS:
        raise ValueError(f"mode must be one of {', '.join(MAP_SUBSETS)}")
    keep = np.ones(len(meta), bool) if files is None else meta["midi_filename"].isin(list(files)).to_numpy()
    if mode == "every4":
        keep &= (meta["start_bar"] % 4 == 0).to_numpy()
    rows = np.flatnonzero(keep)
    if mode == "one" and len(rows):
        names = meta["midi_filename"].to_numpy()[rows]
        _, first, counts = np.unique(names, return_index=True, return_counts=True)
        rows = np.sort(rows[first + counts // 2])  # windows of a file are contiguous rows
    return rows


def selected_rows(points: Sequence[dict]) -> list[int]:
    """The `customdata` of each selected point (a meta row on `plots.latent_map`, a bar on `plots.performance_roll`),
    sorted, once each; points of traces without customdata (seeds, results) are left out. Plotly sends a scalar or
    a one-element list."""
    rows = set()
    for point in points:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is not None:
            rows.add(int(data))
    return sorted(rows)


def window_start_at(starts: Sequence[int], bar: int) -> int:
    """The 4-bar window that a click on `bar` (0-based) of a whole performance chooses, by its start bar: the last
    window starting at or before that bar (the one that holds it, where the performance has one)."""
    before = [start for start in starts if start <= bar]
    return max(before) if before else min(starts)


def rows_key(rows: np.ndarray) -> str:
    """A short stable key of a set of window rows, for caches."""
    return hashlib.sha1(np.asarray(rows, np.int64).tobytes()).hexdigest()[:16]
