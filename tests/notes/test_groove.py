"""explorer.notes.groove: the Groove value type (tensor layout, checks, windows, content keys, tempo changes), and that
showing, playing or writing a groove never imports note-seq (reading MIDI does: tests/notes/test_midi_read.py)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from explorer.files import PROJECT_DIR
from explorer.notes.drums import FEATURES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_STEPS, step_seconds
from explorer.notes.groove import Groove
from explorer.notes.midi_write import groove_notes
from tests.factories import KICK, random_groove

# --- the Groove value type ----------------------------------------------------------------------


def test_tensor_is_hits_then_velocities_then_offsets():
    groove = random_groove(np.random.default_rng(1))
    tensor = groove.tensor()
    assert tensor.shape == (WINDOW_STEPS, 3 * NUM_CLASSES) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor[:, :9], groove.hits)
    np.testing.assert_array_equal(tensor[:, 9:18], groove.velocities)
    np.testing.assert_array_equal(tensor[:, 18:], groove.offsets)
    assert Groove.from_tensor(tensor, groove.bpm, groove.source).same_as(groove)
    assert (groove.steps, groove.bars, groove.seconds) == (64, 4.0, 64 * 0.125)


def test_from_tensor_thresholds_hits_and_silences_empty_cells():
    tensor = np.zeros((16, FEATURES), np.float32)
    tensor[:, KICK] = np.linspace(0, 1, 16)  # hit probabilities
    tensor[:, 9 + KICK] = 1.7  # velocities and offsets out of range, also where there is no hit
    tensor[:, 18 + KICK] = -3.0
    groove = Groove.from_tensor(tensor, bpm=97.0)
    expected_hits = (np.linspace(0, 1, 16) > 0.5).astype(np.float32)
    np.testing.assert_array_equal(groove.hits[:, KICK], expected_hits)
    np.testing.assert_array_equal(groove.velocities[:, KICK], expected_hits)
    np.testing.assert_array_equal(groove.offsets[:, KICK], -expected_hits)
    assert groove.bpm == 97.0 and not groove.hits[:, 1:].any()


@pytest.mark.parametrize("shapes", [
    ((64, 8), (64, 8), (64, 8)), ((64,), (64,), (64,)), ((64, 9, 1),) * 3, ((64, 9), (64, 9), (32, 9)),
], ids=["8 classes", "1-d", "3-d", "unequal"])
def test_groove_refuses_malformed_arrays(shapes):
    with pytest.raises(ValueError, match="shape"):
        Groove(*(np.zeros(shape) for shape in shapes))
    with pytest.raises(ValueError, match="shape"):
        Groove.from_tensor(np.zeros((64, 26)))


@pytest.mark.parametrize("bpm", [0.0, -90.0, float("nan"), float("inf")])
def test_groove_refuses_a_tempo_that_is_not_positive(bpm):
    with pytest.raises(ValueError, match="bpm"):
        Groove(np.zeros((16, 9)), np.zeros((16, 9)), np.zeros((16, 9)), bpm)


def test_groove_arrays_are_read_only_float32():
    groove = Groove(np.ones((16, 9), int), np.ones((16, 9)), np.zeros((16, 9)), 100)
    assert all(a.dtype == np.float32 for a in (groove.hits, groove.velocities, groove.offsets))
    with pytest.raises(ValueError):
        groove.hits[0, 0] = 0.0
    assert isinstance(groove.bpm, float)


def test_window_cuts_whole_bars_and_names_them():
    groove = random_groove(np.random.default_rng(2), steps=8 * STEPS_PER_BAR)
    window = groove.window(2)
    np.testing.assert_array_equal(window.tensor(), groove.tensor()[32:96])
    assert window.source == "random@bar3" and window.bpm == groove.bpm
    assert window.window_start_bar == 2 and dataclasses.replace(groove, source="").window(4).window_start_bar == 4
    assert groove.window(0, bars=1).steps == 16
    for start in (-1, 5):
        with pytest.raises(ValueError, match="outside"):
            groove.window(start)


def test_content_key_follows_sound_not_name():
    groove = random_groove(np.random.default_rng(3))
    renamed = Groove(groove.hits, groove.velocities, groove.offsets, groove.bpm, "another name")
    louder = Groove(groove.hits, np.minimum(groove.velocities * 1.1, 1.0), groove.offsets, groove.bpm)
    assert renamed.content_key() == groove.content_key()
    assert len({groove.content_key(), louder.content_key(), groove.with_bpm(121).content_key()}) == 3
    assert not groove.same_as(groove.with_bpm(121)) and groove.same_as(renamed)


def test_step_is_a_sixteenth_note():
    assert step_seconds(120) == 0.125 and step_seconds(60) == 0.25 and step_seconds(90) == pytest.approx(1 / 6)


def test_showing_and_playing_grooves_does_not_import_note_seq():
    """note-seq takes ~2 s to import: reading a MIDI file pays it, not showing, playing or writing a groove."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from explorer.audio import rendering
        from explorer.notes import drums
        from explorer.notes import groove
        from explorer.notes import midi_write
        from explorer.notes import midi_read
        from explorer.app import plots
        hits = np.zeros((64, drums.NUM_CLASSES), np.float32)
        hits[::4, 0] = 1
        beat = groove.Groove(hits, hits * 0.8, hits * 0.1, 100.0)
        plots.drum_roll_svg(beat)
        rendering.render_array(beat, renderer="builtin")
        written = midi_write.groove_to_midi(beat)
        assert "note_seq" not in sys.modules
        assert midi_read.midi_to_performance(written).groove.hits.sum() == 16
        assert "note_seq" in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_DIR)


def test_a_tempo_change_moves_the_notes_after_it_and_survives_windows_and_repeats():
    hits = np.zeros((128, NUM_CLASSES), np.float32)
    hits[[0, 64, 72], 0] = 1
    offsets = np.zeros_like(hits)
    offsets[72, 0] = 0.5  # a quarter step early, at the new tempo
    groove = Groove(hits, hits, offsets, 120.0, "two tempos", ((64, 60.0),))
    starts = [start for start, _, _ in groove_notes(groove)]
    assert starts == pytest.approx([0.0, 64 * 0.125, 64 * 0.125 + 7.75 * 0.25])
    assert groove.seconds == pytest.approx(64 * 0.125 + 64 * 0.25)
    later = groove.window(4)
    assert later.bpm == 60.0 and later.tempo_changes == ()
    across = groove.window(2)
    assert across.bpm == 120.0 and across.tempo_changes == ((32, 60.0),)
    twice = groove.repeated(2)
    assert twice.tempo_changes == ((64, 60.0), (128, 120.0), (192, 60.0))
    assert twice.seconds == pytest.approx(2 * groove.seconds)
    assert groove.with_bpm(90.0).tempo_changes == () and groove.content_key() != groove.with_bpm(120.0).content_key()
    for changes in (((0, 90.0),), ((200, 90.0),), ((70, 90.0), (64, 80.0)), ((64, -1.0),)):
        with pytest.raises(ValueError, match="tempo change"):
            Groove(hits, hits, offsets, 120.0, "", changes)
