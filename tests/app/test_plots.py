"""The app's figures: drum roll, dataset distributions and the latent map."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from explorer.app import plots
from explorer.notes.drums import DRUM_CLASSES
from tests.factories import make_groove

SVG = "{http://www.w3.org/2000/svg}"
GROOVE = make_groove([(0, 0, 1.0, 0.0), (4, 1, 0.5, 0.5), (8, 2, 0.25, -0.5), (63, 8, 0.8, 0.0)])


def parse_roll(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def hits_of(roll: ET.Element) -> list[ET.Element]:
    return roll.findall(f"{SVG}circle")


def test_drum_roll_frame_places_early_hits_left_and_late_hits_right():
    frame = plots.drum_roll_frame(GROOVE).set_index("step")
    assert list(frame["drum"]) == ["kick", "snare", "closed hi-hat", "ride"]
    assert frame.loc[0, "bar_position"] == 1.0
    # offset +0.5 = a quarter of a 16th early: 1 + (4 - 0.25) / 16
    assert frame.loc[4, "bar_position"] == pytest.approx(1 + 3.75 / 16)
    assert frame.loc[8, "bar_position"] == pytest.approx(1 + 8.25 / 16)
    # at 120 bpm a 16th lasts 125 ms: a quarter of it is 31.25 ms (+ = early)
    assert frame.loc[4, "offset_ms"] == pytest.approx(31.25)
    assert frame.loc[8, "offset_ms"] == pytest.approx(-31.25)
    assert list(frame["velocity"]) == [127, 64, 32, 102]


def test_drum_roll_offsets_in_ms_follow_the_playback_tempo():
    assert plots.drum_roll_frame(GROOVE, bpm=60).set_index("step").loc[4, "offset_ms"] == pytest.approx(62.5)


def test_drum_roll_has_nine_named_lanes_hits_placed_by_timing_and_velocity_colours():
    roll = parse_roll(plots.drum_roll_svg(GROOVE, title="test <1>"))
    texts = [t.text for t in roll.iter(f"{SVG}text")]
    assert texts[0] == "test <1>" and texts[1:10] == list(DRUM_CLASSES)
    circles = hits_of(roll)
    frame = plots.drum_roll_frame(GROOVE)
    x = np.array([float(c.get("cx")) for c in circles])
    y = np.array([float(c.get("cy")) for c in circles])
    # x is linear in the bar position (early hits left of their grid line), y in the lane (kick at the bottom)
    np.testing.assert_allclose(np.polyfit(frame["bar_position"], x, 1, full=True)[1], 0, atol=1e-3)
    assert all(np.diff(x) > 0) and all(np.diff(y[:3]) < 0)
    radii = [float(c.get("r")) for c in circles]
    assert radii[0] > radii[1] > radii[2]  # velocities 127, 64, 32: louder hits draw bigger
    colours = [c.get("fill") for c in circles]
    assert colours[0] == "rgb(253, 231, 37)" and len(set(colours)) == 4  # Viridis: loudest yellow
    tips = [c.find(f"{SVG}title").text for c in circles]
    assert tips[1] == "snare, bar 1, 16th 5, velocity 64, 31 ms early" and "31 ms late" in tips[2]


def test_drum_roll_grid_has_bar_beat_and_sixteenth_lines_for_short_grooves_only():
    def line_counts(groove):
        return [path.get("d").count("M") for path in parse_roll(plots.drum_roll_svg(groove)).iter(f"{SVG}path")]

    assert line_counts(GROOVE) == [5, 12, 48]  # 4 bars: 5 bar lines, 12 other beats, 48 other 16ths
    long = make_groove([(0, 0, 1.0, 0.0)], steps=32 * 16)
    assert line_counts(long) == [33, 96]  # 32 bars: bar and beat lines only


def test_drum_roll_of_a_silent_groove_draws_an_empty_grid():
    roll = parse_roll(plots.drum_roll_svg(make_groove([])))
    assert hits_of(roll) == [] and len(list(roll.iter(f"{SVG}path"))) == 3


def test_count_and_bpm_charts_count_the_rows():
    df = pd.DataFrame({"genre": ["rock", "rock", "jazz"], "bpm": [100, 105, 180]})
    bars = plots.count_chart(df, "genre", "Genres").data[0]
    assert list(bars.x) == ["rock", "jazz"] and list(bars.y) == [2, 1]
    histogram = plots.bpm_chart(df).data[0]
    assert list(histogram.x) == [100, 105, 180] and histogram.xbins.size == 10


META = pd.DataFrame({"midi_filename": ["a.mid", "b.mid", "c.mid", "d.mid"], "start_bar": [0, 3, 0, 1],
                     "genre": ["rock", "jazz", "rock", "funk"], "drummer": ["d1", "d1", "d2", "d2"],
                     "bpm": [100, 120, 90, 110], "beat_type": ["beat", "fill", "beat", "beat"]})
POINTS = np.arange(8, dtype=np.float32).reshape(4, 2)


def test_latent_map_has_one_trace_per_label_whose_customdata_names_meta_rows():
    figure = plots.latent_map(POINTS, META, "genre")
    by_name = {t.name: t for t in figure.data}
    assert set(by_name) == {"rock", "jazz", "funk"}
    assert list(by_name["rock"].customdata) == [0, 2]
    np.testing.assert_array_equal(by_name["rock"].x, POINTS[[0, 2], 0])
    assert "b.mid<br>bar 4" in by_name["jazz"].hovertext[0]
    assert figure.layout.dragmode == "zoom", "a click selects a point only outside lasso mode"


def test_every_genre_has_its_own_colour_and_none_is_an_overlays():
    genres = [f"genre{i}" for i in range(18)]  # GMD has 18
    meta = pd.DataFrame({"midi_filename": [f"{g}.mid" for g in genres], "start_bar": 0, "genre": genres,
                         "drummer": "d1", "bpm": 100, "beat_type": "beat"})
    figure = plots.latent_map(np.zeros((18, 2)), meta, "genre")
    colours = [t.marker.color for t in figure.data]
    assert len(set(colours)) == 18
    assert not set(colours) & set(plots.OVERLAY_COLORS.values())
    assert [t.name for t in figure.data][:3] == ["genre0", "genre1", "genre2"] and figure.data[10].name == "genre10"


def test_categories_sort_by_number_within_their_names():
    assert sorted(["drummer10", "drummer2", "drummer1"], key=plots.natural_key) == ["drummer1", "drummer2",
                                                                                   "drummer10"]


def test_latent_map_by_bpm_is_one_coloured_trace_and_3d_uses_scatter3d():
    figure = plots.latent_map(POINTS, META, "bpm")
    assert len(figure.data) == 1 and list(figure.data[0].marker.color) == [100, 120, 90, 110]
    points_3d = np.arange(12, dtype=np.float32).reshape(4, 3)
    figure_3d = plots.latent_map(points_3d, META, "drummer")
    assert all(isinstance(t, go.Scatter3d) for t in figure_3d.data)


def test_latent_map_draws_seeds_as_markers_and_paths_as_lines():
    overlays = pd.concat([
        plots.overlay_frame(np.array([[0.5, 0.5]]), ["my seed"], "seed", "seeds", ["1"]),
        plots.overlay_frame(np.array([[0.2, 0.1]]), ["sample 1"], "generated", "generate"),
        plots.overlay_frame(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), ["s1", "s2", "s3"], "path", "walk"),
    ], ignore_index=True)
    figure = plots.latent_map(POINTS, META, "genre", overlays)
    seeds = next(t for t in figure.data if t.name == "seeds")
    walk = next(t for t in figure.data if t.name == "walk")
    assert seeds.mode == "markers+text" and list(seeds.text) == ["1"] and seeds.marker.symbol == "star"
    assert list(seeds.hovertext) == ["my seed"]
    generated = next(t for t in figure.data if t.name == "generate")
    assert generated.mode == "markers" and generated.marker.symbol == "diamond"
    assert walk.mode == "lines+markers" and list(walk.x) == [0.0, 1.0, 2.0]
    # drawn last and on the dataset's WebGL canvas, so that no dataset point covers them
    assert [t.name for t in figure.data][-3:] == ["seeds", "generate", "walk"]
    assert all(isinstance(t, go.Scattergl) for t in figure.data)
    overlays_3d = plots.overlay_frame(np.ones((1, 3)), ["x"], "seed")
    figure_3d = plots.latent_map(np.ones((4, 3)), META, "genre", overlays_3d)
    assert figure_3d.data[-1].marker.symbol == "diamond"  # a symbol 3-D plots have


def test_performance_roll_places_hits_by_timing_and_bar_and_shades_the_chosen_window():
    long = make_groove([(0, 0, 1.0, 0.0), (4, 1, 0.5, 0.5), (16 * 5 + 2, 2, 0.25, -0.5), (16 * 9, 8, 0.8, 0.0)],
                       steps=16 * 10)
    figure = plots.performance_roll(long, window_start_bar=5)
    [trace] = figure.data
    frame = plots.drum_roll_frame(long)
    np.testing.assert_allclose(trace.x, frame["bar_position"])
    assert list(trace.y) == [0, 1, 2, 8] and list(trace.customdata) == [0, 0, 5, 9]  # lanes; bars, 0-based
    assert list(trace.marker.color) == [127, 64, 32, 102]
    assert trace.marker.size[0] > trace.marker.size[1] > trace.marker.size[2]  # louder draws bigger
    assert trace.hovertext[1] == "snare, bar 1, 16th 5, velocity 64, 31 ms early"
    assert list(figure.layout.yaxis.ticktext) == list(DRUM_CLASSES)
    [window] = figure.layout.shapes
    assert (window.x0, window.x1) == (6, 10)  # bars 6 to 9, drawn 1-based
    assert not plots.performance_roll(long).layout.shapes


def test_moving_the_window_reuses_the_rolls_points_and_long_takes_draw_in_webgl():
    long = make_groove([(step, 0, 0.8, 0.0) for step in range(0, 16 * 200, 1)], steps=16 * 200)  # 3,200 hits
    spec = plots.performance_roll_spec(long)
    assert spec["data"][0]["type"] == "scattergl"
    moved = plots.with_window(spec, 7)
    assert moved["data"] is spec["data"] and "shapes" not in spec["layout"]
    [band] = moved["layout"]["shapes"]
    assert (band["x0"], band["x1"]) == (8, 12)
    assert plots.performance_roll_spec(long.window(0, 8))["data"][0]["type"] == "scatter"  # short: SVG, clickable


@pytest.mark.parametrize(("bars", "step"), [(4, 1), (40, 1), (41, 4), (160, 4), (161, 8), (321, 16), (639, 16)])
def test_a_whole_performance_numbers_at_most_forty_bars_in_whole_phrases(bars, step):
    assert plots.bar_tick_step(bars) == step
    assert bars / step <= plots.MAX_BAR_TICKS
