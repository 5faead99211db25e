"""The tap pad's Python side: the take it sends is checked (anything else refused) and put on the 16th grid."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.app.components.tap_pad import FOLDER, take_to_taps
from explorer.model.conditions import TAP_CLASS

STEP = 60 / 120 / 4  # a 16th at 120 bpm, in seconds


def test_a_take_lands_on_the_grid_with_its_timing_and_the_loudest_tap_per_step():
    take = {"bpm": 120, "bars": 2, "times": [0.0, 4 * STEP + 0.01, 8 * STEP - 0.02, 8 * STEP + 0.005, 31 * STEP],
            "velocities": [96, 124, 60, 100, 96]}
    taps = take_to_taps(take, "tapped")
    assert taps.steps == 32 and taps.bpm == 120 and taps.source == "tapped"
    assert np.nonzero(taps.hits[:, TAP_CLASS])[0].tolist() == [0, 4, 8, 31]
    assert taps.velocities[4, TAP_CLASS] == pytest.approx(124 / 127)
    assert taps.offsets[4, TAP_CLASS] == pytest.approx(-2 * 0.01 / STEP)  # 10 ms late
    assert taps.velocities[8, TAP_CLASS] == pytest.approx(100 / 127)  # the louder of two taps on one step
    assert taps.offsets[8, TAP_CLASS] == pytest.approx(-2 * 0.005 / STEP)
    assert taps.hits.sum() == 4


@pytest.mark.parametrize("take", [
    None, "taps", {}, {"bpm": 120, "bars": 2, "times": [0.1], "velocities": []},
    {"bpm": 5, "bars": 2, "times": [0.1], "velocities": [90]},
    {"bpm": 120, "bars": 0, "times": [0.1], "velocities": [90]},
    {"bpm": 120, "bars": 99, "times": [0.1], "velocities": [90]},
    {"bpm": 120, "bars": 1, "times": [5.0], "velocities": [90]},  # after the take's end
    {"bpm": 120, "bars": 1, "times": [-1.0], "velocities": [90]},
    {"bpm": 120, "bars": 1, "times": [0.1], "velocities": [300]},
    {"bpm": 120, "bars": 1, "times": ["x"], "velocities": [90]},
    {"bpm": 120, "bars": 1, "times": [float("nan")], "velocities": [90]},
    {"bpm": 120, "bars": 1, "times": [0.1] * 5000, "velocities": [90] * 5000},
    {"bpm": 120, "bars": 1, "times": [], "velocities": []},
], ids=["none", "text", "empty", "lengths", "tempo", "no bars", "too many bars", "late", "early", "velocity",
        "text time", "nan", "too many taps", "no taps"])
def test_anything_else_is_refused_with_a_value_error(take):
    with pytest.raises(ValueError):
        take_to_taps(take)


def test_its_js_and_css_live_in_its_folder_and_the_js_sends_the_take_it_is_checked_for():
    js = (FOLDER / "tap_pad.js").read_text()
    assert 'setStateValue("take"' in js and all(field in js for field in ("bpm", "bars", "times", "velocities"))
    assert (FOLDER / "tap_pad.css").read_text().strip()
