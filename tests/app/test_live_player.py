"""The live player's Python side: each groove as the browser schedules it (every hit on its 16th, its micro-timing
as a shift), choices checked, layouts named, and its JS/CSS in its folder on the shared Web Audio code."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.app.components import WEB_AUDIO
from explorer.app.components.live_player import FOLDER, chosen_index, groove_notes_by_step, live_player
from explorer.notes.drums import NUM_CLASSES
from explorer.notes.grid import MAX_WRITTEN_SHIFT
from explorer.notes.groove import Groove
from explorer.notes.midi_write import groove_notes


def test_every_hit_is_on_its_step_with_its_timing_and_velocity(eight_windows):
    groove = Groove.from_tensor(eight_windows[0], 97.0)
    played = groove_notes_by_step(groove, 97.0)
    assert played["bpm"] == 97.0 and played["steps"] == 64
    assert len(played["notes"]) == int(groove.hits.sum())
    seconds = 60 / 97 / 4
    expected = sorted(round(t, 6) for t, _, _ in groove_notes(groove))
    heard = sorted(round(max(0.0, (step + shift) * seconds), 6) for step, shift, _, _ in played["notes"])
    np.testing.assert_allclose(heard, expected, atol=1e-4)  # the same times as the rendered files and the MIDI
    for step, shift, drum, velocity in played["notes"]:
        assert groove.hits[step, drum] == 1 and abs(shift) <= MAX_WRITTEN_SHIFT + 1e-4
        assert velocity == int(np.clip(round(float(groove.velocities[step, drum]) * 127), 1, 127))
        assert 0 <= drum < NUM_CLASSES


@pytest.mark.parametrize(("value", "count", "expected"), [(0, 4, 0), (3, 4, 3), (4, 4, None), (-1, 4, None),
                                                          (True, 4, None), ("2", 4, None), (None, 4, None),
                                                          (1.0, 4, None)])
def test_only_a_choice_among_the_grooves_is_taken(value, count, expected):
    assert chosen_index(value, count) == expected


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="layout"):
        live_player("x", [], {}, layout="carousel")


def test_its_js_and_css_live_in_its_folder_on_the_shared_web_audio_code():
    js = (FOLDER / "live_player.js").read_text()
    assert 'setStateValue("chosen"' in js and "runLoop(" in js and "offerMidiOut(" in js
    shared = WEB_AUDIO.read_text()
    assert all(f"function {name}(" in shared for name in ("startAudio", "sound", "runLoop", "stopLoop", "offerMidiOut"))
    assert (FOLDER / "live_player.css").read_text().strip()
