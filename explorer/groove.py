"""The one value type of the project, `Groove`, and how it is written as MIDI (explorer/midi_reader.py reads MIDI).

A groove is Magenta's GrooVAE tensor: per 16th-note step and drum class a hit (0/1), a velocity
(MIDI velocity / 127) and a micro-timing offset in [-1, 1] (2 x (grid time - played time) / step:
positive means played early). 16 steps per bar, 4/4 only.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mido
import numpy as np

if TYPE_CHECKING:
    from explorer.notes import NoteRecord

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
WINDOW_BARS = 4
WINDOW_STEPS = WINDOW_BARS * STEPS_PER_BAR
NUM_CLASSES = 9
FEATURES = 3 * NUM_CLASSES  # [hits | velocities | offsets]
TICKS_PER_QUARTER = 480  # GMD's own resolution: written onsets land on the original ticks
MAX_WRITTEN_SHIFT = 0.5 - STEPS_PER_QUARTER / TICKS_PER_QUARTER  # in steps: half a step less one tick
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0 as mido does
DRUM_CLASSES = (
    "kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom", "high tom", "crash", "ride",
)


# Magenta's GrooVAE training map (ROLAND_DRUM_PITCH_CLASSES), one list of MIDI pitches per class;
# GMD was recorded on a Roland TD-11, whose rim shots and edges are the extra pitches.
ROLAND_DRUM_PITCH_CLASSES = (
    (36,), (38, 37, 40), (42, 22, 44), (46, 26), (43, 58), (47, 45), (50, 48), (49, 52, 55, 57), (51, 53, 59),
)


# The pitch each class is written back as (General MIDI).
OUTPUT_PITCHES = (36, 38, 42, 46, 43, 47, 50, 49, 51)


# note-seq's General MIDI grouping (note_seq.drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES), for pitches the
# training map lacks. A copy, so that this module does not import note-seq (tests/test_midi_reader.py compares them).
GENERAL_MIDI_DRUM_PITCH_CLASSES = (
    (36, 35), (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22), (46, 67, 72, 74, 79, 81, 26), (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87), (50, 30, 62, 76, 83), (49, 52, 55, 57, 58), (51, 53, 59, 82),
)


@functools.cache
def load_note_seq():
    """note-seq, imported when a MIDI file is first read: importing it takes ~2 s (mostly bokeh, for its notebook
    helpers), which the app's pages that only show and play grooves never pay."""
    with warnings.catch_warnings():  # pydub (pulled in by note-seq) warns about ffmpeg, which we never use
        warnings.simplefilter("ignore", RuntimeWarning)
        import note_seq
    return note_seq


@dataclass(frozen=True, eq=False)
class Groove:
    """hits / velocities / offsets, each float32 [steps, 9], plus the tempo it is played at: `bpm` from the
    first step, and `tempo_changes` ((step, bpm), …) from later steps on, in step order (a path of grooves played as
    one track, each part at its own tempo)."""

    hits: np.ndarray
    velocities: np.ndarray
    offsets: np.ndarray
    bpm: float = 120.0
    source: str = ""
    tempo_changes: tuple[tuple[int, float], ...] = ()
    notes: NoteRecord | None = None  # the musician's file this is the model's view of (explorer/notes.py), if any

    def __post_init__(self):
        for name in ("hits", "velocities", "offsets"):
            array = np.array(getattr(self, name), dtype=np.float32)  # a copy: the caller's array stays writable
            if array.ndim != 2 or array.shape[1] != NUM_CLASSES:
                raise ValueError(f"{name} must have shape [steps, {NUM_CLASSES}], got {array.shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if not self.hits.shape == self.velocities.shape == self.offsets.shape:
            raise ValueError("hits, velocities and offsets must have the same shape")
        if not np.isfinite(self.bpm) or self.bpm <= 0:
            raise ValueError(f"bpm must be positive, got {self.bpm}")
        object.__setattr__(self, "bpm", float(self.bpm))
        changes = tuple((int(step), float(bpm)) for step, bpm in self.tempo_changes)
        steps = [step for step, _ in changes]
        if steps != sorted(set(steps)) or any(not 0 < s < self.steps for s in steps):
            raise ValueError(f"tempo changes must be at increasing steps inside the groove, got {steps}")
        if any(not np.isfinite(bpm) or bpm <= 0 for _, bpm in changes):
            raise ValueError("every tempo change must be to a positive bpm")
        object.__setattr__(self, "tempo_changes", changes)

    @classmethod
    def from_tensor(cls, tensor: np.ndarray, bpm: float = 120.0, source: str = "") -> Groove:
        """From a model tensor [steps, 27]; hits are thresholded at 0.5 and silent steps zeroed."""
        tensor = np.asarray(tensor, dtype=np.float32)
        if tensor.ndim != 2 or tensor.shape[1] != FEATURES:
            raise ValueError(f"tensor must have shape [steps, {FEATURES}], got {tensor.shape}")
        hits = (tensor[:, :NUM_CLASSES] > 0.5).astype(np.float32)
        velocities = np.clip(tensor[:, NUM_CLASSES:2 * NUM_CLASSES], 0.0, 1.0) * hits
        offsets = np.clip(tensor[:, 2 * NUM_CLASSES:], -1.0, 1.0) * hits
        return cls(hits, velocities, offsets, bpm, source)

    @property
    def steps(self) -> int:
        return self.hits.shape[0]

    @property
    def bars(self) -> float:
        return self.steps / STEPS_PER_BAR

    @property
    def seconds(self) -> float:
        """Length of the groove's grid at its tempo."""
        return float(self.step_times()[-1])

    def step_tempos(self) -> np.ndarray:
        """The bpm of each step [steps]."""
        tempos = np.full(self.steps, self.bpm)
        for step, bpm in self.tempo_changes:
            tempos[step:] = bpm
        return tempos

    def step_times(self) -> np.ndarray:
        """When each step starts, in seconds, and when the last one ends: [steps + 1]."""
        return np.concatenate([[0.0], np.cumsum(60.0 / self.step_tempos() / STEPS_PER_QUARTER)])

    def played_at(self, bpm: float | None) -> Groove:
        """The groove at the playback tempo `bpm`: itself (tempo changes and all) for None or its own bpm; else all
        of it at `bpm`."""
        return self if bpm is None or float(bpm) == self.bpm else self.with_bpm(bpm)

    def repeated(self, times: int) -> Groove:
        """`times` passes one after another, each with the groove's tempo changes."""
        starts = [(self.steps * k, self.bpm) for k in range(1, times)] if self.tempo_changes else []
        changes = sorted([(self.steps * k + step, bpm) for k in range(times) for step, bpm in self.tempo_changes]
                         + starts)
        return Groove(*(np.tile(array, (times, 1)) for array in (self.hits, self.velocities, self.offsets)),
                      self.bpm, self.source, tuple(changes))

    def tensor(self) -> np.ndarray:
        """The model's input: float32 [steps, 27] = [hits | velocities | offsets]."""
        return np.concatenate([self.hits, self.velocities, self.offsets], axis=1)

    def with_bpm(self, bpm: float) -> Groove:
        """All of the groove at one tempo; a musician's file behind it too, its notes on their own ticks."""
        notes = self.notes.at_tempo(bpm) if self.notes is not None else None
        return dataclasses.replace(self, bpm=bpm, tempo_changes=(), notes=notes)

    def model_view(self) -> Groove:
        """The groove without the musician's file behind it: what the model reads and writes."""
        return dataclasses.replace(self, notes=None) if self.notes is not None else self

    @property
    def window_start_bar(self) -> int:
        """The first bar (0-based) of the groove that `window` cut this one from, as its source names it."""
        return int(self.source.rpartition("bar")[2]) - 1

    def window(self, start_bar: int, bars: int = WINDOW_BARS) -> Groove:
        start, stop = start_bar * STEPS_PER_BAR, (start_bar + bars) * STEPS_PER_BAR
        if start < 0 or stop > self.steps:
            raise ValueError(f"bars {start_bar}..{start_bar + bars} lie outside a {self.bars:g}-bar groove")
        tempos = self.step_tempos()
        changes = tuple((step - start, bpm) for step, bpm in self.tempo_changes if start < step < stop)
        return Groove(self.hits[start:stop], self.velocities[start:stop], self.offsets[start:stop],
                      float(tempos[start]), f"{self.source}@bar{start_bar + 1}" if self.source else
                      f"bar{start_bar + 1}", changes)

    def content_key(self) -> str:
        """A hash of what the groove sounds like (tensor and tempo), for caches."""
        digest = hashlib.sha1(self.tensor().tobytes())
        digest.update(np.float64(self.bpm).tobytes())
        digest.update(repr(self.tempo_changes).encode())
        if self.notes is not None:  # the same view of two different files sounds and saves differently
            digest.update(self.notes.content_key().encode())
        return digest.hexdigest()

    def same_as(self, other: Groove, atol: float = 0.0) -> bool:
        return (self.bpm == other.bpm and self.tempo_changes == other.tempo_changes
                and self.hits.shape == other.hits.shape
                and np.allclose(self.tensor(), other.tensor(), rtol=0.0, atol=atol))


def chain(grooves: Sequence[Groove], source: str = "path") -> Groove:
    """Grooves one after another as one long groove, each part at its own tempo (tempo changes between them). If a
    part has the musician's file behind it, so has the whole: their files and the other parts' hits joined
    (`notes.joined_record`), so that a seed's side-sticks and cowbells stay what they are."""
    steps = np.cumsum([0] + [g.steps for g in grooves[:-1]])
    changes = []
    for start, groove in zip(steps, grooves, strict=True):
        parts = [(0, groove.bpm), *groove.tempo_changes]
        changes += [(int(start + step), bpm) for step, bpm in parts if start + step > 0]
    kept = [(step, bpm) for k, (step, bpm) in enumerate(changes)
            if bpm != (changes[k - 1][1] if k else grooves[0].bpm)]  # no change to the tempo already playing
    record = None
    if any(g.notes is not None for g in grooves):
        from explorer.notes import joined_record  # notes.py builds on this module

        record = joined_record(grooves, kept, source)
    return Groove(*(np.concatenate([getattr(g, a) for g in grooves]) for a in ("hits", "velocities", "offsets")),
                  grooves[0].bpm, source, tuple(kept), notes=record)


@dataclass(frozen=True)
class Performance:
    """A whole MIDI file as one groove, plus what could not be mapped onto the 9 drum classes."""

    groove: Groove
    unmapped_notes: int = 0
    unmapped_pitches: tuple[int, ...] = ()

    def windows(self, bars: int = WINDOW_BARS, hop_bars: int = 1) -> list[Groove]:
        return windows(self.groove, bars, hop_bars)


def tidy_bpm(bpm: float) -> float:
    """A tempo read from a file: MIDI stores whole microseconds per quarter, so 290 bpm reads back as 290.0008; such
    a tempo is the whole number it was written as."""
    return float(round(bpm)) if abs(bpm - round(bpm)) < 1e-3 else float(bpm)


def step_seconds(bpm: float) -> float:
    return 60.0 / bpm / STEPS_PER_QUARTER


@dataclass(frozen=True)
class PlayedNotes:
    """A MIDI file's drum notes as played, in any meter: to see and hear a performance the model cannot read (GMD's
    3/4, 5/4, 6/8 …). Times in seconds; classes as the 9 drum classes; MIDI velocities."""

    starts: np.ndarray
    classes: np.ndarray
    velocities: np.ndarray
    bpm: float
    meter: tuple[int, int]
    source: str = ""

    @property
    def bar_seconds(self) -> float:
        return self.meter[0] * 4 / self.meter[1] * 60.0 / self.bpm

    @property
    def seconds(self) -> float:
        return float(self.starts.max()) if len(self.starts) else 0.0


def windows(groove: Groove, bars: int = WINDOW_BARS, hop_bars: int = 1) -> list[Groove]:
    """Every `bars`-bar window that holds a hit, starting every `hop_bars` bars.

    A groove shorter than a window (a 1- or 2-bar loop, say) is repeated to fill one.
    """
    if hop_bars < 1:
        raise ValueError("hop_bars must be at least 1")
    if not groove.hits.any():
        return []
    window_steps = bars * STEPS_PER_BAR
    if groove.steps < window_steps:
        repeats = -(-window_steps // groove.steps)
        groove = Groove(*(np.tile(a, (repeats, 1))[:window_steps]
                          for a in (groove.hits, groove.velocities, groove.offsets)), groove.bpm, groove.source)
    total_bars = groove.steps // STEPS_PER_BAR
    found = [groove.window(start, bars) for start in range(0, total_bars - bars + 1, hop_bars)]
    return [w for w in found if w.hits.any()]


def note_positions(groove: Groove) -> list[tuple[float, int, int]]:
    """(start in steps, drum class, MIDI velocity) of every hit, as `groove_notes` explains."""
    notes = []
    for step_index, drum_class in zip(*np.nonzero(groove.hits > 0.5), strict=True):
        shift = np.clip(groove.offsets[step_index, drum_class] / 2.0, -MAX_WRITTEN_SHIFT, MAX_WRITTEN_SHIFT)
        velocity = int(np.clip(round(float(groove.velocities[step_index, drum_class]) * 127), 1, 127))
        notes.append((max(0.0, float(step_index - shift)), int(drum_class), velocity))
    return notes


def groove_notes(groove: Groove, bpm: float | None = None) -> list[tuple[float, int, int]]:
    """(start in seconds, drum class, MIDI velocity) of every hit at `bpm` (default: the groove's own tempo, with
    its tempo changes; see `Groove.played_at`).

    Notes played early on the very first step would start before time zero; they start at zero. A note a full half
    step off (|offset| = 1) starts one tick (at 480 per quarter) inside its step: note-seq reads a note on the
    nearest step, rounding half up, so on the boundary it would come back on the next step (and lose to a note
    already there). A note played early across a tempo change moves at the tempo of its own step.
    """
    if bpm is not None and (not np.isfinite(bpm) or bpm <= 0):
        raise ValueError(f"bpm must be positive, got {bpm}")
    groove = groove.played_at(bpm)
    times, durations = groove.step_times(), 60.0 / groove.step_tempos() / STEPS_PER_QUARTER
    notes = []
    for position, drum_class, velocity in note_positions(groove):
        step = min(int(np.floor(position + 0.5)), groove.steps - 1)  # the step the note belongs to
        notes.append((max(0.0, float(times[step] + (position - step) * durations[step])), drum_class, velocity))
    return notes


def groove_to_sequence(groove: Groove, bpm: float | None = None):
    """A NoteSequence of one-step drum notes at `bpm` (default: the groove's own tempo), as `groove_notes`."""
    groove = groove.played_at(bpm)
    times = groove.step_times()
    sequence = load_note_seq().NoteSequence(ticks_per_quarter=TICKS_PER_QUARTER)
    sequence.tempos.add(qpm=groove.bpm, time=0.0)
    for step, tempo in groove.tempo_changes:
        sequence.tempos.add(qpm=tempo, time=float(times[step]))
    sequence.time_signatures.add(numerator=4, denominator=4, time=0.0)
    durations = np.diff(times)
    for start, drum_class, velocity in groove_notes(groove):
        step = min(int(np.searchsorted(times, start, side="right")) - 1, groove.steps - 1)
        sequence.notes.add(pitch=OUTPUT_PITCHES[drum_class], velocity=velocity, start_time=start,
                           end_time=start + float(durations[step]), is_drum=True, instrument=9)
    sequence.total_time = max([n.end_time for n in sequence.notes], default=0.0)
    return sequence


def groove_to_midi(groove: Groove, bpm: float | None = None) -> bytes:
    """Standard MIDI File bytes (type 0) at 480 ticks per quarter, drums on channel 10, ending on the groove's last
    bar line; for a groove with the musician's file behind it, that file, as its notes now are (at another `bpm`, on
    their own ticks).

    Written with mido rather than pretty_midi, which truncates the tempo (545455 µs per quarter became
    545454, so a groove read back had another bpm and notes on a half-step boundary changed step).
    """
    groove = groove.played_at(bpm)
    if groove.notes is not None:  # the musician's own file, note for note
        return groove.notes.to_midi()
    ticks_per_step = TICKS_PER_QUARTER / STEPS_PER_QUARTER  # ticks count quarters: one step is 120 at any tempo
    events = []  # (tick, order at one tick: note-offs, tempo, note-ons so a repeated drum is not cut short, message)
    for position, drum_class, velocity in note_positions(groove):
        pitch = OUTPUT_PITCHES[drum_class]
        events.append((round(position * ticks_per_step), 2,
                       mido.Message("note_on", channel=DRUM_CHANNEL, note=pitch, velocity=velocity)))
        events.append((round((position + 1) * ticks_per_step), 0,  # notes last one step
                       mido.Message("note_off", channel=DRUM_CHANNEL, note=pitch)))
    events += [(round(step * ticks_per_step), 1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)))
               for step, tempo in groove.tempo_changes]
    events.sort(key=lambda event: event[:2])
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(groove.bpm)),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    end = round(groove.steps * ticks_per_step)  # the last bar line: the file loops in a DAW
    previous = 0
    for tick, _, message in events:
        tick = min(tick, end)  # the last notes' releases, at the latest on it
        track.append(message.copy(time=tick - previous))
        previous = tick
    track.append(mido.MetaMessage("end_of_track", time=end - previous))
    buffer = io.BytesIO()
    mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER, tracks=[track]).save(file=buffer)
    return buffer.getvalue()
