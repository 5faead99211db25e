"""The players' shared JavaScript (explorer/app/components/web_audio.js), run in headless Chromium on a blank page with
its audio clock readings made up: how audio times become MIDI times."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.app.components import web_audio_js
from tests.system.browser_helpers import CHROMIUM, launch_chromium

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt install "
                                                              "chromium)")

# Notes every 16th at 120 bpm on the audio clock; before each, the browser's (contextTime, performanceTime) reading
# as `getOutputTimestamp` gives it: the audio clock's offset against the MIDI clock, in ms, one reading per note.
MIDI_TIMES = """([offsets, hasStamp]) => {
    const state = {audio: {currentTime: 0}};
    let reading = 0;
    if (hasStamp) state.audio.getOutputTimestamp = () => ({contextTime: reading * 0.125,
                                                            performanceTime: reading * 125 + offsets[reading]});
    return offsets.map((_, index) => { reading = index; return midiTime(state, index * 0.125 + 0.2); });
}"""


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.add_script_tag(content=web_audio_js())
            yield page
        finally:
            browser.close()


def midi_offsets(page, offsets_ms) -> np.ndarray:
    """The offset (ms) of each note's MIDI time from its audio time, given the clock readings' offsets."""
    times = np.array(page.evaluate(MIDI_TIMES, [list(map(float, offsets_ms)), True]))
    return times - (np.arange(len(offsets_ms)) * 0.125 + 0.2) * 1000


def test_the_clock_readings_jitter_is_smoothed_out_of_the_midi_times(page):
    """Readings that jitter by ±2 ms (as headless Chromium's, busy) leave the notes evenly spaced on the MIDI clock:
    within 0.05 ms from note to note, where the raw readings move up to 4 ms."""
    offsets = 1000 + np.random.default_rng(0).uniform(-2, 2, 200)
    midi = midi_offsets(page, offsets)
    assert np.abs(np.diff(offsets)).max() > 3
    assert np.abs(np.diff(midi)).max() < 0.05
    assert midi[0] == pytest.approx(offsets[0])  # the first reading is taken as it is
    assert np.abs(midi - 1000).max() < 2.1


def test_a_jump_of_the_audio_clock_is_followed_at_once(page):
    """The audio device stalled and the browser re-synced its clock by 20 ms: the very next note moves with it, so
    MIDI stays with the audio as heard; a step of 4 ms (jitter) is not followed at once."""
    offsets = np.array([1000.0] * 10 + [1020.0] * 10 + [1024.0] * 10)
    midi = midi_offsets(page, offsets)
    np.testing.assert_allclose(midi[:10], 1000)
    np.testing.assert_allclose(midi[10:20], 1020)
    assert 1020 < midi[29] < 1021.2  # moving towards it, 1 % of the difference a reading


def test_the_audio_and_midi_clocks_drift_is_followed(page):
    """Two devices' clocks drift apart (here 100 ppm, more than sound cards' crystals usually do): the MIDI times
    follow smoothly, 1.3 ms behind at most (0.01 ms a reading over 1 % a reading), never by a jump."""
    offsets = 1000 + np.arange(2000) * 0.125 * 0.1  # 0.1 ms a second, a reading every 125 ms
    midi = midi_offsets(page, offsets)
    assert np.abs(midi - offsets).max() < 1.3
    assert np.abs(np.diff(midi)).max() < 0.03


def test_without_output_timestamps_notes_go_out_by_the_audio_clock_ahead_of_now(page):
    """A browser without getOutputTimestamp: each note is sent for now plus how far ahead of the audio clock it is."""
    sent, now = page.evaluate(f"() => [({MIDI_TIMES})([[0, 0], false]), performance.now()]")
    assert now - 1000 < sent[0] - 200 <= now and sent[1] - sent[0] == pytest.approx(125, abs=5)
