"""The Streamlit app through `AppTest`: every page loads, the main controls produce results, state survives
page switches. Real GMD, real checkpoint, real TensorFlow and audio; AppTest cannot see plotly figures, players
or downloads beyond their presence, so their contents are tested in test_plots.py and test_ui.py. The tool pages'
results: test_app_tools.py."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.datasets import gmd
from explorer.model.checkpoints import DEFAULT_CHECKPOINT
from tests.app.app_helpers import (
    APP,
    OVERVIEW_TITLE,
    PAGES,
    TIMEOUT,
    assert_ok,
    chart_titles,
    media,
    open_app,
    overview_figure,
    results,
    set_state,
    slider_shown,
)

pytestmark = pytest.mark.usefixtures("groove_dir")  # every page reads the real GMD copy

def test_every_page_loads_with_its_title_and_sidebar():
    at = open_app()
    titles = []
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert_ok(at)
        titles.append(at.title[0].value)
    assert titles == ["Dataset", "Latent map", "Generate", "Interpolate", "Blend", "Attributes", "Humanize", "Drumify",
                      "Step grid", "Continuation", "Infill"]
    assert at.sidebar.selectbox(key="keep_checkpoint").value == DEFAULT_CHECKPOINT
    assert any("CC BY 4.0" in m.value for m in at.sidebar.markdown)


def test_script_runs_leave_the_loaded_model_alone(monkeypatch):
    """Streamlit would reset Keras after every run (a full collection and TensorFlow's kernel cache dropped: 0.6 s
    a run and slower model calls after it); the app switches that off."""
    import keras

    resets = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: resets.append(1))
    at = open_app("generate")
    at.button(key="generate_run").click().run()
    assert_ok(at)
    assert len(results(at, "generate")) == 4 and resets == []


def test_dataset_filters_update_counts_and_the_performance_list():
    at = open_app()
    assert "**1,150** of 1,150 performances" in at.markdown[0].value
    at.multiselect(key="keep_genres").set_value(["jazz"]).run()
    at.multiselect(key="keep_beat_types").set_value(["fill"]).run()
    assert_ok(at)
    expected = gmd.filter_info(gmd.load_info(), genres=["jazz"], beat_types=["fill"])
    assert f"**{len(expected):,}** of 1,150 performances" in at.markdown[0].value
    assert sorted(at.selectbox(key="keep_performance").options) == sorted(expected["midi_filename"])
    # the picked performance has a drum roll, a player and a MIDI download
    # only the open tab's distribution chart is drawn, then the picked performance, whole
    assert chart_titles(at) == ["Performances per genre", OVERVIEW_TITLE]
    assert any(m.value.startswith('<svg class="drum-roll"') for m in at.markdown)  # the drum roll
    assert media(at, "audio")[0].proto.url
    assert media(at, "download_button")
    at.session_state["keep_chart_tab"] = "Tempo"
    at.run()
    assert chart_titles(at) == ["Tempo (bpm)", OVERVIEW_TITLE]
    at.text_input(key="keep_text").input("no such style").run()
    assert_ok(at)
    assert "**0** of 1,150" in at.markdown[0].value
    assert any("No performance matches" in i.value for i in at.info)


def test_dataset_shows_the_whole_performance_with_the_chosen_window_shaded():
    at = open_app()
    name = at.selectbox(key="keep_performance").value
    overview = overview_figure(at)
    window = at.session_state[f"window_{name}"]
    assert [(s["x0"], s["x1"]) for s in overview["layout"]["shapes"]] == [(window, window + 4)]
    hits = gmd.load_performance(name).hits
    assert len(overview["data"][0]["hovertext"]) == int(hits.sum())  # every hit of the take, not only the window's
    shown = slider_shown(at, f"window_{name}")
    assert shown["labels"][shown["value"]] == str(window)
    set_state(at, f"window_{name}", int(shown["labels"][3]))
    assert_ok(at)
    overview = overview_figure(at)
    assert overview["layout"]["shapes"][0]["x0"] == int(shown["labels"][3])
    assert slider_shown(at, f"window_{name}")["value"] == 3


def test_dataset_window_can_be_added_to_the_basket():
    at = open_app()
    before = len(at.session_state["basket"])
    at.button(key=next(b.key for b in at.button if b.key.startswith("add_dataset_"))).click().run()
    assert_ok(at)
    assert len(at.session_state["basket"]) == before + 1


def test_a_cards_grid_button_opens_its_groove_on_the_step_grid_and_the_address_keeps_it():
    from explorer.app.components.step_grid import beat_to_text, groove_to_beat

    at = open_app("humanize")
    at.button(key="humanize_run").click().run()
    played = results(at, "humanize")[1][1]
    generation = at.session_state["generation_humanize"]
    at.button(key=f"grid_humanize_{generation}_1").click().run()
    assert_ok(at)
    assert at.title[0].value == "Step grid"
    beat = at.session_state["grid_beat"]
    assert beat == groove_to_beat(played) and beat["hits"] and at.session_state["grid_revision"] == 1
    assert at.query_params["grid"] == beat_to_text(beat)
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.query_params["grid"] = beat_to_text(beat)
    reloaded.run()
    assert reloaded.session_state["grid_beat"] == beat
    broken = AppTest.from_file(APP, default_timeout=TIMEOUT)
    broken.query_params["grid"] = "100.50.1.!!"
    broken.run()
    assert broken.session_state["grid_beat"]["hits"] == [] and broken.session_state["grid_not_restored"]


def test_a_grid_beat_sent_to_humanize_becomes_its_beat_and_a_full_basket_is_said_so():
    from explorer.app.state import BASKET_LIMIT, Seed

    at = open_app("grid")
    at.session_state["grid_beat"] = {"bars": 1, "bpm": 100.0, "swing": 50.0, "hits": [[0, 0, 2], [1, 4, 3]]}
    at.run()
    at.button(key="grid_to_humanize").click().run()
    assert_ok(at)
    assert at.title[0].value == "Humanize"
    index = at.session_state["keep_humanize_beat"]
    assert at.session_state["basket"][index].label.startswith("grid beat · 100 bpm")
    at.switch_page("app_pages/grid.py").run()
    at.session_state["grid_beat"] = {"bars": 1, "bpm": 90.0, "swing": 50.0, "hits": [[0, 0, 2]]}
    filler = at.session_state["basket"][0].groove
    at.session_state["basket"] = [Seed(f"seed {n}", filler) for n in range(BASKET_LIMIT)]
    at.run()
    at.button(key="grid_to_humanize").click().run()
    assert at.title[0].value == "Step grid" and any("at most" in w.value for w in at.warning)


def test_basket_starts_with_four_genres_and_survives_page_switches():
    at = open_app()
    seeds = at.session_state["basket"]
    assert [s.label.split(" · ")[0] for s in seeds] == ["rock", "funk", "hiphop", "jazz"]
    # each names its file on hover (the label stays readable)
    shown = {c.value: c.proto.help for c in at.sidebar.caption}
    for number, seed in enumerate(seeds, 1):
        file, _, bar = seed.groove.source.rpartition("@bar")
        assert shown[f"{number}. {seed.label}"] == f"File {file}, from bar {bar}"
    at.sidebar.button(key="remove_seed_0").click().run()
    assert [s.label.split(" · ")[0] for s in at.session_state["basket"]] == ["funk", "hiphop", "jazz"]
    at.switch_page("app_pages/generate.py").run()
    set_state(at, "keep_gen_count", 3)
    at.switch_page("app_pages/dataset.py").run()
    at.switch_page("app_pages/generate.py").run()
    assert_ok(at)
    assert at.session_state["keep_gen_count"] == 3 and slider_shown(at, "keep_gen_count")["value"] == 2
    assert len(at.session_state["basket"]) == 3
    at.sidebar.button(key="basket_clear").click().run()
    at.switch_page("app_pages/interpolate.py").run()
    assert any("needs two seeds" in i.value for i in at.info)
    at.sidebar.button(key="basket_defaults").click().run()
    assert len(at.session_state["basket"]) == 4


def test_generate_samples_each_click_sounds_new():
    from explorer.model import checkpoints
    from explorer.tools import generate

    at = open_app("generate")
    assert any("256-Gaussian mixture fitted to the codes" in caption.value for caption in at.caption)
    set_state(at, "keep_gen_bpm", 90)
    at.button(key="generate_run").click().run()
    assert_ok(at)
    first = results(at, "generate")
    assert len(first) == 4
    assert all(g.steps == 64 and g.bpm == 90 and g.hits.sum() > 0 for _, g in first)
    # drawn from the shipped checkpoint's fitted prior, at the page's default temperature
    expected = generate.sample(checkpoints.load_model(), 4, 0.8, seed=0, bpm=90)
    assert all(a.same_as(b) for (_, a), b in zip(first, expected, strict=True))
    assert len(media(at, "audio")) == 4 and len(media(at, "download_button")) >= 4
    assert at.number_input(key="keep_gen_random_seed").value == 1
    at.button(key="generate_run").click().run()
    second = results(at, "generate")
    assert not any(a.same_as(b) for (_, a), (_, b) in zip(first, second, strict=True))
    # the page's ZIP is built only when asked for, then offered
    assert "zip_generate_zip" not in at.session_state
    at.button(key="generate_zip_prepare").click().run()
    assert_ok(at)
    _, data = at.session_state["zip_generate_zip"]
    assert data[:2] == b"PK"
    assert any("Download the ZIP (4 grooves" in button.proto.label for button in media(at, "download_button"))
    at.button(key="generate_clear").click().run()
    assert results(at, "generate") == []


def test_generate_reconstruction_sits_beside_its_original():
    at = open_app("generate")
    at.radio(key="keep_gen_mode").set_value("reconstruction").run()
    at.selectbox(key="keep_gen_seed_index").set_value(2).run()
    at.button(key="generate_run").click().run()
    assert_ok(at)
    (first, original), (label, reconstruction) = results(at, "generate")
    assert original.same_as(at.session_state["basket"][2].groove)
    seed_label = at.session_state["basket"][2].label
    assert first == f"seed 3 as played ({seed_label})"
    assert label == f"the model's reconstruction of seed 3 ({seed_label})"
    assert reconstruction.bpm == original.bpm and "/" not in first + label  # names, not file paths
    # removing an earlier seed: the picker stays on the same seed (now number 2), so its results stay too
    at.sidebar.button(key="remove_seed_0").click().run()
    assert_ok(at)
    assert at.session_state["keep_gen_seed_index"] == 1
    assert at.selectbox(key="keep_gen_seed_index").value == 1
    assert [r for r, _ in results(at, "generate")] == [first, label]
    assert not any("changed since the last run" in i.value for i in at.info)


def test_interpolate_glides_from_one_seed_to_the_other():
    at = open_app("interpolate")
    at.selectbox(key="keep_interp_b").set_value(0).run()  # the same seed at both ends: no path, and it says so
    assert at.button(key="interpolate_run").disabled and any("same seed" in w.value for w in at.warning)
    at.selectbox(key="keep_interp_b").set_value(1).run()
    assert not at.button(key="interpolate_run").disabled and not at.warning
    set_state(at, "keep_interp_steps", 4)
    at.button(key="interpolate_run").click().run()
    assert_ok(at)
    items = results(at, "interpolate")
    seeds = at.session_state["basket"]
    assert len(items) == 4
    bpms = [g.bpm for _, g in items]
    assert bpms[0] == pytest.approx(seeds[0].groove.bpm) and bpms[-1] == pytest.approx(seeds[1].groove.bpm)
    assert len(media(at, "audio")) == 2  # the whole path and the chosen step
    assert items[1][0] == f"step 2 of 4 · {bpms[1]:.0f} bpm"  # short: the ends are named once, above
    assert any(m.value.startswith("From **seed 1:") for m in at.markdown)
    assert [step for step, _ in at.session_state["results"]["interpolate"]] == [label for label, _ in items]
    step_key = f"interp_step_{at.session_state['generation_interpolate']}"
    assert slider_shown(at, step_key)["labels"] == ["1", "2", "3", "4"]
    set_state(at, step_key, 3)
    assert_ok(at)
    assert slider_shown(at, step_key)["value"] == 2


def test_blend_fills_the_grid_and_the_chosen_cell_shows_below():
    at = open_app("blend")
    set_state(at, "keep_blend_size", 2)
    at.button(key="blend_run").click().run()
    assert_ok(at)
    items = results(at, "blend")
    seeds = at.session_state["basket"]
    assert len(items) == 4
    for (_, cell), seed in zip(items, seeds, strict=True):  # the corners blend nothing else in: their tempo is theirs
        assert cell.bpm == pytest.approx(seed.groove.bpm)
    at.session_state["blend_cell"] = 3  # as the live player's pad sends it (the pad itself: test_browser.py)
    at.run()
    assert_ok(at)
    assert any("blend row 2 column 2" in m.value for m in at.markdown)
    assert len(media(at, "audio")) == 1


def test_attribute_sliders_move_the_seed():
    at = open_app("attributes")
    [(label, unmoved)] = results(at, "attributes")
    assert label.endswith("(no move)")
    set_state(at, "keep_attr_density", 2.0)
    at.selectbox(key="keep_attr_genre").set_value("jazz").run()
    assert_ok(at)
    [(label, moved)] = results(at, "attributes")
    assert "density +2.0" in label and "genre:jazz +1.0" in label
    assert not moved.same_as(unmoved)
    assert len(media(at, "audio")) == 2
    # the seed itself beside the model's version, and the moved attribute's measured value
    assert any("the seed as played" in m.value for m in at.markdown)
    assert any("density" in m.value and "(seed " in m.value for m in at.markdown)
    # a move to 1.0 arriving with the press of Reset
    at.session_state["slider_keep_attr_density"] = {"value": [30, "m-1"]}
    at.button(key="attr_reset").click().run()
    assert results(at, "attributes")[0][1].same_as(unmoved)
    assert at.session_state["keep_attr_density"] == 0.0
    # the move is taken, so that its own callback, coming after, does not undo the reset
    assert at.session_state["settled_sliders"]["keep_attr_density"][2][1] == "m-1"
    # "keep the pattern": the seed's hits held, only dynamics and timing move; the page says how many hits it kept
    at.toggle(key="keep_attr_keep_pattern").set_value(True).run()
    set_state(at, "keep_attr_loudness", 2.0)
    assert_ok(at)
    seed = at.session_state["basket"][0].groove
    [(_, held)] = results(at, "attributes")
    np.testing.assert_array_equal(held.hits, seed.hits)
    hits = int(seed.hits.sum())
    assert any(f"keeps {hits} of {hits} hits, adds 0" in c.value for c in at.caption)
    set_state(at, "keep_attr_density", 2.0)  # counted from the hits, which the pattern holds: not moved
    [(label, same)] = results(at, "attributes")
    assert "density" not in label and "loudness +2.0" in label and same.same_as(held)
    hint = "turn on **Keep the pattern**"
    assert not any(hint in c.value for c in at.caption)
    at.toggle(key="keep_attr_keep_pattern").set_value(False).run()
    set_state(at, "keep_attr_density", -2.0)  # far sparser: the hint shows when under 3/4 of the hits are kept
    [(_, sparser)] = results(at, "attributes")
    kept = int(((sparser.hits > 0.5) & (seed.hits > 0.5)).sum())
    assert any(hint in c.value for c in at.caption) == (kept < 0.75 * hits)
    assert kept < 0.75 * hits  # a move this far does drop hits, so the hint's display is exercised


def test_latent_map_shows_one_point_per_performance_and_the_seeds():
    at = open_app("latent_map")
    performances = gmd.load_windows().meta["midi_filename"].nunique()
    assert any(c.value.startswith(f"{performances:,} windows") for c in at.caption)
    at.radio(key="keep_map_dims").set_value(3).run()
    assert_ok(at)
    at.selectbox(key="keep_map_color").set_value("bpm").run()
    assert_ok(at)
    assert np.isfinite(len(at.get("plotly_chart")))


def test_latent_map_draws_a_tsne_map_and_takes_its_progress_bar_away_when_done():
    at = open_app("latent_map")
    at.radio(key="keep_map_method").set_value("t-SNE").run()
    assert_ok(at)
    performances = gmd.load_windows().meta["midi_filename"].nunique()
    assert any(c.value == f"{performances:,} windows · {DEFAULT_CHECKPOINT} · t-SNE 2-D"
               for c in at.caption), [c.value for c in at.caption]
    assert not at.get("progress")


def test_a_reload_keeps_the_filters_and_the_gmd_seeds_through_the_address():
    """The basket's GMD seeds and the Dataset filters are written into the page's address after each run, and a
    new session opened on that address (a reload, or a shared link) starts with them."""
    at = open_app()
    at.multiselect(key="keep_genres").set_value(["funk"]).run()
    basket = [seed.groove.source for seed in at.session_state["basket"]]
    query = {key: at.query_params[key][0] if isinstance(at.query_params[key], list) else at.query_params[key]
             for key in at.query_params}
    assert query["genre"] == "funk" and query["seeds"].count(":") == len(basket) == 4
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        reloaded.query_params[key] = value
    reloaded.run()
    assert_ok(reloaded)
    assert [seed.groove.source for seed in reloaded.session_state["basket"]] == basket
    assert reloaded.multiselect(key="keep_genres").value == ["funk"]
    assert not any("could not be kept" in info.value for info in reloaded.sidebar.info)


def test_a_reload_says_in_one_sentence_which_seeds_it_could_not_keep():
    """An uploaded groove (its window named 'file.mid@bar1', like a GMD window's) and a generated one in the basket
    do not fit in the address: after a reload the sidebar says how many were not kept."""
    import dataclasses

    from explorer.app.state import Seed

    at = open_app()
    groove = at.session_state["basket"][0].groove
    at.session_state["basket"] = [*at.session_state["basket"],
                                  Seed("my_loop · 92 bpm", dataclasses.replace(groove, source="my_loop.mid@bar1")),
                                  Seed("sample 1", dataclasses.replace(groove, source="sample 1"))]
    at.run()
    query = {key: at.query_params[key][0] if isinstance(at.query_params[key], list) else at.query_params[key]
             for key in at.query_params}
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        reloaded.query_params[key] = value
    reloaded.run()
    assert_ok(reloaded)
    assert any(info.value.startswith("2 seeds of your basket") for info in reloaded.sidebar.info)


def test_the_dataset_page_offers_the_window_as_played_and_the_models_view():
    """Also at a fixed playback tempo: the window as played keeps its file (its notes at that tempo)."""
    at = open_app()
    labels = [button.proto.label for button in media(at, "download_button")]
    assert "MIDI" in labels and "Model's view" in labels
    at.toggle(key="keep_fixed_tempo").set_value(True).run()
    assert_ok(at)
    labels = [button.proto.label for button in media(at, "download_button")]
    assert "MIDI" in labels and "Model's view" in labels


def test_a_performance_in_three_four_is_drawn_and_played_on_the_dataset_page():
    at = open_app()
    at.multiselect(key="keep_meters").set_value(["3-4"]).run()
    assert_ok(at)
    assert any("in 3/4" in title for title in chart_titles(at))
    assert len(media(at, "audio")) == 1
    assert any("reads 4/4 only" in info.value for info in at.info)


def test_an_empty_basket_gets_the_same_true_hint_on_every_page():
    from explorer.app.ui import SEED_SOURCES

    at = open_app()
    at.sidebar.button(key="basket_clear").click().run()
    assert any(SEED_SOURCES in caption.value for caption in at.sidebar.caption)
    for page in ("interpolate", "blend", "attributes", "humanize"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert_ok(at)
        hints = [info.value for info in at.info]
        assert any(SEED_SOURCES in hint for hint in hints) or page == "humanize", (page, hints)


def test_the_dataset_table_sorts_drummers_by_number_and_no_match_draws_no_chart():
    at = open_app()
    table = at.dataframe[0].value
    assert table["drummer"].dtype.kind == "i" and sorted(table["drummer"].unique())[:3] == [1, 2, 3]
    assert at.get("plotly_chart")
    at.text_input(key="keep_text").set_value("no such style at all").run()
    assert_ok(at)
    assert not at.get("plotly_chart") and any("No performance matches" in i.value for i in at.info)
