"""Plotly figures for the app: the drum roll of a groove, the dataset's distributions and the latent map.

Plain functions from data to `go.Figure` (and the projection behind the map), so tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.groove import DRUM_CLASSES, STEPS_PER_BAR, STEPS_PER_QUARTER, Groove, step_seconds

VELOCITY_COLORSCALE = "Viridis"
ROLL_LANE_HEIGHT = 26  # pixels per drum lane
FINE_GRID_MAX_BARS = 8  # 16th-note grid lines only up to this length: longer rolls get beat lines alone
PROJECTIONS = ("PCA", "t-SNE", "UMAP")
# How extra points (seeds, generated grooves) land on a t-SNE or UMAP map, which cannot place new points exactly:
# at the mean position of their nearest dataset windows in latent space.
PLACEMENT_NEIGHBOURS = 5
OVERLAY_SYMBOLS = {"seed": "star", "generated": "diamond", "path": "circle-open"}
OVERLAY_COLORS = {"seed": "gold", "generated": "crimson", "path": "deepskyblue"}
OVERLAY_SYMBOLS_3D = {"seed": "diamond", "generated": "square", "path": "circle-open"}  # 3-D has fewer symbols


# --- drum roll ---------------------------------------------------------------------------------


def drum_roll_frame(groove: Groove, bpm: float | None = None) -> pd.DataFrame:
    """One row per hit: lane (drum class), step, position in bars (1 = the first downbeat, shifted by the
    micro-timing: a hit played early sits left of its grid line), MIDI velocity and the offset in ms (+ = early)."""
    bpm = float(bpm or groove.bpm)
    steps, lanes = np.nonzero(groove.hits > 0.5)
    offsets = groove.offsets[steps, lanes].astype(float)
    return pd.DataFrame({
        "lane": lanes.astype(int),
        "drum": [DRUM_CLASSES[i] for i in lanes],
        "step": steps.astype(int),
        "bar_position": 1.0 + (steps - offsets / 2.0) / STEPS_PER_BAR,
        "velocity": np.clip(np.round(groove.velocities[steps, lanes] * 127), 1, 127).astype(int),
        "offset_ms": offsets / 2.0 * step_seconds(bpm) * 1000.0,
    })


def _timing_words(offset_ms: float) -> str:
    if abs(offset_ms) < 0.5:
        return "on the grid"
    return f"{abs(offset_ms):.0f} ms {'early' if offset_ms > 0 else 'late'}"


def drum_roll(groove: Groove, bpm: float | None = None, title: str = "") -> go.Figure:
    """The groove as 9 lanes of hits: x in bars, marker colour and size by velocity, micro-timing as displacement
    from the grid lines."""
    hits = drum_roll_frame(groove, bpm)
    bars = max(groove.bars, 1.0)
    hover = [f"{d}<br>bar {1 + s // STEPS_PER_BAR}, 16th {1 + s % STEPS_PER_BAR}<br>velocity {v}<br>{_timing_words(o)}"
             for d, s, v, o in zip(hits["drum"], hits["step"], hits["velocity"], hits["offset_ms"], strict=True)]
    figure = go.Figure()
    for x, width, alpha in _grid_lines(bars):  # first: drawn behind the hits
        figure.add_trace(go.Scatter(x=x, y=np.tile([-0.6, len(DRUM_CLASSES) - 0.4, np.nan], len(x) // 3),
                                    mode="lines", line={"width": width, "color": f"rgba(128,128,128,{alpha})"},
                                    hoverinfo="skip", showlegend=False))
    figure.add_trace(go.Scatter(
        x=hits["bar_position"], y=hits["lane"], mode="markers", hovertext=hover, hoverinfo="text",
        marker={"color": hits["velocity"], "cmin": 0, "cmax": 127, "colorscale": VELOCITY_COLORSCALE,
                "size": 5 + 9 * hits["velocity"] / 127, "line": {"width": 0},
                "colorbar": {"title": {"text": "vel"}, "thickness": 10, "len": 0.9}},
        showlegend=False))
    figure.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=ROLL_LANE_HEIGHT * len(DRUM_CLASSES) + (70 if title else 45),
        margin={"l": 10, "r": 10, "t": 30 if title else 8, "b": 30},
        xaxis={"range": [0.97, 1.0 + bars + 0.03], "tickmode": "array",
               "tickvals": list(range(1, int(bars) + 1)), "title": None, "showgrid": False, "zeroline": False},
        yaxis={"tickmode": "array", "tickvals": list(range(len(DRUM_CLASSES))), "ticktext": list(DRUM_CLASSES),
               "range": [-0.6, len(DRUM_CLASSES) - 0.4], "showgrid": True, "zeroline": False,
               "gridcolor": "rgba(128,128,128,0.12)"},
        plot_bgcolor="rgba(0,0,0,0)")
    return figure


def _grid_lines(bars: float) -> list[tuple[np.ndarray, float, float]]:
    """(x with a NaN after each line, width, opacity) for bar, beat and 16th lines; one trace each, behind the hits
    (a trace per style draws in milliseconds; plotly's add_vline per line takes seconds for a 4-bar roll)."""
    lines_per_bar = STEPS_PER_BAR if bars <= FINE_GRID_MAX_BARS else STEPS_PER_QUARTER
    positions = np.arange(int(bars * lines_per_bar) + 1)
    styles = [(positions % lines_per_bar == 0, 1.2, 0.45)]
    if lines_per_bar == STEPS_PER_BAR:
        beat = positions % STEPS_PER_QUARTER == 0
        styles += [(beat & (positions % lines_per_bar != 0), 0.8, 0.22), (~beat, 0.6, 0.08)]
    else:
        styles.append((positions % lines_per_bar != 0, 0.8, 0.22))
    result = []
    for mask, width, alpha in styles:
        x = 1.0 + positions[mask] / lines_per_bar
        result.append((np.column_stack([x, x, np.full_like(x, np.nan)]).ravel(), width, alpha))
    return result


# --- dataset distributions ---------------------------------------------------------------------


def count_chart(df: pd.DataFrame, column: str, title: str) -> go.Figure:
    """Performances per value of `column`, most frequent first."""
    counts = df[column].astype(str).value_counts()
    figure = go.Figure(go.Bar(x=counts.index.tolist(), y=counts.to_numpy(), marker_color="#4c78a8"))
    figure.update_layout(title=title, height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         yaxis_title="performances")
    return figure


def bpm_chart(df: pd.DataFrame, bin_bpm: int = 10) -> go.Figure:
    """A histogram of the tempos, in `bin_bpm`-wide bins."""
    figure = go.Figure(go.Histogram(x=df["bpm"], xbins={"size": bin_bpm}, marker_color="#f58518"))
    figure.update_layout(title="Tempo (bpm)", height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         yaxis_title="performances", bargap=0.05)
    return figure


# --- latent map --------------------------------------------------------------------------------


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


def project(mu: np.ndarray, method: str = "PCA", dims: int = 2, seed: int = 0) -> Projection:
    """Fit a projection of `mu` [N, z] (N ≥ dims + 1) to `dims` dimensions with PCA, t-SNE or UMAP."""
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
    if method == "t-SNE":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (len(mu) - 1) / 3))
        points = TSNE(dims, perplexity=perplexity, init="pca", random_state=seed).fit_transform(mu)
    else:
        import umap  # imported here: it takes seconds (numba)

        neighbours = int(min(15, len(mu) - 1))
        points = umap.UMAP(n_components=dims, n_neighbors=neighbours, random_state=seed, n_jobs=1).fit_transform(mu)
    return Projection(method, np.asarray(points, np.float32), mu)


def latent_map(points: np.ndarray, meta: pd.DataFrame, color_by: str,
               overlays: pd.DataFrame | None = None, height: int = 560) -> go.Figure:
    """Dataset windows as a scatter (2-D or 3-D, from `points`), coloured by a meta column; hover names the
    performance; `customdata` holds each point's row in `meta` so selections map back to windows.

    `overlays` (columns x, y[, z], label, kind in OVERLAY_SYMBOLS, optional group) draws seeds, generated grooves
    and paths on top; rows of kind "path" with the same group are joined by a line in order.
    """
    dims = points.shape[1]
    scatter = go.Scatter3d if dims == 3 else go.Scattergl
    hover = (meta["midi_filename"].astype(str) + "<br>bar " + (meta["start_bar"] + 1).astype(str) + " · "
             + meta["genre"].astype(str) + " · " + meta["drummer"].astype(str) + " · "
             + meta["bpm"].astype(str) + " bpm · " + meta["beat_type"].astype(str)).tolist()
    figure = go.Figure()
    rows = np.arange(len(meta))

    def coords(mask) -> dict:
        axes = {"x": points[mask, 0], "y": points[mask, 1]}
        if dims == 3:
            axes["z"] = points[mask, 2]
        return axes

    size = 3 if dims == 3 else 6
    if color_by == "bpm":
        figure.add_trace(scatter(
            **coords(slice(None)), mode="markers", name="windows", customdata=rows, hovertext=hover,
            hoverinfo="text", marker={"size": size, "color": meta["bpm"], "colorscale": "Turbo", "opacity": 0.8,
                                      "colorbar": {"title": {"text": "bpm"}}}))
    else:
        labels = meta[color_by].astype(str)
        for value in sorted(labels.unique()):
            mask = (labels == value).to_numpy()
            figure.add_trace(scatter(**coords(mask), mode="markers", name=value, customdata=rows[mask],
                                     hovertext=[h for h, m in zip(hover, mask, strict=True) if m],
                                     hoverinfo="text", marker={"size": size, "opacity": 0.75}))
    if overlays is not None and len(overlays):
        _add_overlays(figure, overlays, dims)
    figure.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0}, legend={"itemsizing": "constant"},
                         dragmode="lasso" if dims == 2 else "orbit")
    return figure


def _add_overlays(figure: go.Figure, overlays: pd.DataFrame, dims: int) -> None:
    scatter = go.Scatter3d if dims == 3 else go.Scatter
    symbols = OVERLAY_SYMBOLS_3D if dims == 3 else OVERLAY_SYMBOLS
    for (kind, name), part in overlays.groupby(["kind", "group"], sort=False):
        texts = "text" in part and kind != "path" and bool(part["text"].astype(bool).any())
        axes = {"x": part["x"], "y": part["y"]}
        if dims == 3:
            axes["z"] = part["z"]
        figure.add_trace(scatter(
            **axes, mode="lines+markers" if kind == "path" else "markers+text" if texts else "markers",
            name=str(name), text=part["text"] if texts else None, hovertext=part["label"], hoverinfo="text",
            textposition="top center",
            marker={"size": 14 if dims == 2 else 6, "symbol": symbols[kind], "color": OVERLAY_COLORS[kind],
                    "line": {"width": 1, "color": "white"}}))


def overlay_frame(points: np.ndarray, labels: Sequence[str], kind: str, group: str = "",
                  texts: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows for `latent_map(overlays=...)` from placed points [M, dims]: `labels` show on hover, `texts` beside
    the markers."""
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "label": list(labels), "kind": kind,
                          "group": group or kind, "text": list(texts) if texts is not None else ""})
    if points.shape[1] == 3:
        frame["z"] = points[:, 2]
    return frame
