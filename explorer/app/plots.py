"""Figures for the app: the drum roll of a groove (SVG), a whole performance's drum roll, the dataset's
distributions and the latent map (plotly).

Plain functions from data to an SVG string or a `go.Figure`, so tests call them directly; the projection behind the
map is explorer/analysis/projection.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER, WINDOW_BARS, step_seconds
from explorer.notes.groove import Groove, PlayedNotes

VELOCITY_COLORSCALE = "Viridis"
ROLL_WIDTH, ROLL_LANE_HEIGHT = 720, 20  # drum roll drawing units (pixels at its natural size) and per lane
ROLL_LABEL_WIDTH, ROLL_LEGEND_WIDTH, ROLL_TITLE_HEIGHT, ROLL_AXIS_HEIGHT = 92, 50, 24, 20
FINE_GRID_MAX_BARS = 8  # 16th-note grid lines only up to this length: longer rolls get beat lines alone
OVERLAY_SYMBOLS = {"seed": "star", "generated": "diamond", "path": "circle-open"}
# Seeds, results and paths stand out in black, dark grey and blue-black, outlined in white; no category colour is
# that dark (CATEGORY_COLORS).
OVERLAY_COLORS = {"seed": "#000000", "generated": "#4d4d4d", "path": "#102a43"}
# One colour per category of a map's "Colour by" (GMD: 18 genres, 10 drummers): plotly's 26-colour Alphabet
# palette less its near-black, so that every genre has its own colour and none looks like an overlay.
CATEGORY_COLORS = ("#AA0DFE", "#3283FE", "#85660D", "#782AB6", "#565656", "#1C8356", "#16FF32", "#F7E1A0",
                   "#E2E2E2", "#1CBE4F", "#C4451C", "#DEA0FD", "#FE00FA", "#325A9B", "#FEAF16", "#F8A19F",
                   "#90AD1C", "#F6222E", "#1CFFCE", "#2ED9FF", "#B10DA1", "#C075A6", "#FC1CBF", "#B00068",
                   "#FBE426", "#FA0087")
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


def drum_roll_svg(groove: Groove, bpm: float | None = None, title: str = "", title_tooltip: str = "") -> str:
    """The groove as 9 lanes of hits (kick at the bottom), as an SVG drawing: x in bars, colour and size by velocity,
    micro-timing as displacement from the grid lines, and each hit's drum, position, velocity and timing as its
    tooltip; `title_tooltip` shows when the pointer rests on the title (e.g. the file a seed came from).

    An SVG rather than a plotly figure: a browser draws it in a millisecond instead of ~0.1 s, which decided whether
    a page of 4 to 16 results appeared within a second. It scales to the width of its column.
    """
    hits = drum_roll_frame(groove, bpm)
    bars = max(groove.bars, 1.0)
    top = ROLL_TITLE_HEIGHT if title else 6
    height = top + ROLL_LANE_HEIGHT * len(DRUM_CLASSES) + ROLL_AXIS_HEIGHT
    left, right = ROLL_LABEL_WIDTH, ROLL_WIDTH - ROLL_LEGEND_WIDTH
    bottom = top + ROLL_LANE_HEIGHT * len(DRUM_CLASSES)

    def x_of(bar_position):  # 1 = the first downbeat; a little room either side for hits played early or late
        return left + 6 + (np.asarray(bar_position, float) - 1.0) / bars * (right - left - 12)

    def y_of(lane):
        return bottom - (np.asarray(lane, float) + 0.5) * ROLL_LANE_HEIGHT

    parts = [f'<svg class="drum-roll" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {ROLL_WIDTH} {height}" '
             f'width="100%" role="img" aria-label="{escape(title or "drum roll")}" '
             f'style="font: 11px sans-serif; fill: currentColor; max-width: {ROLL_WIDTH * 1.5:.0f}px">']
    if title:
        text = (f'<text class="drum-roll-title" x="{left}" y="{top - 8}" style="font-size: 13px">'
                f'{escape(title)}</text>')
        # the tooltip titles a group around the text, so that the text's own content stays the title alone
        parts.append(f"<g><title>{escape(title_tooltip)}</title>{text}</g>" if title_tooltip else text)
    for lane, name in enumerate(DRUM_CLASSES):
        y = float(y_of(lane))
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{name}</text>'
                     f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="gray" stroke-opacity="0.12"/>')
    for positions, width, alpha in _grid_lines(bars):
        path = "".join(f"M{x:.1f} {top}V{bottom}" for x in x_of(positions))
        parts.append(f'<path d="{path}" stroke="gray" stroke-width="{width}" stroke-opacity="{alpha}"/>')
    for bar in range(1, int(bars) + 1):
        parts.append(f'<text x="{float(x_of(bar)):.1f}" y="{bottom + 14}" text-anchor="middle">{bar}</text>')
    colours = sample_colorscale(VELOCITY_COLORSCALE, (hits["velocity"].to_numpy() - 1) / 126) if len(hits) else []
    for x, y, colour, hit in zip(x_of(hits["bar_position"]), y_of(hits["lane"]), colours, hits.itertuples(),
                                 strict=True):
        tip = (f"{hit.drum}, bar {1 + hit.step // STEPS_PER_BAR}, 16th {1 + hit.step % STEPS_PER_BAR}, velocity "
               f"{hit.velocity}, {_timing_words(hit.offset_ms)}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{roll_hit_radius(hit.velocity):.2f}" fill="{colour}">'
                     f'<title>{tip}</title></circle>')
    parts.append(_velocity_legend(right + 12, top, bottom))
    parts.append("</svg>")
    return "".join(parts)


WEBGL_HITS = 3000  # a longer performance draws its hits in WebGL: as SVG, 9,000 points took the browser seconds


def performance_roll(groove: Groove, window_start_bar: int | None = None, window_bars: int = WINDOW_BARS) -> go.Figure:
    """A whole performance as an interactive drum roll (plotly, to zoom along a long take): 9 lanes, x in bars with
    the micro-timing, colour and size by velocity, each hit's drum, place, velocity and timing on hover; the 4-bar
    window starting at `window_start_bar` (0-based) shaded. Each point's customdata is its bar (0-based), so that a
    click can choose the window there."""
    return go.Figure(with_window(performance_roll_spec(groove), window_start_bar, window_bars))


def with_window(spec: dict, window_start_bar: int | None, window_bars: int = WINDOW_BARS) -> dict:
    """A `performance_roll_spec` with the 4-bar window from `window_start_bar` (0-based) shaded: a new dict, the
    spec's traces shared, so that moving the window does not rebuild (and revalidate) thousands of points."""
    shapes = [] if window_start_bar is None else [{
        "type": "rect", "xref": "x", "yref": "y domain", "x0": 1 + window_start_bar,
        "x1": 1 + window_start_bar + window_bars, "y0": 0, "y1": 1, "fillcolor": "gold", "opacity": 0.25,
        "line": {"width": 0}, "layer": "below"}]
    return {"data": spec["data"], "layout": {**spec["layout"], "shapes": shapes}}


MAX_BAR_TICKS = 40  # numbered bars along a whole performance's roll: more overlap at the app's width


def bar_tick_step(bars: float) -> int:
    """Every how many bars the whole-performance roll numbers its bars: 1, else 4, 8, 16, … (whole phrases), the
    smallest that keeps the numbers to MAX_BAR_TICKS."""
    step = 1 if bars <= MAX_BAR_TICKS else 4
    while bars / step > MAX_BAR_TICKS:
        step *= 2
    return step


def performance_roll_spec(groove: Groove) -> dict:
    """The drum roll of `performance_roll` as a plotly figure dict of NumPy arrays, without the window (cache it per
    performance: Streamlit revalidates a spec on every run, quickly for arrays, item by item for lists)."""
    hits = drum_roll_frame(groove)
    bars = hits["step"].to_numpy() // STEPS_PER_BAR
    hover = np.array([f"{hit.drum}, bar {bar + 1}, 16th {1 + hit.step % STEPS_PER_BAR}, velocity {hit.velocity}, "
                      f"{_timing_words(hit.offset_ms)}" for hit, bar in zip(hits.itertuples(), bars, strict=True)])
    velocity = hits["velocity"].to_numpy()
    trace = {"type": "scattergl" if len(hits) > WEBGL_HITS else "scatter", "mode": "markers",
             "x": hits["bar_position"].to_numpy(), "y": hits["lane"].to_numpy(), "customdata": bars,
             "hovertext": hover, "hoverinfo": "text",
             "marker": {"color": velocity, "cmin": 1, "cmax": 127, "colorscale": VELOCITY_COLORSCALE,
                        "size": 2 * roll_hit_radius(velocity), "colorbar": {"title": {"text": "velocity"},
                                                                             "thickness": 10},
                        "line": {"width": 0}}}
    layout = {
        "height": 300, "margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "showlegend": False,
        "clickmode": "event+select",
        "title": {"text": "The whole performance: click a hit to take the 4 bars from its bar", "font": {"size": 13}},
        "xaxis": {"title": {"text": "bar"}, "range": [0.8, max(groove.bars, 1.0) + 1.2],
                  "dtick": bar_tick_step(groove.bars), "zeroline": False},
        "yaxis": {"tickvals": list(range(len(DRUM_CLASSES))), "ticktext": list(DRUM_CLASSES),
                  "range": [-0.6, len(DRUM_CLASSES) - 0.4], "fixedrange": True}}
    return {"data": [trace], "layout": layout}


def roll_hit_radius(velocity):
    """Louder hits draw bigger: 2.5 to 7 units for MIDI velocities 1 to 127 (a number or an array of them)."""
    return 2.5 + 4.5 * velocity / 127


def _velocity_legend(x: float, top: float, bottom: float, shades: int = 16) -> str:
    """The velocity colour scale as a column of shades, loud at the top."""
    step = (bottom - top) / shades
    colours = sample_colorscale(VELOCITY_COLORSCALE, np.linspace(1, 0, shades))
    blocks = "".join(f'<rect x="{x}" y="{top + i * step:.1f}" width="8" height="{step + 0.3:.1f}" fill="{colour}"/>'
                     for i, colour in enumerate(colours))
    return (f'{blocks}<text x="{x + 12}" y="{top + 9}">127</text><text x="{x + 12}" y="{bottom}">1</text>'
            f'<text x="{x + 4}" y="{bottom + 14}" text-anchor="middle">vel</text>')


def _grid_lines(bars: float) -> list[tuple[np.ndarray, float, float]]:
    """(bar positions, line width, opacity) of the bar, beat and 16th lines; 16ths only up to FINE_GRID_MAX_BARS."""
    lines_per_bar = STEPS_PER_BAR if bars <= FINE_GRID_MAX_BARS else STEPS_PER_QUARTER
    positions = np.arange(int(bars * lines_per_bar) + 1)
    styles = [(positions % lines_per_bar == 0, 1.2, 0.45)]
    if lines_per_bar == STEPS_PER_BAR:
        beat = positions % STEPS_PER_QUARTER == 0
        styles += [(beat & (positions % lines_per_bar != 0), 0.8, 0.22), (~beat, 0.6, 0.08)]
    else:
        styles.append((positions % lines_per_bar != 0, 0.8, 0.22))
    return [(1.0 + positions[mask] / lines_per_bar, width, alpha) for mask, width, alpha in styles]


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
                                      # left of the plot, so that it never covers the legend on the right
                                      "colorbar": {"title": {"text": "bpm"}, "x": -0.08, "thickness": 14}}))
    else:
        labels = meta[color_by].astype(str)
        for index, value in enumerate(sorted(labels.unique(), key=natural_key)):
            mask = (labels == value).to_numpy()
            color = CATEGORY_COLORS[index % len(CATEGORY_COLORS)]
            figure.add_trace(scatter(**coords(mask), mode="markers", name=value, customdata=rows[mask],
                                     hovertext=[h for h, m in zip(hover, mask, strict=True) if m],
                                     hoverinfo="text", marker={"size": size, "opacity": 0.75, "color": color}))
    if overlays is not None and len(overlays):
        _add_overlays(figure, overlays, dims)
    # Zoom by dragging, so that a click selects the point under it (in lasso mode a click selects nothing); the
    # lasso and box are in the toolbar. The legend starts below the toolbar.
    figure.update_layout(height=height, margin={"l": 0, "r": 0, "t": 36, "b": 0},
                         legend={"itemsizing": "constant", "y": 1.0, "yanchor": "top"},
                         dragmode="zoom" if dims == 2 else "orbit")
    return figure


def natural_key(text: str) -> tuple:
    """Sorts 'drummer2' before 'drummer10': digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text)))


def _add_overlays(figure: go.Figure, overlays: pd.DataFrame, dims: int) -> None:
    # WebGL like the dataset's points, and after them: plotly draws its WebGL canvas over SVG traces, so SVG seeds
    # hid under dense maps' points.
    scatter = go.Scatter3d if dims == 3 else go.Scattergl
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


def feel_chart(grooves: Sequence[tuple[str, Groove]], bpm: float | None = None) -> go.Figure:
    """How each groove plays each drum: its hits' velocities (left) and timing in ms, + = early (right), per drum
    class, one box per groove side by side (e.g. a beat before and after humanizing)."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("velocity", "timing (ms, + = ahead of the beat)"),
                           horizontal_spacing=0.08)
    for index, (name, groove) in enumerate(grooves):
        frame = drum_roll_frame(groove, bpm)
        drums = [DRUM_CLASSES[lane] for lane in frame["lane"]]
        color = CATEGORY_COLORS[index % len(CATEGORY_COLORS)]
        figure.add_trace(go.Box(x=drums, y=frame["velocity"], name=name, legendgroup=name, marker_color=color,
                                boxpoints=False), row=1, col=1)
        figure.add_trace(go.Box(x=drums, y=frame["offset_ms"], name=name, legendgroup=name, marker_color=color,
                                boxpoints=False, showlegend=False), row=1, col=2)
    figure.update_layout(boxmode="group", height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def played_notes_roll(played: PlayedNotes, height: int = 300) -> go.Figure:
    """A performance in any meter as played: 9 lanes, x in bars of its own meter, colour by velocity."""
    positions = 1.0 + played.starts / played.bar_seconds
    figure = go.Figure(go.Scattergl(
        x=positions, y=played.classes, mode="markers", hoverinfo="text",
        hovertext=[f"{DRUM_CLASSES[c]}, bar {int(p)}, velocity {v}" for p, c, v in
                   zip(positions, played.classes, played.velocities, strict=True)],
        marker={"size": 7, "color": played.velocities, "colorscale": "Viridis", "cmin": 1, "cmax": 127}))
    numerator, denominator = played.meter
    figure.update_layout(
        title={"text": f"The whole performance, in {numerator}/{denominator}"}, height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 30}, xaxis={"title": {"text": "bar"}},
        yaxis={"tickvals": list(range(len(DRUM_CLASSES))), "ticktext": list(DRUM_CLASSES), "range": [-0.5, 8.5]})
    return figure
