"""Hostile and odd uploads: a seeded subset of `bench.fuzz_midi`'s inputs, each named odd case, and real-world
General MIDI files (other kits than GMD's, songs with a drum track).

The full run (10,000 inputs, timings and memory) is `python -m bench.fuzz_midi`; its results are in
docs/RELIABILITY.md. Here only behaviour is asserted, never time.
"""

from __future__ import annotations

from collections import Counter

import mido
import numpy as np
import pytest

from bench import fuzz_midi, odd_midi
from explorer.errors import (
    FileTooLargeError,
    InvalidMidiError,
    MidiError,
    NoDrumsError,
    TempoError,
    UnsupportedMeterError,
)
from explorer.notes.drums import DRUM_CHANNEL, DRUM_CLASSES, FEATURES, PITCH_TO_CLASS
from explorer.notes.grid import WINDOW_STEPS
from explorer.notes.midi_read import DEFAULT_LIMITS, midi_to_performance
from tests.factories import STEP, smf

SEED = 0
SUBSET = 300  # inputs 0-299 of the bench's seed-0 run
NAME = "odd.mid"


@pytest.fixture(scope="module")
def bases(groove_dir) -> list[bytes]:
    return fuzz_midi.base_files(groove_dir)


def open_checked(data: bytes, name: str = NAME):
    """The windows of an upload, or the MidiError it was refused with, checked for what a musician reads.

    Any other exception escapes and fails the test."""
    try:
        found = fuzz_midi.open_upload(data, name)
    except MidiError as error:
        assert fuzz_midi.good_message(str(error), name), str(error)
        return error
    for window in found:
        assert window.tensor().shape == (WINDOW_STEPS, FEATURES) and window.hits.any()
        assert DEFAULT_LIMITS.min_bpm <= window.bpm <= DEFAULT_LIMITS.max_bpm
    assert found
    return found


def test_seeded_subset_opens_or_is_refused_with_a_typed_message(bases):
    outcomes, categories = Counter(), set()
    for index in range(SUBSET):
        category, data = odd_midi.generate(SEED, index, bases)
        result = open_checked(data, f"fuzz-{index}.mid")
        outcomes[type(result).__name__] += 1
        categories.add(category)
    assert outcomes["list"] > SUBSET // 5  # measured: 98 of 300 open
    assert {"InvalidMidiError", "FileTooLargeError", "NoDrumsError", "UnsupportedMeterError", "TempoError"} <= set(
        outcomes)
    assert "MidiError" not in outcomes  # every refusal says which kind of problem it is
    assert len(categories) >= 20


def test_seeded_files_that_open_go_on_through_encode_render_and_download(bases):
    from explorer.model.checkpoints import load_model

    model = load_model()  # the shipped default
    done = 0
    for index in range(SUBSET):
        _, data = odd_midi.generate(SEED, index, bases)
        result = open_checked(data, f"fuzz-{index}.mid")
        if isinstance(result, list):
            fuzz_midi.rest_of_path(model, result[0])  # raises if any step fails or gives something wrong
            done += 1
        if done == 6:
            break
    assert done == 6


def rng() -> np.random.Generator:
    return np.random.default_rng(7)


REFUSED = [  # (id, file, error, phrase)
    ("0 tracks", odd_midi.zero_tracks(rng(), []), InvalidMidiError, "contains no tracks"),
    ("1,000 tracks", odd_midi.many_tracks(rng(), [], count=1000), FileTooLargeError, "has 1,000 tracks"),
    ("257 tracks", odd_midi.many_tracks(rng(), [], count=257), FileTooLargeError, "opens files with up to 256"),
    ("SMPTE timing", odd_midi.smpte(rng(), []), InvalidMidiError, "SMPTE"),
    ("format 2", odd_midi.format_2(rng(), []), InvalidMidiError, "type-2"),
    ("tempo 0", odd_midi.absurd_tempo(rng(), [], tempos=[0]), TempoError, "at 0.0 bpm"),
    ("1000 bpm", odd_midi.absurd_tempo(rng(), [], tempos=[60_000]), TempoError, "at 1000.0 bpm"),
    ("60 million bpm", odd_midi.absurd_tempo(rng(), [], tempos=[1]), TempoError, "at 60000000.0 bpm"),
    ("120 then 3.6 bpm", odd_midi.absurd_tempo(rng(), [], tempos=[500_000, 0xFFFFFF]), TempoError, "changes tempo"),
    ("3/4", odd_midi.odd_meter(rng(), [], meters=[(3, 4)]), UnsupportedMeterError, "is in 3/4"),
    ("4/4 then 7/8", odd_midi.odd_meter(rng(), [], meters=[(4, 4), (7, 8)]), UnsupportedMeterError, "is in 7/8"),
    ("a byte over the size limit", odd_midi.size_limit(rng(), [], size=DEFAULT_LIMITS.max_bytes + 1),
     FileTooLargeError, "files up to 2 MB"),
    ("100,000 notes", odd_midi.many_notes(rng(), [], count=100_000), FileTooLargeError,
     "more than 25,000 notes; up to 25,000"),
    ("300,000 controller moves", odd_midi.many_events(rng(), [], count=300_000), FileTooLargeError,
     "more than 60,000 MIDI events"),
    ("200 kB of sysex", odd_midi.big_data(rng(), [], size=200_000), FileTooLargeError, "over 64 kB"),
    ("delta time of 0x0FFFFFFF ticks", odd_midi.huge_delta(rng(), [], delta=0x0FFFFFFF), FileTooLargeError,
     "far longer than 30 minutes"),
    ("delta time of 5 bytes", odd_midi.smf(b"\x81\x80\x80\x80\x00\x99\x24\x64" + odd_midi.END),
     InvalidMidiError, "longer than 4 bytes"),
    ("running status first", odd_midi.smf(b"\x00\x24\x64" + odd_midi.END), InvalidMidiError, "no status byte"),
    ("velocity over 127", odd_midi.smf(b"\x00\x99\x24\xe4" + odd_midi.END), InvalidMidiError, "above 127"),
    ("no drum notes", odd_midi.no_drums(rng(), []), NoDrumsError, "channel 10"),
]


@pytest.mark.parametrize(("data", "error", "phrase"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED])
def test_odd_file_is_refused_saying_what_is_wrong(data, error, phrase):
    result = open_checked(data)
    assert type(result) is error and phrase in str(result), result


def test_a_file_at_the_size_limit_opens():
    for size in (DEFAULT_LIMITS.max_bytes - 1, DEFAULT_LIMITS.max_bytes):
        data = odd_midi.size_limit(rng(), [], size=size)
        assert len(data) == size and isinstance(open_checked(data), list)


@pytest.mark.parametrize("bpm", [DEFAULT_LIMITS.min_bpm, DEFAULT_LIMITS.max_bpm])
def test_the_tempo_limits_themselves_open(bpm):
    found = open_checked(odd_midi.absurd_tempo(rng(), [], tempos=[odd_midi.microseconds(bpm)]))
    assert found[0].bpm == pytest.approx(bpm, rel=1e-5)


def test_256_tracks_and_a_restated_4_4_open():
    assert isinstance(open_checked(odd_midi.many_tracks(rng(), [], count=256)), list)
    assert isinstance(open_checked(odd_midi.odd_meter(rng(), [], meters=[(4, 4), (4, 4)])), list)


def test_running_status_reads_like_the_same_file_without_it():
    plain, running = (odd_midi.groove_file(np.random.default_rng(3), bpm=97.0, bars=4, running=running)
                      for running in (False, True))
    assert len(running) < len(plain)
    assert midi_to_performance(running).groove.same_as(midi_to_performance(plain).groove)


def test_every_pitch_fills_every_class_and_counts_the_rest():
    performance = midi_to_performance(odd_midi.every_pitch(rng(), []), NAME)
    assert performance.groove.hits.any(axis=0).all()
    assert performance.groove.hits.sum() == len(PITCH_TO_CLASS)  # one step each
    assert performance.unmapped_notes == 128 - len(PITCH_TO_CLASS)
    assert set(performance.unmapped_pitches) == set(range(128)) - set(PITCH_TO_CLASS)


# --- real-world files from other drum maps ---------------------------------------------------------------------


GM_KIT_CLASSES = {  # General MIDI pitch: the class a drummer would expect it in
    35: "kick", 36: "kick", 37: "snare", 38: "snare", 39: "snare", 40: "snare",  # side stick, clap, electric snare
    42: "closed hi-hat", 44: "closed hi-hat", 54: "closed hi-hat", 46: "open hi-hat",  # 44 pedal, 54 tambourine
    41: "low tom", 43: "low tom", 45: "mid tom", 47: "mid tom", 48: "high tom", 50: "high tom",
    49: "crash", 52: "crash", 55: "crash", 57: "crash",  # china, splash, crash 2
    51: "ride", 53: "ride", 59: "ride",  # ride bell, ride 2
}


def notes(channel: int, hits: list[tuple[int, int]], velocity: int = 100, length: int = STEP // 2):
    """(tick, message) note-on/off pairs on `channel` for (tick, pitch) hits."""
    return [event for tick, pitch in hits for event in (
        (tick, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
        (tick + length, mido.Message("note_off", channel=channel, note=pitch)))]


def test_a_general_midi_kit_maps_each_drum_to_its_class():
    pitches = sorted(GM_KIT_CLASSES)
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))),
                 (0, mido.MetaMessage("time_signature", numerator=4, denominator=4))]
    kit = notes(DRUM_CHANNEL, [(2 * i * STEP, pitch) for i, pitch in enumerate(pitches)])
    performance = midi_to_performance(smf(conductor, kit, midi_type=1), "gm-kit.mid")
    hits = performance.groove.hits
    for i, pitch in enumerate(pitches):
        assert hits[2 * i].tolist() == np.eye(9)[DRUM_CLASSES.index(GM_KIT_CLASSES[pitch])].tolist(), pitch
    assert hits.sum() == len(pitches) and performance.unmapped_notes == 0
    assert performance.groove.bpm == 100.0


def test_a_song_opens_as_its_drum_track_alone():
    """Keys on channel 1, bass on channel 2 (same pitches as the kit) and drums on channel 10: 8 bars of rock."""
    bar = 16 * STEP
    conductor = [(0, mido.MetaMessage("track_name", name="Song")),
                 (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96))),
                 (0, mido.MetaMessage("time_signature", numerator=4, denominator=4))]
    chords = [(b * bar + beat * 4 * STEP, pitch) for b in range(8) for beat in range(4) for pitch in (60, 64, 67)]
    keys = [(0, mido.Message("program_change", channel=0, program=4)), *notes(0, chords, length=4 * STEP)]
    roots = [(b * bar + half * 8 * STEP, 36) for b in range(8) for half in range(2)]
    bass = [(0, mido.Message("program_change", channel=1, program=33)), *notes(1, roots, length=8 * STEP)]
    kick, snare, hat, crash = 36, 38, 42, 49
    drum_hits = [(b * bar + s * STEP, hat) for b in range(8) for s in range(0, 16, 2)]
    drum_hits += [(b * bar + s * STEP, kick) for b in range(8) for s in (0, 8, 10)]
    drum_hits += [(b * bar + s * STEP, snare) for b in range(8) for s in (4, 12)]
    drum_hits += [(0, crash), (4 * bar, crash)]
    drums = [(0, mido.Message("control_change", channel=DRUM_CHANNEL, control=4, value=90)),
             *notes(DRUM_CHANNEL, drum_hits)]
    performance = midi_to_performance(smf(conductor, keys, bass, drums, midi_type=1), "song.mid")
    groove = performance.groove
    assert groove.bpm == 96.0 and groove.steps == 8 * 16 and performance.unmapped_notes == 0
    per_class = dict(zip(DRUM_CLASSES, groove.hits.sum(axis=0).tolist(), strict=True))
    assert per_class == {"kick": 24, "snare": 16, "closed hi-hat": 64, "open hi-hat": 0, "low tom": 0, "mid tom": 0,
                         "high tom": 0, "crash": 2, "ride": 0}
    assert groove.hits[0, DRUM_CLASSES.index("kick")] == 1 and groove.hits[4, DRUM_CLASSES.index("snare")] == 1
    song = smf(conductor, keys, bass, drums, midi_type=1)
    assert len(open_checked(song, "song.mid")) == 5  # 4-bar windows from bars 1-5
