"""MIDI tracks as events: a file's drum notes with where their messages are, and tracks written back from events
(at one tick, releases first, so that a repeated note is not cut)."""

from __future__ import annotations

from dataclasses import dataclass

import mido

from explorer.notes.drums import (
    DRUM_CHANNEL,
    PITCH_TO_CLASS,
)

END_OF_TRACK = "end_of_track"


@dataclass(frozen=True)
class DrumNote:
    """One drum note of the file: where its note-on and note-off messages are (track, index in the track), when
    (ticks), and what. `drum_class` is the class its pitch falls in (None for a pitch off the kit's map)."""

    track: int
    on_index: int
    off_index: int | None  # a note never released has none
    tick: int
    end_tick: int
    pitch: int
    velocity: int
    channel: int
    drum_class: int | None


def track_events(track: mido.MidiTrack, dropped: tuple[str, ...]) -> list[tuple]:
    """(tick, order, index, message) of a track's messages but those of the `dropped` types, for `written_track` (at one
    tick, releases first)."""
    events, ticks = [], 0
    for index, message in enumerate(track):
        ticks += message.time
        if message.type not in dropped:
            events.append((ticks, 0 if releases(message) else 1, index, message))
    return events


def track_notes(track: mido.MidiTrack, track_index: int) -> list[DrumNote]:
    """Every note of one track, on any channel, each release matched to the oldest note-on of its channel and pitch
    still sounding; a note never released lasts no time."""
    notes, ticks, playing = [], 0, {}  # (channel, pitch) → the note-ons not yet released, oldest first
    for index, message in enumerate(track):
        ticks += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            playing.setdefault(key, []).append((index, ticks, message.velocity))
        elif playing.get(key):
            on_index, on_tick, velocity = playing[key].pop(0)
            notes.append(DrumNote(track_index, on_index, index, on_tick, ticks, message.note, velocity,
                                  message.channel, PITCH_TO_CLASS.get(message.note)))
    for (channel, pitch), held in playing.items():
        notes += [DrumNote(track_index, on_index, None, on_tick, on_tick, pitch, velocity, channel,
                           PITCH_TO_CLASS.get(pitch)) for on_index, on_tick, velocity in held]
    return notes


def drum_notes(midi: mido.MidiFile) -> list[DrumNote]:
    """The file's drum notes (channel 10), in time order."""
    notes = [note for index, track in enumerate(midi.tracks) for note in track_notes(track, index)
             if note.channel == DRUM_CHANNEL]
    notes.sort(key=lambda note: (note.tick, note.track, note.on_index))
    return notes


def releases(message) -> bool:
    return message.type == "note_off" or (message.type == "note_on" and message.velocity == 0)


def written_track(events: list[tuple], end: int) -> mido.MidiTrack:
    """A track of (tick, order, index, message) events, sorted (at one tick, releases first: a repeated note is not
    cut), ending at `end` (or its last event, if later)."""
    events.sort(key=lambda event: event[:3])
    written, previous = mido.MidiTrack(), 0
    for tick, _, _, message in events:
        written.append(message.copy(time=tick - previous))
        previous = tick
    written.append(mido.MetaMessage(END_OF_TRACK, time=max(end - previous, 0)))
    return written


def setting_key(message) -> tuple:
    """What a message sets, so that only the last one before an excerpt is kept: a tempo, a meter, a controller of
    a channel, a channel's program; any other message is its own key (kept)."""
    if message.is_meta:
        return ("meta", message.type)
    if message.type == "control_change":
        return ("cc", message.channel, message.control)
    if message.type in ("program_change", "pitchwheel", "aftertouch"):
        return (message.type, message.channel)
    return ("other", id(message))
