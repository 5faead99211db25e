"""explorer.notes.midi_read refusing what it cannot use: every kind of bad upload raises a typed error in words a
musician can read, within limits that are settings; hypothesis feeds random and damaged bytes (of real GMD files) to
the parser, which may only answer with a `MidiError`."""

from __future__ import annotations

import json
import struct
import time
import warnings
from collections import Counter
from pathlib import Path

import mido
import note_seq
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.odd_midi import chunk_starts, variable_int
from explorer.errors import (
    ExplorerError,
    FileTooLargeError,
    InvalidMidiError,
    MidiError,
    NoDrumsError,
    TempoError,
    UnsupportedMeterError,
)
from explorer.notes.groove import Groove
from explorer.notes.midi_read import (
    MidiLimits,
    midi_to_grooves,
    sequence_to_performance,
)
from tests.factories import (
    BAR,
    BEAT,
    NAME,
    STEP,
    TPB,
    assert_valid,
    drum_track,
    meter,
    note,
    one_track_file,
    smf,
    tempo,
)

FUZZ_BASES = ("drummer3/session2/44_rock_110_fill_4-4.mid", "drummer2/session2/6_rock_130_beat_4-4.mid")
SLOW_SECONDS = 2.0  # a fuzzed input slower than this is kept as a finding


# --- uploads that cannot be used ----------------------------------------------------------------


def chunk(name: bytes, body: bytes) -> bytes:
    return name + struct.pack(">I", len(body)) + body


def raw_midi(*bodies: bytes, midi_type: int = 0, division: int = TPB, tracks: int | None = None) -> bytes:
    """A file assembled byte by byte, for headers and events mido refuses to write."""
    header = struct.pack(">HHH", midi_type, len(bodies) if tracks is None else tracks, division)
    return chunk(b"MThd", header) + b"".join(chunk(b"MTrk", body) for body in bodies)


END = b"\x00\xff\x2f\x00"  # end of track
KICK_ON_OFF = b"\x00\x99\x24\x64\x3c\x89\x24\x00"  # kick on channel 10, 60 ticks long


def many_notes(count: int) -> bytes:
    """`count` kicks a tick apart, in running status: 6 bytes a note."""
    return raw_midi(b"\x00\x99\x24\x64" + b"\x01\x24\x00\x00\x24\x64" * (count - 1) + b"\x01\x24\x00" + END)


def patched(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


KEY_C = bytes(mido.MetaMessage("key_signature", key="C").bytes())  # ff 59 02 00 00
BAD_INPUTS = [  # (id, bytes, error, phrase); every message also names the file
    ("text", b"Hello! This is a text file.", InvalidMidiError, "not a MIDI file"),
    ("empty", b"", InvalidMidiError, "not a MIDI file"),
    ("wav", b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00", InvalidMidiError, "not a MIDI file"),
    ("cut in header", BEAT[:10], InvalidMidiError, "damaged or truncated"),
    ("cut after header", BEAT[:14], InvalidMidiError, "damaged or truncated"),
    ("cut in half", BEAT[:len(BEAT) // 2], InvalidMidiError, "damaged or truncated"),
    ("last byte missing", BEAT[:-1], InvalidMidiError, "damaged or truncated"),
    ("not a track chunk", raw_midi(KICK_ON_OFF + END).replace(b"MTrk", b"MTrX"), InvalidMidiError, "damaged"),
    ("running status first", raw_midi(b"\x00\x24\x64" + END), InvalidMidiError, "damaged"),
    ("data byte over 127", patched(BEAT, b"\x99\x24\x6e", b"\x99\x24\xee"), InvalidMidiError, "could not be read"),
    ("regression: key of 8 sharps", patched(smf([*drum_track(note(0)), (0, mido.MetaMessage("key_signature"))]),
                                            KEY_C, KEY_C[:3] + b"\x08\x00"), InvalidMidiError, "damaged"),
    ("SMPTE timing", raw_midi(KICK_ON_OFF + END, division=0xE728), InvalidMidiError, "SMPTE"),
    ("0 ticks per quarter", raw_midi(KICK_ON_OFF + END, division=0), InvalidMidiError, "0 ticks per quarter"),
    ("type 2", smf(drum_track(note(0)), midi_type=2), InvalidMidiError, "type-2"),
    ("0 tracks", raw_midi(), InvalidMidiError, "no tracks"),
    ("piano on channel 1", smf(tempo(120) + note(0, 60, channel=0) + note(STEP, 64, channel=0)), NoDrumsError,
     "Drums must be on MIDI channel 10"),
    ("drums on no kit pitch", one_track_file(note(0, 20), note(STEP, 100)), NoDrumsError, "none on a pitch"),
    ("no notes", smf(drum_track()), NoDrumsError, "contains no notes"),
    ("3/4", smf(tempo(120) + meter(3, 4) + note(0)), UnsupportedMeterError, "is in 3/4"),
    ("6/8", smf(tempo(120) + meter(6, 8) + note(0)), UnsupportedMeterError, "is in 6/8"),
    ("4/4 then 3/4", smf(drum_track(note(0)) + meter(3, 4, BAR)), UnsupportedMeterError, "is in 3/4"),
    ("3/4 on a later track", smf(tempo(120), meter(3, 4) + note(0)), UnsupportedMeterError, "is in 3/4"),
    ("120 then 90 bpm", smf(drum_track(note(0), note(BAR)) + tempo(90, BAR)), TempoError, "changes tempo (90.0, 120.0"),
    ("regression: 120 then 0 bpm",
     smf([*drum_track(note(0), note(BAR)), (BAR, mido.MetaMessage("set_tempo", tempo=0))]), TempoError,
     "changes tempo (0.0, 120.0"),
    ("regression: first tempo late", smf(meter(4, 4) + tempo(90, BAR) + note(0) + note(BAR)), TempoError,
     "changes tempo (90.0, 120.0"),
    ("tempo 0", smf([(0, mido.MetaMessage("set_tempo", tempo=0)), *note(0)]), TempoError, "at 0.0 bpm"),
    ("3.6 bpm, the slowest a file can state (1 bpm does not fit)",
     smf([(0, mido.MetaMessage("set_tempo", tempo=0xFFFFFF)), *note(0)]), TempoError, "at 3.6 bpm"),
    ("1000 bpm", one_track_file(note(0), bpm=1000), TempoError, "at 1000.0 bpm"),
    ("over 2 MB", BEAT + bytes(2_000_000), FileTooLargeError, "files up to 2 MB"),
    ("25,001 notes", many_notes(25_001), FileTooLargeError, "25,001 notes; up to 25,000"),
    ("lasts 31 minutes", one_track_file(note(0), note(31 * 60 * 2 * TPB)), FileTooLargeError, "lasts 31 minutes"),
    ("huge delta time", raw_midi(KICK_ON_OFF + b"\xff\xff\xff\x7f\x99\x24\x64\x00\x89\x24\x00" + END),
     FileTooLargeError, "runs far longer than 30 minutes"),
]


HYPOTHESIS_FINDINGS = [  # shrunk failing examples, each a non-MidiError out of midi_to_grooves before its fix
    # a key signature in "mode 2": mido's KeySignatureError escaped _parse_midi
    ("key in mode 2", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x00MTrk\x00\x00\x00\x01\x00\xffY\x02\x00\x02",
     InvalidMidiError, "damaged or truncated"),
]


@pytest.mark.parametrize(("data", "error", "phrase"), [case[1:] for case in BAD_INPUTS + HYPOTHESIS_FINDINGS],
                         ids=[case[0] for case in BAD_INPUTS + HYPOTHESIS_FINDINGS])
def test_bad_upload_raises_a_typed_error_a_musician_can_read(data, error, phrase):
    with pytest.raises(MidiError) as caught:
        midi_to_grooves(data, NAME)
    message = str(caught.value)
    assert type(caught.value) is error, message
    assert phrase in message and message.startswith(f"'{NAME}' ")
    assert "\n" not in message and len(message) < 250 and "Traceback" not in message


@pytest.mark.parametrize("base", FUZZ_BASES)
def test_hypothesis_finding_tempo_one_tick_late_is_a_tempo_error(groove_dir, base):
    """A GMD file whose first delta time became 1 (byte 22: 0x00 → 0x01) sets its tempo a tick after the start:
    note-seq's MultipleTempoError escaped before the fix."""
    data = bytearray((groove_dir / base).read_bytes())
    assert data[14:18] == b"MTrk" and data[22] == 0
    data[22] = 1
    with pytest.raises(TempoError, match="first tempo comes after the start") as caught:
        midi_to_grooves(bytes(data), NAME)
    assert "120.0" in str(caught.value)  # the default tempo the file starts at


def test_limits_are_settings():
    strict = MidiLimits(max_bytes=100, max_notes=3, max_seconds=1.0, min_bpm=60.0, max_bpm=100.0)
    with pytest.raises(FileTooLargeError, match=r"up to 0\.0001 MB"):
        midi_to_grooves(BEAT + bytes(100), NAME, limits=strict)
    with pytest.raises(FileTooLargeError, match="4 notes; up to 3"):
        midi_to_grooves(BEAT, NAME, limits=MidiLimits(max_notes=3))
    with pytest.raises(TempoError, match="tempos from 60 to 100 bpm"):
        midi_to_grooves(BEAT, NAME, limits=MidiLimits(min_bpm=60, max_bpm=100))
    with pytest.raises(FileTooLargeError, match="lasts 0 minutes; up to 0 minutes"):
        midi_to_grooves(one_track_file(note(0), note(5 * BAR)), NAME, limits=MidiLimits(max_seconds=9.0))
    assert len(midi_to_grooves(BEAT, NAME, limits=MidiLimits(max_notes=4))) == 1  # the limit itself is accepted


def test_unreadable_paths_raise_a_typed_error(tmp_path):
    with pytest.raises(InvalidMidiError, match=r"'missing\.mid' cannot be opened"):
        midi_to_grooves(tmp_path / "missing.mid")
    with pytest.raises(InvalidMidiError, match="cannot be opened"):
        midi_to_grooves(tmp_path)
    huge = tmp_path / "huge.mid"
    with huge.open("wb") as out:  # sparse: the size is refused before anything is read
        out.truncate(3_000_000)
    with pytest.raises(FileTooLargeError, match=r"'huge\.mid' is 3\.0 MB"):
        midi_to_grooves(huge)


def sequence_with(qpm: float = 120.0, meters=((4, 4, 0.0),), tempos=(), start: float = 0.0):
    sequence = note_seq.NoteSequence(ticks_per_quarter=TPB)
    sequence.tempos.add(qpm=qpm)
    for time_, extra_qpm in tempos:
        sequence.tempos.add(qpm=extra_qpm, time=time_)
    for numerator, denominator, time_ in meters:
        sequence.time_signatures.add(numerator=numerator, denominator=denominator, time=time_)
    sequence.notes.add(pitch=36, velocity=100, start_time=start, end_time=start + 0.1, is_drum=True)
    sequence.total_time = start + 0.1
    return sequence


@pytest.mark.parametrize(("sequence", "error", "phrase"), [
    (sequence_with(meters=((3, 4, 0.0),)), UnsupportedMeterError, "is in 3/4"),
    (sequence_with(meters=((4, 4, 0.0), (7, 8, 2.0))), UnsupportedMeterError, "is in 7/8"),
    (sequence_with(qpm=100.0, tempos=((2.0, 90.0),)), TempoError, "changes tempo (90.0, 100.0 bpm)"),
    (sequence_with(qpm=1.0), TempoError, "at 1.0 bpm"),
    (sequence_with(start=-1.0), InvalidMidiError, "before its start"),
], ids=["3/4", "meter change", "tempo change", "1 bpm", "negative time"])
def test_note_sequence_that_cannot_be_encoded_raises_a_typed_error(sequence, error, phrase):
    with pytest.raises(MidiError) as caught:
        sequence_to_performance(sequence, NAME)
    assert type(caught.value) is error and phrase in str(caught.value) and str(caught.value).startswith(f"'{NAME}'")


def test_every_midi_error_is_an_explorer_error():
    assert all(issubclass(error, MidiError) and issubclass(error, ExplorerError)
               for error in (InvalidMidiError, FileTooLargeError, NoDrumsError, UnsupportedMeterError, TempoError))


# --- fuzzing: whatever bytes an upload holds, only a MidiError may come out -----------------------------


class FuzzLog:
    """Times every fuzzed upload; those slower than SLOW_SECONDS are kept as findings."""

    def __init__(self, folder: Path):
        self.folder, self.seconds, self.slow, self.outcomes = folder, [], [], Counter()

    def grooves(self, data: bytes) -> list[Groove] | None:
        """midi_to_grooves' windows, or None for a MidiError; any other exception fails the test."""
        start = time.perf_counter()
        try:
            found = midi_to_grooves(data, NAME)
            self.outcomes["windows"] += 1
            return found
        except MidiError as error:
            self.outcomes[type(error).__name__] += 1
            return None
        finally:
            seconds = time.perf_counter() - start
            self.seconds.append(seconds)
            if seconds > SLOW_SECONDS:
                path = self.folder / f"slow-{len(self.slow)}-{seconds:.1f}s.mid"
                path.write_bytes(data)
                self.slow.append(str(path))


@pytest.fixture(scope="module")
def fuzz_log(request):
    folder = request.config.cache.mkdir("groove-fuzz")
    log = FuzzLog(folder)
    yield log
    if log.seconds:
        report = {"examples": len(log.seconds), "slowest_seconds": round(max(log.seconds), 3),
                  "median_seconds": round(float(np.median(log.seconds)), 4), "outcomes": dict(log.outcomes),
                  "slow_inputs": log.slow}
        (folder / "timings.json").write_text(json.dumps(report, indent=1))
    if log.slow:
        warnings.warn(f"{len(log.slow)} fuzzed uploads took over {SLOW_SECONDS:g} s each: {log.slow}", stacklevel=1)


@pytest.fixture(scope="module")
def fuzz_bases(groove_dir) -> dict[str, bytes]:
    return {name: (groove_dir / name).read_bytes() for name in FUZZ_BASES}


FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=250,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def meta_event(kind: int, data: bytes) -> bytes:
    return b"\x00\xff" + bytes([kind]) + variable_int(len(data)) + data


events = st.one_of(  # plausible and implausible track events, so fuzzing reaches past the chunk headers
    st.tuples(st.integers(0, 2**21), st.sampled_from([0x99, 0x89, 0x90, 0xB9, 0xC9, 0xE9]),
              st.binary(min_size=1, max_size=2)).map(lambda e: variable_int(e[0]) + bytes([e[1]]) + e[2]),
    st.tuples(st.sampled_from([0x51, 0x58, 0x59, 0x54, 0x2F, 0x03, 0x00]), st.binary(max_size=6))
    .map(lambda e: meta_event(*e)),
    st.binary(min_size=1, max_size=4).map(lambda running: b"\x00" + running),
    st.binary(max_size=8).map(lambda data: b"\x00\xf0" + variable_int(len(data)) + data),
)
uploads = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda rest: b"MThd" + rest),
    st.tuples(st.integers(0, 2), st.integers(0, 3), st.sampled_from([TPB, 96, 1, 0x7FFF, 0x8000, 0xE728]),
              st.lists(st.lists(events, max_size=24).map(b"".join), max_size=3))
    .map(lambda f: raw_midi(*(body + END for body in f[3]), midi_type=f[0], division=f[2],
                            tracks=max(f[1], len(f[3])))),
)


@FUZZ
@given(data=uploads)
def test_random_bytes_raise_only_midi_errors(fuzz_log, data):
    grooves = fuzz_log.grooves(data)
    if grooves is not None:
        assert_valid(grooves)


@st.composite
def damaged(draw, base: bytes) -> bytes:
    """1-2 of: bit flips, truncation, a corrupt chunk length, inserted running-status data, a changed header field."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["flip", "truncate", "chunk length", "running status", "header"]))
        if kind == "flip" and data:
            events_start = min(22, len(data) - 1)  # mostly in the events, where damage leaves more to parse
            for _ in range(draw(st.integers(1, 4))):
                at = draw(st.one_of(st.integers(events_start, len(data) - 1), st.integers(0, len(data) - 1)))
                data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            data = data[:draw(st.integers(0, max(len(data) - 1, 0)))]
        elif kind == "chunk length":
            at = draw(st.sampled_from(chunk_starts(bytes(data))))
            if at + 8 <= len(data):
                true = struct.unpack(">I", data[at + 4:at + 8])[0]
                length = draw(st.one_of(st.sampled_from([0, 1, 5, true - 1, true + 1, 2**31, 2**32 - 1]),
                                        st.integers(0, 2**32 - 1)))
                data[at + 4:at + 8] = struct.pack(">I", min(max(length, 0), 2**32 - 1))
        elif kind == "running status" and len(data) > 22:
            at = draw(st.integers(22, len(data)))  # inside the first track's events
            data[at:at] = draw(st.binary(min_size=1, max_size=3).map(lambda b: bytes(x & 0x7F for x in b)))
        elif kind == "header" and len(data) >= 14:
            field = draw(st.sampled_from([8, 10, 12]))  # format, number of tracks, division
            data[field:field + 2] = struct.pack(">H", draw(st.integers(0, 0xFFFF)))
    return bytes(data)


@pytest.mark.parametrize("base", FUZZ_BASES)
@FUZZ
@given(choice=st.data())
def test_damaged_gmd_files_raise_only_midi_errors(fuzz_log, fuzz_bases, base, choice):
    data = choice.draw(damaged(fuzz_bases[base]), label="damaged file")
    grooves = fuzz_log.grooves(data)
    if grooves is not None:
        assert_valid(grooves)

