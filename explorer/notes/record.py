"""The musician's notes: a MIDI file kept as the record, from which the model's view (a `Groove`) is derived and
onto which the model's answer is mapped back.

A `Groove` holds one hit per 16th step and drum class; a file holds much more: side-sticks, cowbells and ride bells
(each merely *falls in* a drum class), flams and ghost notes (several notes in one cell), other tracks and channels,
controller moves, exact ticks. A `NoteRecord` keeps the file's messages as they are and lists its drum notes, so
that a tool that changes the playing (humanize) moves only those notes' ticks and velocities and writes everything
else back untouched: every note keeps its pitch, channel, track and order.

Each cell (step, class) of the model's view has a *main* note, its loudest (as explorer/notes/midi_read.py reads it);
the other notes in the cell (a flam's grace note, a ghost note on the same drum) follow their main note.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

import mido
import numpy as np

from explorer.errors import NoDrumsError
from explorer.notes.drums import (
    DRUM_CHANNEL,
    GENERAL_MIDI_DRUM_PITCH_CLASSES,
    NUM_CLASSES,
    OUTPUT_PITCHES,
    ROLAND_DRUM_PITCH_CLASSES,
)
from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER, tidy_bpm
from explorer.notes.groove import Groove, note_positions
from explorer.notes.midi_read import read_midi
from explorer.notes.tracks import (
    END_OF_TRACK,
    DrumNote,
    drum_notes,
    releases,
    setting_key,
    track_events,
    track_notes,
    written_track,
)

SNARE = 1  # the built-in synth's voice for a pitch off the kit's map


@dataclass(frozen=True, eq=False)
class NoteRecord:
    """A 4/4 MIDI file at one tempo (as explorer/notes/midi_read.py accepts it), or a path's parts joined into one file,
    each at its own tempo (`joined_record`); its drum notes listed in time order."""

    data: bytes  # the file as it was given: its messages are written back as they are, but for the notes' changes
    notes: tuple[DrumNote, ...]
    ticks_per_beat: int
    bpm: float
    name: str = ""
    min_bars: int = 0  # a record made longer than its notes reach (a continuation ending on a quiet bar) keeps it
    tempo_changes: tuple[tuple[int, float], ...] = ()  # (tick, bpm) after the start: a path's parts (`joined_record`)

    @classmethod
    def from_midi(cls, data: bytes, name: str = "") -> NoteRecord:
        """The record of a file the hardened reader accepts (it raises a `MidiError` in words for any other)."""
        sequence = read_midi(data, name)  # validates: bytes, size, meter, one tempo, drums on channel 10
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
        notes = drum_notes(midi)
        if not any(note.drum_class is not None for note in notes):
            raise NoDrumsError(f"'{name}' has no drum notes on a pitch of a drum kit's General MIDI map.")
        bpm = tidy_bpm(sequence.tempos[0].qpm) if sequence.tempos else 120.0
        return cls(data, tuple(notes), midi.ticks_per_beat, bpm, name)

    # the grid

    @property
    def step_ticks(self) -> float:
        return self.ticks_per_beat / STEPS_PER_QUARTER

    def step_of(self, tick: float) -> int:
        """The 16th step a tick belongs to: the nearest, half up (as note-seq quantizes)."""
        return max(0, int(np.floor(tick / self.step_ticks + 0.5)))

    @property
    def bars(self) -> int:
        """Whole bars, up to the bar of the last note's step (or `min_bars`, if more)."""
        return max(max(self.step_of(note.tick) for note in self.notes) // STEPS_PER_BAR + 1, self.min_bars)

    def main_pitches(self) -> dict[int, int]:
        """Drum class → the pitch a new note of that class gets: of the pitches the file's cells of that class are
        played on (each cell's main note: a flam's grace note or a quieter note beside it does not count), the class's
        own pitches before others (GrooVAE's map: a side-stick before a cowbell, which falls in the snare class too),
        then the most played, then the most typical (`_typicality`)."""
        counts: dict[int, dict[int, int]] = {}
        for (_, drum), indices in self.cells().items():
            by_pitch = counts.setdefault(drum, {})
            pitch = self.notes[indices[0]].pitch
            by_pitch[pitch] = by_pitch.get(pitch, 0) + 1
        return {drum: min(by_pitch, key=lambda pitch: (pitch not in ROLAND_DRUM_PITCH_CLASSES[drum], -by_pitch[pitch],
                                                       _typicality(drum, pitch)))
                for drum, by_pitch in counts.items()}

    def cells(self) -> dict[tuple[int, int], list[int]]:
        """(step, class) → indices into `notes` of the notes in that cell, the main (loudest, earliest) first. Read
        only: computed once per record (a tool asks for it several times)."""
        return self._cells

    @functools.cached_property
    def _cells(self) -> dict[tuple[int, int], list[int]]:
        found: dict[tuple[int, int], list[int]] = {}
        for index, note in enumerate(self.notes):
            if note.drum_class is not None:
                found.setdefault((self.step_of(note.tick), note.drum_class), []).append(index)
        for indices in found.values():
            indices.sort(key=lambda i: (-self.notes[i].velocity, self.notes[i].tick))
        return found

    def triplet_share(self) -> float:
        """The share of the notes that lie on a triplet grid (thirds or sixths of a beat) and off the 16ths: a file
        whose swing is written as triplets, which the model's 16ths only approximate."""
        ticks = np.array([note.tick for note in self.notes], float)
        sixth = self.ticks_per_beat / 6
        off_sixteenths = np.abs(ticks / self.step_ticks - np.round(ticks / self.step_ticks)) > 0.2
        on_triplets = np.abs(ticks / sixth - np.round(ticks / sixth)) * sixth < 0.06 * self.step_ticks
        return float(np.mean(off_sixteenths & on_triplets))

    def offset_of(self, tick: float, step: int) -> float:
        """The tensor's offset of a note at `tick` on `step`: 2 × (grid − played) / step, positive early."""
        return float(np.clip(2.0 * (step * self.step_ticks - tick) / self.step_ticks, -1.0, 1.0))

    def groove(self) -> Groove:
        """The model's view: each cell's main note as the hit, whole bars (computed once per record)."""
        return self._view

    @functools.cached_property
    def _view(self) -> Groove:
        shape = (self.bars * STEPS_PER_BAR, NUM_CLASSES)
        hits, velocities, offsets = (np.zeros(shape, np.float32) for _ in range(3))
        for (step, drum_class), indices in self.cells().items():
            main = self.notes[indices[0]]
            hits[step, drum_class] = 1.0
            velocities[step, drum_class] = main.velocity / 127.0
            offsets[step, drum_class] = self.offset_of(main.tick, step)
        changes = tuple((self.step_of(tick), bpm) for tick, bpm in self.tempo_changes)
        return Groove(hits, velocities, offsets, self.bpm, self.name, changes, notes=self)

    def seconds_at(self, ticks: np.ndarray) -> np.ndarray:
        """When these ticks sound, in seconds, through the tempo changes."""
        bounds = np.array([0] + [tick for tick, _ in self.tempo_changes], float)
        seconds_per_tick = 60.0 / np.array([self.bpm] + [bpm for _, bpm in self.tempo_changes]) / self.ticks_per_beat
        starts = np.concatenate([[0.0], np.cumsum(np.diff(bounds) * seconds_per_tick[:-1])])
        piece = np.searchsorted(bounds, ticks, side="right") - 1
        return starts[piece] + (np.asarray(ticks, float) - bounds[piece]) * seconds_per_tick[piece]

    def sounding(self) -> list[tuple[float, int, int, int]]:
        """(start in seconds, drum class, MIDI velocity, MIDI pitch) of every drum note, for the audio; a pitch off
        the kit's map plays as a snare in the built-in synth (FluidSynth plays the pitch itself)."""
        starts = self.seconds_at(np.array([note.tick for note in self.notes]))
        return [(float(start), SNARE if note.drum_class is None else note.drum_class, note.velocity, note.pitch)
                for start, note in zip(starts, self.notes, strict=True)]

    def content_key(self) -> str:
        """A hash of the notes as they now are and of the file they are in."""
        digest = hashlib.sha1(self.data)
        digest.update(repr([(n.track, n.tick, n.end_tick, n.pitch, n.velocity) for n in self.notes]).encode())
        return digest.hexdigest()

    # changes and writing

    def with_notes(self, ticks: np.ndarray, velocities: np.ndarray) -> NoteRecord:
        """The same file with each note moved to a new tick and velocity (arrays in the order of `notes`); a note
        keeps its length, released no later than the next note of its pitch and channel starts."""
        ticks = np.maximum(np.round(np.asarray(ticks)), 0).astype(int)
        velocities = np.clip(np.round(np.asarray(velocities)), 1, 127).astype(int)
        moved = [replace(note, tick=int(tick), end_tick=int(tick) + note.end_tick - note.tick, velocity=int(v))
                 for note, tick, v in zip(self.notes, ticks, velocities, strict=True)]
        by_key: dict[tuple, list[int]] = {}
        for index in np.argsort([note.tick for note in moved], kind="stable"):
            by_key.setdefault((moved[index].track, moved[index].channel, moved[index].pitch), []).append(int(index))
        for indices in by_key.values():
            for earlier, later in itertools.pairwise(indices):
                if moved[earlier].end_tick > moved[later].tick:
                    moved[earlier] = replace(moved[earlier], end_tick=moved[later].tick)
        return replace(self, notes=tuple(moved))

    def edited(self, removed: Iterable[int] = (), added: Iterable[tuple[int, int, int]] = (),
               bars: int = 0) -> NoteRecord:
        """The file with the notes at `removed` (indices into `notes`) taken out and notes `added` (tick, pitch,
        velocity; a 16th long, on the drum channel, in the track of the file's first drum note) put in, every other
        message as it was; at least `bars` bars long. What infilling a drum and continuing a groove write."""
        midi = mido.MidiFile(file=io.BytesIO(self.data), clip=True)
        dropped = set()
        for index in removed:
            note = self.notes[index]
            dropped |= {(note.track, note.on_index), (note.track, note.off_index)}
        target = next(note.track for note in self.notes if note.drum_class is not None)
        length = max(1, round(self.step_ticks))
        out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
        for track_index, track in enumerate(midi.tracks):
            events, ticks = [], 0
            for index, message in enumerate(track):
                ticks += message.time
                if (track_index, index) not in dropped and message.type != END_OF_TRACK:
                    events.append((ticks, 0 if releases(message) else 1, index, message))
            if track_index == target:
                for number, (tick, pitch, velocity) in enumerate(added):
                    order = len(track) + 2 * number
                    events.append((int(tick), 1, order, mido.Message("note_on", channel=DRUM_CHANNEL, note=int(pitch),
                                                                     velocity=int(np.clip(velocity, 1, 127)))))
                    events.append((int(tick) + length, 0, order + 1,
                                   mido.Message("note_off", channel=DRUM_CHANNEL, note=int(pitch), velocity=0)))
            out.tracks.append(written_track(events, max((event[0] for event in events), default=0)))
        buffer = io.BytesIO()
        out.save(file=buffer)
        return replace(NoteRecord.from_midi(buffer.getvalue(), self.name), min_bars=max(bars, self.min_bars))

    def new_notes(self, groove: Groove, cells: np.ndarray) -> list[tuple[int, int, int]]:
        """(tick, pitch, velocity) in this file's ticks of the groove's hits in `cells` [steps, 9] (booleans), placed
        as every written file places them, on the pitch the file plays the drum on (`main_pitches`; else the model's
        output pitch): what `edited` adds."""
        pitches = self.main_pitches()
        return [(round(position * self.step_ticks), pitches.get(drum, OUTPUT_PITCHES[drum]), velocity)
                for position, drum, velocity in note_positions(groove)
                if cells[min(int(np.floor(position + 0.5)), groove.steps - 1), drum]]

    def played_as(self, played: Groove, cells: set[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each note's tick and velocity (float arrays in the order of `notes`), the notes of `cells` (default: every
        cell of the file) played as `played` (a groove on the file's grid) plays those cells: the main note at its
        timing and velocity, the cell's other notes (a flam's grace note, a ghost) by the same shift and in
        proportion; every note stays in its own cell, so that the file, read again, gives `played`'s view."""
        view = self.groove()
        ticks = np.array([note.tick for note in self.notes], float)
        velocities = np.array([note.velocity for note in self.notes], float)
        half = self.step_ticks / 2
        for (step, drum), indices in self.cells().items():
            if cells is not None and (step, drum) not in cells:
                continue
            shift = (view.offsets[step, drum] - played.offsets[step, drum]) / 2 * self.step_ticks
            scale = played.velocities[step, drum] / max(view.velocities[step, drum], 1 / 127)
            grid = step * self.step_ticks
            for index in indices:
                ticks[index] = np.clip(self.notes[index].tick + shift, grid - half + 1, grid + half - 1)
                velocities[index] = self.notes[index].velocity * scale
        return ticks, velocities

    def answered(self, answer: Groove) -> NoteRecord:
        """The model's answer to this file's view (a reconstruction, a variation, a move: a groove on the same grid)
        written onto the file. A cell the file plays and the answer keeps keeps its notes (their pitches, tracks, a
        flam's grace note, a ghost), played as the answer plays the cell (`played_as`); the notes of cells the answer
        leaves out are taken out; a hit in a cell the file does not play is a new note (`new_notes`). Notes off the
        kit's map and every other message stay; the file is as long as the answer."""
        hits = answer.hits > 0.5
        file_cells = self.cells()
        kept = {cell for cell in file_cells if cell[0] < answer.steps and hits[cell]}
        new_cells = hits.copy()
        for step, drum in file_cells:
            if step < answer.steps:
                new_cells[step, drum] = False
        removed = [index for cell, indices in file_cells.items() if cell not in kept for index in indices]
        edited = self.edited(removed, self.new_notes(answer, new_cells), bars=answer.steps // STEPS_PER_BAR)
        return edited.with_notes(*edited.played_as(answer, kept))  # the new notes are placed already

    def end_tick(self) -> int:
        """The bar line after the last note's bar: where every written track ends."""
        return round(self.bars * STEPS_PER_BAR * self.step_ticks)

    def to_midi(self) -> bytes:
        """The file with its notes as they now are, every other message as it was, each track ending on the last
        bar line (a note still sounding there is released on it; later messages move onto it)."""
        midi = mido.MidiFile(file=io.BytesIO(self.data), clip=True)
        end = self.end_tick()
        placed: dict[tuple[int, int], tuple[int, mido.Message]] = {}
        for note in self.notes:
            track = midi.tracks[note.track]
            placed[(note.track, note.on_index)] = (note.tick, track[note.on_index].copy(velocity=note.velocity))
            if note.off_index is not None:
                placed[(note.track, note.off_index)] = (max(min(note.end_tick, end), note.tick), track[note.off_index])
        out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
        for track_index, track in enumerate(midi.tracks):
            events, ticks = [], 0
            for index, message in enumerate(track):
                ticks += message.time
                if message.type == END_OF_TRACK:
                    continue
                tick, message = placed.get((track_index, index), (ticks, message))
                events.append((min(tick, end), 0 if releases(message) else 1, index, message))
            out.tracks.append(written_track(events, end))
        buffer = io.BytesIO()
        out.save(file=buffer)
        return buffer.getvalue()

    def at_tempo(self, bpm: float) -> NoteRecord:
        """The file played at one tempo: its notes as they now are, on the same ticks, every tempo message replaced by
        one at the start (what a fixed playback tempo plays and writes)."""
        return _at_tempo(self, float(bpm))

    def excerpt(self, start_bar: int, bars: int) -> NoteRecord:
        """Bars [start_bar, start_bar + bars) as a file of their own: every note whose step lies in them (a note
        played early onto the first step starts at 0; a note of another instrument still sounding at their start
        starts there too), every other message of those bars, and the tempo, meter and other settings in force at
        their start. Times move back by `start_bar` bars."""
        midi = mido.MidiFile(file=io.BytesIO(self.data), clip=True)
        bar_ticks = STEPS_PER_BAR * self.step_ticks
        first, stop = start_bar * STEPS_PER_BAR, (start_bar + bars) * STEPS_PER_BAR
        begin, end = round(start_bar * bar_ticks), round((start_bar + bars) * bar_ticks)
        kept_notes = {(n.track, n.on_index): n for index, track in enumerate(midi.tracks)  # drums, a piano, a bass
                      for n in track_notes(track, index) if first <= self.step_of(n.tick) < stop
                      or (n.channel != DRUM_CHANNEL and n.tick < begin < n.end_tick)}  # a chord held into them
        kept_offs = {(n.track, n.off_index): n for n in kept_notes.values() if n.off_index is not None}
        out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
        for track_index, track in enumerate(midi.tracks):
            events, ticks, settings = [], 0, {}
            for index, message in enumerate(track):
                ticks += message.time
                key = (track_index, index)
                if key in kept_notes:
                    events.append((max(ticks - begin, 0), 1, index, message))
                elif key in kept_offs:
                    note = kept_offs[key]
                    events.append((max(min(ticks, end) - begin, max(note.tick - begin, 0)), 0, index, message))
                elif message.type in ("note_on", "note_off") or message.type == END_OF_TRACK:
                    continue
                elif ticks < begin:  # the last of each setting before the excerpt holds at its start
                    settings[setting_key(message)] = (index, message)
                elif ticks < end:
                    events.append((ticks - begin, 1, index, message))
            events += [(0, -1, index, message) for index, message in settings.values()]
            out.tracks.append(written_track(events, end - begin))
        buffer = io.BytesIO()
        out.save(file=buffer)
        name = f"{self.name}@bar{start_bar + 1}" if self.name else ""
        return NoteRecord.from_midi(buffer.getvalue(), name)


@functools.lru_cache(maxsize=256)  # a card asks several times a run (~13 ms for a 4-bar window); records are small
def _at_tempo(record: NoteRecord, bpm: float) -> NoteRecord:
    midi = mido.MidiFile(file=io.BytesIO(record.to_midi()), clip=True)
    out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    end = record.end_tick()
    for track_index, track in enumerate(midi.tracks):
        events = track_events(track, dropped=("set_tempo", END_OF_TRACK))
        if track_index == 0:
            events.append((0, -1, -1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
        out.tracks.append(written_track(events, end))
    buffer = io.BytesIO()
    out.save(file=buffer)
    return replace(record, data=buffer.getvalue(), notes=tuple(drum_notes(out)), bpm=bpm, tempo_changes=())


def _typicality(drum: int, pitch: int) -> int:
    """How typical a pitch is of a drum class: its place in GrooVAE's own map, else after them in General MIDI's."""
    own, general = ROLAND_DRUM_PITCH_CLASSES[drum], GENERAL_MIDI_DRUM_PITCH_CLASSES[drum]
    return own.index(pitch) if pitch in own else len(own) + (general.index(pitch) if pitch in general else 99)


