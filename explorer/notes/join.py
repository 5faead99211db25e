"""Joining: grooves one after another as one groove (a path, a song), and their musicians' files as one file."""

from __future__ import annotations

import io
from collections.abc import Sequence

import mido
import numpy as np

from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER
from explorer.notes.groove import Groove
from explorer.notes.midi_write import groove_to_midi
from explorer.notes.record import NoteRecord
from explorer.notes.tracks import END_OF_TRACK, drum_notes, releases, track_events, written_track


def chain(grooves: Sequence[Groove], source: str = "path") -> Groove:
    """Grooves one after another as one long groove, each part at its own tempo (tempo changes between them). If a
    part has the musician's file behind it, so has the whole: their files and the other parts' hits joined
    (`joined_record`), so that a seed's side-sticks and cowbells stay what they are."""
    steps = np.cumsum([0] + [g.steps for g in grooves[:-1]])
    changes = []
    for start, groove in zip(steps, grooves, strict=True):
        parts = [(0, groove.bpm), *groove.tempo_changes]
        changes += [(int(start + step), bpm) for step, bpm in parts if start + step > 0]
    kept = [(step, bpm) for k, (step, bpm) in enumerate(changes)
            if bpm != (changes[k - 1][1] if k else grooves[0].bpm)]  # no change to the tempo already playing
    record = None
    if any(g.notes is not None for g in grooves):

        record = joined_record(grooves, kept, source)
    return Groove(*(np.concatenate([getattr(g, a) for g in grooves]) for a in ("hits", "velocities", "offsets")),
                  grooves[0].bpm, source, tuple(kept), notes=record)


JOINED_TICKS_PER_BEAT = 480


def joined_record(grooves: Sequence[Groove], tempo_changes: Sequence[tuple[int, float]], name: str = "") -> NoteRecord:
    """One file of grooves played one after another, each from the bar line where the one before ends: a groove with the
    musician's file behind it gives that file's every message (its notes as they now are; its first track's in the
    joined file's one track, its other tracks after it, in their order), one without gives its hits at the kit's pitches
    (as `groove_to_midi` writes the grooves' model views joined, so a hit played early may start before its part's bar
    line). The tempo is the first groove's, changing at the steps of `tempo_changes` ((step, bpm), as `groove.chain`
    gives them); each file's own tempo and meter messages give way to these."""
    step_ticks = JOINED_TICKS_PER_BEAT // STEPS_PER_QUARTER
    # One track, as every file written here, unless a part's file has more (they follow it, in their order). The
    # meter and the tempos come first at their tick.
    tracks: list[list[tuple]] = [[(0, -1, 0, mido.MetaMessage("time_signature", numerator=4, denominator=4))]]
    tracks[0] += [(step * step_ticks, -1, 1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
                  for step, bpm in [(0, grooves[0].bpm), *tempo_changes]]
    starts = np.cumsum([0] + [groove.steps for groove in grooves])
    filed = np.zeros(starts[-1], bool)  # the steps whose notes come from a musician's file
    for start, groove in zip(starts[:-1], grooves, strict=True):
        if groove.notes is None:
            continue
        filed[start:start + groove.steps] = True
        midi = mido.MidiFile(file=io.BytesIO(groove.notes.to_midi()), clip=True)
        scale = JOINED_TICKS_PER_BEAT / midi.ticks_per_beat
        for index, track in enumerate(midi.tracks):
            tracks += [[] for _ in range(index + 1 - len(tracks))]
            placed = len(tracks[index])  # the joined track's order runs on across the parts
            tracks[index] += [(start * step_ticks + round(tick * scale), order, placed + k, message)
                              for k, (tick, order, _, message) in enumerate(
                                  track_events(track, dropped=("set_tempo", "time_signature", END_OF_TRACK)))]
    views = mido.MidiFile(file=io.BytesIO(groove_to_midi(chain([g.model_view() for g in grooves]))))  # 480 a beat
    ticks, sounding = 0, {}  # pitch → the notes taken from the views not yet released
    for message in views.tracks[0]:
        ticks += message.time
        if message.type == "note_on" and message.velocity > 0:
            if filed[min(int(np.floor(ticks / step_ticks + 0.5)), len(filed) - 1)]:
                continue
            sounding[message.note] = sounding.get(message.note, 0) + 1
        elif releases(message) and sounding.get(message.note):
            sounding[message.note] -= 1
        else:
            continue
        tracks[0].append((ticks, 0 if releases(message) else 1, len(tracks[0]), message))
    out = mido.MidiFile(type=0 if len(tracks) == 1 else 1, ticks_per_beat=JOINED_TICKS_PER_BEAT)
    out.tracks += [written_track(events, int(starts[-1]) * step_ticks) for events in tracks]
    buffer = io.BytesIO()
    out.save(file=buffer)
    return NoteRecord(buffer.getvalue(), tuple(drum_notes(out)), JOINED_TICKS_PER_BEAT, grooves[0].bpm, name,
                      min_bars=int(starts[-1]) // STEPS_PER_BAR,
                      tempo_changes=tuple((step * step_ticks, bpm) for step, bpm in tempo_changes))
