"""The one value type of the project, `Groove`: the model's view of a performance (midi_read.py reads it from MIDI,
midi_write.py writes it, record.py keeps the musician's file behind it).

A groove is Magenta's GrooVAE tensor: per 16th-note step and drum class a hit (0/1), a velocity
(MIDI velocity / 127) and a micro-timing offset in [-1, 1] (2 x (grid time - played time) / step:
positive means played early). 16 steps per bar, 4/4 only.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explorer.notes.drums import FEATURES, NUM_CLASSES
from explorer.notes.grid import MAX_WRITTEN_SHIFT, STEPS_PER_BAR, STEPS_PER_QUARTER, WINDOW_BARS

if TYPE_CHECKING:
    from explorer.notes.record import NoteRecord


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
    notes: NoteRecord | None = None  # the musician's file this is the model's view of (notes/record.py), if any

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


@dataclass(frozen=True)
class Performance:
    """A whole MIDI file as one groove, plus what could not be mapped onto the 9 drum classes."""

    groove: Groove
    unmapped_notes: int = 0
    unmapped_pitches: tuple[int, ...] = ()

    def windows(self, bars: int = WINDOW_BARS, hop_bars: int = 1) -> list[Groove]:
        return windows(self.groove, bars, hop_bars)


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


