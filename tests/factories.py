"""Builders the tests share: tiny hand-made grooves, drum files and their read-back, onsets of audio."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np

from explorer.notes.drums import (
    DRUM_CHANNEL,
    FEATURES,
    NUM_CLASSES,
)
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_STEPS
from explorer.notes.groove import Groove
from explorer.notes.midi_read import (
    DEFAULT_LIMITS,
    MidiLimits,
    midi_to_performance,
)
from explorer.notes.record import NoteRecord


def detect_onsets(samples: np.ndarray, sample_rate: int, window: int = 256, hop: int = 64,
                  min_gap: float = 0.05, threshold: float = 0.05) -> np.ndarray:
    """Spectral flux on log magnitudes (5.8 ms frames every 1.5 ms); peaks above `threshold` × the largest."""
    mono = np.concatenate([np.zeros(window), samples.mean(axis=1)])  # a hit at time 0 still rises from silence
    frames = np.lib.stride_tricks.sliding_window_view(mono, window)[::hop] * np.hanning(window)
    magnitude = np.log1p(10 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.concatenate([[0.0], np.maximum(np.diff(magnitude, axis=0), 0).sum(axis=1)])
    gap = int(min_gap * sample_rate / hop)
    peaks = [t for t in range(len(flux)) if flux[t] > threshold * flux.max()
             and flux[t] == flux[max(0, t - gap):t + gap + 1].max()]
    return (np.array(peaks) * hop + window / 2 - window) / sample_rate


TPB = 480  # ticks per quarter, GMD's resolution
STEP = TPB // 4  # a 16th
TICK = 2 / STEP  # one tick in offset units: offsets are 2 × (grid − played) / step


def drum_file(notes, bpm: float = 100, bars: int = 2, extra_track=None, tpb: int = TPB) -> bytes:
    """A type-1 file: track 0 tempo and meter (and any `extra_track` messages), track 1 the drums (channel 10).
    notes: (tick, pitch, velocity), each a 16th long."""
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    for message in extra_track or []:
        meta.append(message)
    events = []
    for tick, pitch, velocity in notes:
        events.append((tick, 1, mido.Message("note_on", channel=9, note=pitch, velocity=velocity)))
        events.append((tick + tpb // 4, 0, mido.Message("note_off", channel=9, note=pitch)))
    events.sort(key=lambda e: e[:2])
    drums, previous = mido.MidiTrack(), 0
    for tick, _, message in events:
        drums.append(message.copy(time=tick - previous))
        previous = tick
    drums.append(mido.MetaMessage("end_of_track", time=max(bars * 4 * tpb - previous, 0)))
    buffer = io.BytesIO()
    mido.MidiFile(type=1, ticks_per_beat=tpb, tracks=[meta, drums]).save(file=buffer)
    return buffer.getvalue()


def drum_machine_loop() -> bytes:
    """Two bars: kick on 1 and 3, side-stick (37) on 2 and 4 with a flam (a grace 38 note 20 ms before, soft), clap
    (39) with the backbeat in bar 2, cowbell (56) on the 8ths, ride bell (53) on 1, closed hats on the 16ths with
    accents on the beat and ghost snares between; GM toms 41/45/48 in a fill at the end."""
    notes = []
    grace = round(0.020 * 100 / 60 * TPB)  # 20 ms at 100 bpm
    for bar in range(2):
        base = bar * 16 * STEP
        notes += [(base, 36, 110), (base + 8 * STEP, 36, 90), (base, 53, 100)]
        for beat in (4, 12):
            notes += [(base + beat * STEP, 37, 120), (base + beat * STEP - grace, 38, 45)]
            if bar == 1:
                notes.append((base + beat * STEP, 39, 100))
        notes += [(base + s * STEP, 56, 70) for s in range(0, 16, 2)]
        notes += [(base + s * STEP, 42, 110 if s % 4 == 0 else 60) for s in range(16) if bar == 0 or s < 12]
        notes += [(base + s * STEP, 38, 28) for s in (7, 10)]
    notes += [(16 * STEP + 12 * STEP, 41, 95), (16 * STEP + 13 * STEP, 45, 95), (16 * STEP + 14 * STEP, 48, 100)]
    return drum_file(notes)


def shuffle(bars: int = 4, bpm: float = 100) -> bytes:
    """A shuffle: closed hats on every beat and on its swung eighth (two thirds into the beat), kick on 1 and 3,
    snare on 2 and 4, and a swung kick before beat 3 of each bar."""
    notes = []
    for beat in range(4 * bars):
        notes += [(beat * TPB, 42, 100), (beat * TPB + 2 * TPB // 3, 42, 70), (beat * TPB, 38 if beat % 2 else 36, 110)]
        if beat % 4 == 1:
            notes.append((beat * TPB + 2 * TPB // 3, 36, 90))
    return drum_file(notes, bpm=bpm, bars=bars)


def read_back(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(track, absolute tick, channel, pitch, velocity) of every note-on, in file order per track."""
    found = []
    for index, track in enumerate(mido.MidiFile(file=io.BytesIO(data)).tracks):
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "note_on" and message.velocity > 0:
                found.append((index, ticks, message.channel, message.note, message.velocity))
    return found


def track_lengths(data: bytes) -> list[int]:
    return [sum(m.time for m in track) for track in mido.MidiFile(file=io.BytesIO(data)).tracks]




def sketch(bars: int = 4) -> bytes:
    """Kick on 1 and 3, a side-stick (37) on 2 and 4 with a ghost note before it, a cowbell (56) on every beat and
    a pedal hi-hat (44) on the offbeats, slightly late; a second track with a piano note the tools must keep."""
    drums = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96)),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    notes = []
    for bar in range(bars):
        for beat in range(4):
            tick = (bar * 4 + beat) * TPB
            notes.append((tick, 56, 70))
            notes.append((tick + TPB // 2 + 12, 44, 50))
            if beat in (0, 2):
                notes.append((tick + 3, 36, 110))
            else:
                notes += [(tick - TPB // 4, 37, 25), (tick, 37, 96)]
    events = sorted([(t, 1, p, v) for t, p, v in notes] + [(t + 60, 0, p, 0) for t, p, _ in notes])
    previous = 0
    for tick, on, pitch, velocity in events:
        kind = "note_on" if on else "note_off"
        drums.append(mido.Message(kind, channel=DRUM_CHANNEL, note=pitch, velocity=velocity, time=tick - previous))
        previous = tick
    piano = mido.MidiTrack([mido.Message("program_change", channel=0, program=4),
                            mido.Message("note_on", channel=0, note=60, velocity=80, time=0),
                            mido.Message("note_off", channel=0, note=60, velocity=0, time=TPB * 4)])
    buffer = io.BytesIO()
    mido.MidiFile(ticks_per_beat=TPB, tracks=[drums, piano]).save(file=buffer)
    return buffer.getvalue()


def played(record: NoteRecord, keep) -> list[tuple]:
    return sorted((n.track, n.tick, n.pitch, n.velocity, n.channel) for n in record.notes if keep(n))


KICK, SNARE, CLOSED_HAT = 0, 1, 2


def random_groove(rng: np.random.Generator, steps: int = WINDOW_STEPS, bpm: float = 120.0) -> Groove:
    """Hits at 30 %, velocities that are whole MIDI velocities, offsets on whole ticks short of the ±1 tie."""
    hits = (rng.random((steps, NUM_CLASSES)) < 0.3).astype(np.float32)
    velocities = rng.integers(1, 128, hits.shape) / 127.0 * hits
    offsets = rng.integers(-STEP // 2 + 1, STEP // 2, hits.shape) * TICK * hits
    offsets[0] = np.minimum(offsets[0], 0.0)  # nothing can be played before the file starts
    return Groove(hits, velocities, offsets, bpm, "random")


def make_groove(hits: list[tuple[int, int, float, float]], steps: int = 64, bpm: float = 120.0) -> Groove:
    """(step, drum class, velocity 0-1, offset -1..1) per hit."""
    arrays = [np.zeros((steps, NUM_CLASSES), np.float32) for _ in range(3)]
    for step, drum, velocity, offset in hits:
        arrays[0][step, drum], arrays[1][step, drum], arrays[2][step, drum] = 1.0, velocity, offset
    return Groove(*arrays, bpm=bpm, source="hand-built")


A = make_groove([(0, 0, 1.0, 0.0), (4, 1, 0.5, 0.5)], bpm=100)


B = make_groove([(0, 0, 1.0, 0.0), (8, 2, 0.8, -0.2)], bpm=140)


BAR = STEPS_PER_BAR * STEP


NAME = "upload.mid"


Event = tuple[int, mido.Message | mido.MetaMessage]  # (absolute tick, message)


def smf(*tracks: list[Event], tpb: int = TPB, midi_type: int | None = None) -> bytes:
    """Standard MIDI File bytes; one track per list of events."""
    midi = mido.MidiFile(type=(0 if len(tracks) == 1 else 1) if midi_type is None else midi_type, ticks_per_beat=tpb)
    for events in tracks:
        track, previous = mido.MidiTrack(), 0
        for tick, message in sorted(events, key=lambda event: event[0]):  # stable: same-tick order is kept
            track.append(message.copy(time=tick - previous))
            previous = tick
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def note(tick: int, pitch: int = 36, velocity: int = 100, channel: int = DRUM_CHANNEL) -> list[Event]:
    return [(tick, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
            (tick + STEP // 2, mido.Message("note_off", channel=channel, note=pitch))]


def tempo(bpm: float, tick: int = 0) -> list[Event]:
    return [(tick, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))]


def meter(numerator: int, denominator: int, tick: int = 0) -> list[Event]:
    return [(tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))]


def drum_track(*notes: list[Event], bpm: float = 120.0) -> list[Event]:
    return tempo(bpm) + meter(4, 4) + [event for events in notes for event in events]


def one_track_file(*notes: list[Event], bpm: float = 120.0) -> bytes:
    """A type-0 file in 4/4 at `bpm` holding the given notes."""
    return smf(drum_track(*notes, bpm=bpm))


def file_bpm(bpm: float) -> float:
    """The tempo a MIDI file written at `bpm` reads back as: MIDI stores whole microseconds per quarter note, and a
    whole-number tempo reads back as itself (93, not 93.00004)."""
    return float(bpm) if float(bpm).is_integer() else mido.tempo2bpm(mido.bpm2tempo(bpm))


BEAT = one_track_file(note(0, 36, 110), note(4 * STEP, 38, 90), note(8 * STEP, 36, 100), note(12 * STEP - 20, 38, 70))


def read_upload(data: bytes | Path, **kwargs):
    return midi_to_performance(data, NAME, **kwargs)


def assert_valid(grooves: list[Groove], limits: MidiLimits = DEFAULT_LIMITS) -> None:
    """What every groove out of `midi_to_grooves` must be: a 4-bar window of a playable groove."""
    for groove in grooves:
        assert groove.tensor().shape == (WINDOW_STEPS, FEATURES) and groove.tensor().dtype == np.float32
        assert set(np.unique(groove.hits)) <= {0.0, 1.0} and groove.hits.any()
        assert np.all((groove.velocities >= 0) & (groove.velocities <= 1))
        assert np.all((groove.offsets >= -1) & (groove.offsets <= 1))
        assert not groove.velocities[groove.hits == 0].any() and not groove.offsets[groove.hits == 0].any()
        assert np.all(groove.velocities[groove.hits == 1] > 0)
        assert limits.min_bpm <= groove.bpm <= limits.max_bpm
