"""A `Groove` written as MIDI (and as a NoteSequence): its notes at their micro-timing, ending on the last bar
line; a groove with the musician's file behind it writes that file (explorer/notes/record.py)."""

from __future__ import annotations

import io

import mido
import numpy as np

from explorer.notes.drums import DRUM_CHANNEL, OUTPUT_PITCHES
from explorer.notes.grid import STEPS_PER_QUARTER, TICKS_PER_QUARTER
from explorer.notes.groove import Groove, note_positions
from explorer.notes.midi_read import load_note_seq


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
