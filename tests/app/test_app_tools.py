"""The tool pages through `AppTest`: Humanize, Drumify, Continuation and Infill make their results from the
basket's seeds, name them after their beat, and drop them when their inputs change. Real GMD, checkpoints and
TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.realism import levels_kept
from tests.app.app_helpers import (
    assert_ok,
    media,
    open_app,
    results,
    set_state,
)

pytestmark = pytest.mark.usefixtures("groove_dir")  # every page reads the real GMD copy


def test_the_humanize_page_humanizes_a_seed_in_another_seeds_feel():
    at = open_app("humanize")
    at.button(key="humanize_run").click().run()
    assert_ok(at)
    (_, before), (label, after) = results(at, "humanize")
    beat = at.session_state["basket"][0].groove
    assert before.same_as(beat) and "own feel" in label
    np.testing.assert_array_equal(after.hits, beat.hits)
    assert not np.allclose(after.offsets, beat.offsets)
    assert len(media(at, "audio")) == 2 and len(media(at, "download_button")) >= 2
    kept, groups = levels_kept(beat.tensor()[None], after.tensor()[None])
    assert kept == groups  # each drum at the level it was played at
    at.toggle(key="keep_humanize_drummer_levels").set_value(True).run()
    at.button(key="humanize_run").click().run()
    (_, _), (_, drummers) = results(at, "humanize")
    levels = [(g.velocities * g.hits).sum(axis=0) / np.maximum(g.hits.sum(axis=0), 1) for g in (after, drummers)]
    assert np.abs(levels[0] - levels[1]).max() * 127 > 5  # the drummer's own levels: another kick, another snare
    at.toggle(key="keep_humanize_drummer_levels").set_value(False).run()
    at.radio(key="keep_humanize_feel_source").set_value("seed").run()
    at.toggle(key="keep_humanize_keep_velocities").set_value(True).run()
    at.button(key="humanize_run").click().run()
    assert_ok(at)
    (_, _), (label, borrowed) = results(at, "humanize")
    assert "feel of a seed" in label and not borrowed.same_as(after)
    np.testing.assert_array_equal(borrowed.velocities, beat.velocities)


def test_humanize_results_carry_the_beats_name_and_never_outlive_their_beat():
    at = open_app("humanize")
    seed = at.number_input(key="keep_humanize_seed").value
    at.button(key="humanize_run").click().run()
    assert_ok(at)
    (before_label, _), (label, _) = results(at, "humanize")
    name = at.session_state["basket"][0].label
    assert before_label.startswith(name) and label.startswith(f"{name}_humanized_T0.5_seed{seed}")
    assert at.number_input(key="keep_humanize_seed").value == seed + 1  # pressing again plays a new take
    at.selectbox(key="keep_humanize_beat").set_value(1).run()  # another beat: the old results go
    assert_ok(at)
    assert results(at, "humanize") == []
    assert any("changed since the last run" in info.value for info in at.info)


@pytest.mark.parametrize(("page", "button", "picker"), [("interpolate", "interpolate_run", "keep_interp_b"),
                                                         ("blend", "blend_run", "keep_blend_corner_0")])
def test_seeded_results_go_when_their_seeds_change(page, button, picker):
    at = open_app(page)
    at.button(key=button).click().run()
    assert_ok(at)
    assert results(at, page)
    at.selectbox(key=picker).set_value(2).run()
    assert_ok(at)
    assert results(at, page) == [] and any("changed since the last run" in info.value for info in at.info)


def test_drumify_plays_a_basket_grooves_rhythm_strictly_on_its_taps_in_several_takes():
    at = open_app("drumify")
    assert any("tap it here" in str(option) for option in at.radio(key="keep_drumify_source").options)
    at.radio(key="keep_drumify_source").set_value("basket").run()
    assert at.session_state["keep_drumify_temperature"] == 0  # the default: the likeliest, most real groove
    set_state(at, "keep_drumify_temperature", 0.7)
    at.button(key="drumify_run").click().run()
    assert_ok(at)
    (taps_label, taps), *takes = results(at, "drumify")
    name = at.session_state["basket"][0].label
    assert taps_label == f"{name} · taps" and len(takes) == 2
    tapped = taps.hits.max(axis=1) > 0.5
    for label, groove in takes:
        assert label.startswith(f"{name}_drumified_T0.7_seed") and groove.hits.any() and not groove.hits[~tapped].any()
    assert not takes[0][1].same_as(takes[1][1])
    assert len(media(at, "audio")) == 3
    at.selectbox(key="keep_drumify_seed").set_value(1).run()
    assert results(at, "drumify") == []


def test_continuation_plays_a_basket_seed_on_into_a_song_that_starts_with_it():
    at = open_app("continuation")
    set_state(at, "keep_continuation_bars", 8)
    at.button(key="continuation_run").click().run()
    assert_ok(at)
    [(label, song)] = results(at, "continuation")
    seed = at.session_state["basket"][0]
    assert song.steps == 8 * 16 and label.startswith(f"{seed.label}_continued_8bars_T0.8_seed0")
    assert seed.groove.notes is not None  # a GMD seed carries the drummer's own notes: the song starts with them
    np.testing.assert_array_equal(song.tensor()[:64], seed.groove.notes.groove().tensor())
    assert song.hits[64:].any()
    assert any("Fill in bar 8." in caption.value for caption in at.caption)
    set_state(at, "keep_continuation_fill_every", 2)  # the song stays as made, and its caption with it
    assert any("Fill in bar 8." in caption.value for caption in at.caption)
    assert "Song MIDI (8 bars)" in [b.proto.label for b in media(at, "download_button")]
    assert len(media(at, "audio")) == 1
    generation = at.session_state["generation_continuation"]
    set_state(at, f"continuation_section_{generation}", (5, 8))
    basket = len(at.session_state["basket"])
    at.button(key=f"add_continuation_{generation}_5_8").click().run()  # a 4-bar section goes to the basket
    assert len(at.session_state["basket"]) == basket + 1 and at.session_state["basket"][-1].groove.steps == 64
    at.selectbox(key="keep_continuation_beat").set_value(1).run()
    assert results(at, "continuation") == []


def test_infill_writes_new_hats_and_keeps_every_other_drum():
    at = open_app("infill")
    assert at.multiselect(key="keep_infill_drums").value == ["closed hi-hat"]
    at.button(key="infill_run").click().run()
    assert_ok(at)
    (_, beat), (label, written) = results(at, "infill")
    assert "_new_closed-hi-hat_T0_seed0" in label
    others = [d for d in range(9) if d != 2]
    np.testing.assert_array_equal(written.hits[:, others], beat.hits[:, others])
    at.multiselect(key="keep_infill_drums").set_value([]).run()
    assert at.button(key="infill_run").disabled
