"""The step grid's Python side: the beat's schema (anything else the browser sends is refused in words), its model
view with swing, a groove opened on the grid, the beat in the address and back, and its JS/CSS in its folder."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.app.components.step_grid import (
    FOLDER,
    LEVELS,
    beat_as_seed,
    beat_to_groove,
    beat_to_text,
    check_beat,
    groove_to_beat,
    swing_offset,
    text_to_beat,
)
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR

KICK, SNARE, HAT = (DRUM_CLASSES.index(d) for d in ("kick", "snare", "closed hi-hat"))
BEAT = {"bars": 2, "bpm": 96, "swing": 62, "hits": [[KICK, 0, 3], [SNARE, 4, 2], [HAT, 1, 1], [HAT, 2, 2],
                                                      [DRUM_CLASSES.index("ride"), 31, 2]]}


def random_beat(rng) -> dict:
    bars = int(rng.integers(1, 5))
    cells = rng.random((NUM_CLASSES, bars * STEPS_PER_BAR)) < 0.2
    hits = [[int(r), int(s), int(rng.integers(1, 4))] for r, s in zip(*np.nonzero(cells), strict=True)]
    return {"bars": bars, "bpm": int(rng.integers(40, 241)), "swing": int(rng.integers(50, 76)), "hits": hits}


def test_a_beat_goes_into_the_address_and_comes_back_the_same():
    rng = np.random.default_rng(0)
    for beat in [BEAT, {"bars": 1, "bpm": 100, "swing": 50, "hits": []}] + [random_beat(rng) for _ in range(50)]:
        text = beat_to_text(beat)
        assert text_to_beat(text) == check_beat(beat)
        assert len(text) <= 210  # 4 bars of 9 drums at 2 bits a cell (192 characters) and the settings


@pytest.mark.parametrize("text", ["", "garbage", "100.50.9.AAAA", "100.50.1.!!", "100.50.1.AA", "x.50.1.AAAA",
                                  "500.50.1." + "A" * 48])
def test_an_address_that_is_not_a_beat_is_refused_in_words(text):
    with pytest.raises(ValueError, match=r"beat|tempo"):
        text_to_beat(text)


def test_the_model_view_plays_each_level_and_swings_the_offbeat_sixteenths():
    groove = beat_to_groove(BEAT)
    assert groove.steps == 32 and groove.bpm == 96 and groove.hits.sum() == 5
    assert groove.velocities[0, KICK] * 127 == pytest.approx(LEVELS[3][1])
    assert groove.velocities[1, HAT] * 127 == pytest.approx(LEVELS[1][1])
    assert groove.offsets[2, HAT] == 0 and groove.offsets[0, KICK] == 0  # on-beat 8ths stay on the grid
    assert groove.offsets[1, HAT] == pytest.approx(swing_offset(62)) and swing_offset(62) < 0  # late
    assert swing_offset(50) == 0 and swing_offset(75) == pytest.approx(-1.0)  # 75 %: half a 16th late


def test_a_groove_opens_on_the_grid_and_a_beat_becomes_a_four_bar_seed():
    assert groove_to_beat(beat_to_groove({**BEAT, "swing": 50})) == check_beat({**BEAT, "swing": 50, "bpm": 96})
    seed = beat_as_seed({**BEAT, "bars": 3, "hits": [[KICK, 0, 2], [SNARE, 40, 2]]})
    assert seed.steps == 64 and seed.hits[0, KICK] == seed.hits[48, KICK] == 1 and seed.hits[40, SNARE] == 1
    assert beat_as_seed(BEAT).steps == 64


@pytest.mark.parametrize("beat", [
    None, [], {"bars": 0, "bpm": 100, "swing": 50, "hits": []}, {"bars": 5, "bpm": 100, "swing": 50, "hits": []},
    {"bars": True, "bpm": 100, "swing": 50, "hits": []}, {"bars": 1, "bpm": 300, "swing": 50, "hits": []},
    {"bars": 1, "bpm": "fast", "swing": 50, "hits": []}, {"bars": 1, "bpm": 100, "swing": 80, "hits": []},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": "x"}, {"bars": 1, "bpm": 100, "swing": 50, "hits": [[0, 16, 2]]},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": [[9, 0, 2]]},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": [[0, 0, 4]]},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": [[0, 0, 2], [0, 0, 3]]},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": [[0, 0.5, 2]]},
    {"bars": 1, "bpm": 100, "swing": 50, "hits": [[0, 0]]},
], ids=["none", "list", "0 bars", "5 bars", "bool bars", "300 bpm", "text bpm", "swing 80", "hits text",
        "step past the end", "drum 9", "level 4", "two on a cell", "half a step", "short hit"])
def test_anything_else_the_browser_sends_is_refused_with_a_value_error(beat):
    with pytest.raises(ValueError):
        check_beat(beat)


def test_its_js_and_css_live_in_its_folder_and_the_js_sends_the_beat_it_is_checked_for():
    js = (FOLDER / "step_grid.js").read_text()
    assert 'setStateValue("beat"' in js and all(f"beat.{field}" in js for field in ("bars", "bpm", "swing", "hits"))
    assert "aria-label" in js and "role\", \"gridcell\"" in js
    assert (FOLDER / "step_grid.css").read_text().strip()
