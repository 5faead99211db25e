"""Reading MIDI files, hardened: a user's upload (any bytes at all) becomes a `Performance` of grooves, or a
`MidiError` that says in words what is wrong. Nothing else escapes, nothing is written, and no file can take long to
refuse (the raw bytes are scanned before mido builds an object per event).

MIDI → NoteSequence (note-seq, pretty_midi) → quantized to 16th notes → a `Groove` on the 9 drum classes.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pretty_midi

from explorer.errors import FileTooLargeError, InvalidMidiError, NoDrumsError, TempoError, UnsupportedMeterError
from explorer.notes.drums import (
    DRUM_CHANNEL,
    NUM_CLASSES,
    PITCH_TO_CLASS,
)
from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER, step_seconds, tidy_bpm
from explorer.notes.groove import Groove, Performance, PlayedNotes

DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 bpm): MIDI's tempo until a file states one


@dataclass(frozen=True)
class MidiLimits:
    """What an uploaded file may hold before it is refused (GMD's largest file is 156 kB, 23 min)."""

    max_bytes: int = 2_000_000
    max_notes: int = 25_000
    max_seconds: float = 30 * 60
    min_bpm: float = 20.0
    max_bpm: float = 400.0
    # Checked on the raw bytes before mido builds an object per event, so no file can take long to refuse
    # (GMD's largest: 1 track, 42,242 events, 21 bytes of meta data; songs with a drum track: tens of tracks).
    max_tracks: int = 256
    max_events: int = 60_000
    max_data_bytes: int = 64_000  # system-exclusive and meta-event payloads, summed


DEFAULT_LIMITS = MidiLimits()


def read_midi(data: bytes | str | Path, name: str = "", limits: MidiLimits = DEFAULT_LIMITS, any_meter: bool = False):
    """Validate and parse a Standard MIDI File into a NoteSequence of its drum notes; in 4/4 unless `any_meter`.

    Raises a `MidiError` subclass, never anything else, for any bytes a user can upload.
    """
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
        data = _read_file(Path(data), _label(name), limits)
    label = _label(name)
    if len(data) > limits.max_bytes:
        raise _too_large(label, len(data), limits)
    notes = _scan_events(data, label, limits)
    midi = _parse_midi(data, label)
    qpm = _check_midi(midi, notes, label, limits, any_meter)
    try:
        with warnings.catch_warnings():  # about tempo on a later track, which is honoured below
            warnings.filterwarnings("ignore", "Tempo, Key or Time signature change events", RuntimeWarning)
            sequence = load_note_seq().midi_to_note_sequence(pretty_midi.PrettyMIDI(mido_object=_drum_part(midi)))
    except Exception as error:  # pretty_midi rejects some files mido accepts; both are "not readable"
        raise InvalidMidiError(f"{label} could not be read as MIDI ({_short(error)}).") from None
    if qpm is not None and not np.isclose(sequence.tempos[0].qpm, qpm, rtol=1e-9, atol=0.0):
        # pretty_midi reads tempo only from the first track; a file stating it elsewhere was timed at 120 bpm.
        sequence = load_note_seq().sequences_lib.stretch_note_sequence(sequence, sequence.tempos[0].qpm / qpm)
    drums = [n for n in sequence.notes if n.is_drum]
    if not drums:
        raise NoDrumsError(f"{label} has no drum notes. Drums must be on MIDI channel 10.")
    if sequence.total_time > limits.max_seconds:
        raise FileTooLargeError(
            f"{label} lasts {sequence.total_time / 60:.0f} minutes; up to "
            f"{limits.max_seconds / 60:.0f} minutes are accepted.")
    del sequence.notes[:]
    sequence.notes.extend(drums)
    sequence.filename = name
    return sequence


def read_taps(data: bytes, name: str = "",
              limits: MidiLimits = DEFAULT_LIMITS) -> tuple[int, float, list[tuple[int, int]]]:
    """Every note of a 4/4 file at one tempo, on any pitch and any channel, as a tap: (ticks per quarter, bpm,
    [(tick, velocity)] in time order). The same checks as `read_midi`, so any bytes get a `MidiError` in words."""
    label = _label(name)
    if len(data) > limits.max_bytes:
        raise _too_large(label, len(data), limits)
    notes = _scan_events(data, label, limits)
    midi = _parse_midi(data, label)
    qpm = _check_midi(midi, notes, label, limits)
    taps = []
    for track in midi.tracks:
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "note_on" and message.velocity > 0:
                taps.append((ticks, message.velocity))
    seconds = max(tick for tick, _ in taps) / midi.ticks_per_beat * 60 / (qpm or 120.0)
    if seconds > limits.max_seconds:
        raise FileTooLargeError(f"{label} lasts {seconds / 60:.0f} minutes; up to {limits.max_seconds / 60:.0f} "
                                "minutes are accepted.")
    return midi.ticks_per_beat, tidy_bpm(qpm) if qpm else 120.0, sorted(taps)


def _label(name: str) -> str:
    return f"'{name}'" if name else "The file"


def _too_large(label: str, size: int, limits: MidiLimits) -> FileTooLargeError:
    return FileTooLargeError(
        f"{label} is {size / 1e6:.1f} MB; files up to {limits.max_bytes / 1e6:g} MB are accepted.")


def _read_file(path: Path, label: str, limits: MidiLimits) -> bytes:
    """The file's bytes; its size is checked first so a huge file is never read."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise _too_large(label, size, limits)
        return path.read_bytes()
    except OSError as error:
        raise InvalidMidiError(f"{label} cannot be opened ({error.strerror or _short(error)}).") from None


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:120]


# Data bytes after the status byte of each MIDI message a file may hold (mido's table, by status or its top nibble).
_CHANNEL_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


# pretty_midi times notes through an array of a float per tick (note-seq lifts its own cap to 10 billion): 6 million
# ticks, 30 minutes at 400 bpm at GMD's 480 per quarter, take 48 MB and a fraction of a second.
_MAX_TICKS = 6_000_000
_MAX_VARIABLE_INT_BYTES = 4  # the MIDI standard's longest delta time or length; mido reads any, in quadratic time


def _scan_events(data: bytes, label: str, limits: MidiLimits) -> int:
    """Walk the file's chunks and events as mido will read them, counting instead of building objects.

    mido spends microseconds on every event and byte, and pretty_midi a float per tick, so a 2 MB file of tiny
    events, a huge system-exclusive dump, 20,000 tracks or a delta time of hours would take seconds to refuse
    after parsing. Here each limit is checked as soon as it is crossed, so the walk itself is bounded by
    `limits.max_events`. Damage found on the way is refused as mido would refuse it. Returns the number of notes.
    """
    if not data.startswith(b"MThd"):
        raise InvalidMidiError(f"{label} is not a MIDI file (it does not start with a MIDI header).")

    def damaged(reason: str) -> InvalidMidiError:
        return InvalidMidiError(f"{label} is damaged or truncated and cannot be read ({reason}).")

    def variable_int(at: int) -> tuple[int, int]:
        """A delta time or length, and where the next field starts."""
        value, stop = 0, min(at + _MAX_VARIABLE_INT_BYTES, len(data))
        while at < stop:
            value = (value << 7) | (data[at] & 0x7F)
            at += 1
            if data[at - 1] < 0x80:
                return value, at
        raise damaged("it ends mid-event" if at == len(data) else "a time or length is longer than 4 bytes")

    if len(data) < 14:
        raise damaged("the header is cut short")
    header_size = int.from_bytes(data[4:8], "big")
    if header_size < 6:
        raise damaged("the header is cut short")
    tracks, division = struct.unpack_from(">hh", data, 10)  # signed, as mido reads them
    if tracks > limits.max_tracks:
        raise FileTooLargeError(f"{label} has {tracks:,} tracks; Groove Explorer opens files with up to "
                                f"{limits.max_tracks:,}.")
    # The longest file at the fastest tempo, and no more ticks than pretty_midi can time quickly. A file with
    # frame-based or zero division has no such limit here: it is refused after parsing, for its timing.
    longest = int(limits.max_seconds * limits.max_bpm / 60 * division) if division > 0 else math.inf
    max_ticks = min(longest, _MAX_TICKS) if division > 0 else math.inf
    too_long = FileTooLargeError(
        f"{label} runs far longer than {limits.max_seconds / 60:.0f} minutes." if max_ticks == longest else
        f"{label} is too long for its fine timing ({division:,} ticks per quarter note); save it with 480.")
    events = notes = data_bytes = 0
    at = 8 + header_size
    for _ in range(max(tracks, 0)):
        if at + 8 > len(data):
            raise damaged(f"its header announces {tracks:,} tracks but it holds fewer")
        if data[at:at + 4] != b"MTrk":
            raise damaged("a chunk that should be a track is not one")
        start, end = at + 8, at + 8 + int.from_bytes(data[at + 4:at + 8], "big")
        if end > len(data):
            raise damaged("it ends inside a track")
        at, ticks, running = start, 0, None
        while at < end:
            delta, at = variable_int(at)
            ticks += delta
            if ticks > max_ticks:
                raise too_long
            if at >= end:
                raise damaged("a track ends mid-event")
            status = data[at]
            if status >= 0x80:
                at += 1
                running = running if status == 0xFF else status  # meta events do not set running status
            elif running is None:
                raise damaged("its first event has no status byte")
            else:
                status = running
                if status in (0xF0, 0xF7):
                    at += 1  # mido drops the data byte a running system-exclusive event starts with
            if status == 0xFF or status in (0xF0, 0xF7):
                at += status == 0xFF  # the meta event's type
                length, at = variable_int(at)
                at += length
                if at > end:
                    raise damaged("an event runs past the end of its track")
                data_bytes += length
                if data_bytes > limits.max_data_bytes:
                    raise FileTooLargeError(
                        f"{label} holds over {limits.max_data_bytes / 1000:,.0f} kB of system-exclusive, text and "
                        "other non-note data; Groove Explorer opens files with up to that much.")
            else:
                size = _CHANNEL_DATA_BYTES.get(status >> 4) if status < 0xF0 else _SYSTEM_DATA_BYTES.get(status)
                if size is None:
                    raise damaged(f"an event of unknown kind 0x{status:02x}")
                values = data[at:at + size]
                at += size
                if max(values, default=0) > 0x7F:  # pretty_midi reads without mido's clipping and fails
                    raise InvalidMidiError(f"{label} could not be read as MIDI (a note or controller value is "
                                           f"above 127).")
                notes += status >> 4 == 0x9 and len(values) == 2 and values[1] > 0
            events += 1
            if events > limits.max_events:
                if notes > limits.max_notes:
                    raise FileTooLargeError(f"{label} has more than {limits.max_notes:,} notes; up to "
                                            f"{limits.max_notes:,} are accepted.")
                raise FileTooLargeError(f"{label} has more than {limits.max_events:,} MIDI events (notes, "
                                        f"controller moves and the like); up to {limits.max_events:,} are accepted.")
        if at > end:
            raise damaged("an event runs past the end of its track")
    if notes > limits.max_notes:
        raise FileTooLargeError(f"{label} has {notes:,} notes; up to {limits.max_notes:,} are accepted.")
    return notes


def _parse_midi(data: bytes, label: str) -> mido.MidiFile:
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as error:  # mido fails in many ways on damaged bytes (EOFError, OSError, KeySignatureError, …)
        raise InvalidMidiError(f"{label} is damaged or truncated and cannot be read ({_short(error)}).") from None
    if midi.type == 2:
        raise InvalidMidiError(f"{label} is a type-2 MIDI file (independent patterns); save it as type 0 or 1.")
    if not midi.tracks:
        raise InvalidMidiError(f"{label} contains no tracks.")
    return midi


def _check_midi(midi: mido.MidiFile, notes: int, label: str, limits: MidiLimits,
                any_meter: bool = False) -> float | None:
    """Tempo and meter checks on the parsed events (the scan has bounded their number and length).

    Returns the file's one tempo in quarter notes per minute, or None when it states none (120).
    """
    if midi.ticks_per_beat < 0:  # mido reads the division as signed: frame-based timing is negative
        raise InvalidMidiError(f"{label} uses SMPTE (frame-based) timing; save it with beat-based timing.")
    if midi.ticks_per_beat == 0:
        raise InvalidMidiError(f"{label} is damaged: its header gives 0 ticks per quarter note.")
    if notes == 0:
        raise NoDrumsError(f"{label} contains no notes.")
    tempos: set[int] = set()
    first_tempo: tuple[int, int] | None = None  # (tick, tempo) of the earliest tempo event
    meters: set[tuple[int, int]] = set()
    for track in midi.tracks:
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "set_tempo":
                tempos.add(message.tempo)
                if first_tempo is None or ticks < first_tempo[0]:
                    first_tempo = (ticks, message.tempo)
            elif message.type == "time_signature":
                meters.add((message.numerator, message.denominator))
    late_start = first_tempo is not None and first_tempo[0] > 0 and first_tempo[1] != DEFAULT_TEMPO
    if late_start:
        tempos.add(DEFAULT_TEMPO)  # a file plays at 120 bpm until its first tempo event
    bpms = sorted(mido.tempo2bpm(t) if t > 0 else 0.0 for t in tempos)
    if len(bpms) > 1:
        raise _tempo_change(label, bpms, late_start)
    for bpm in bpms:
        _check_bpm(bpm, label, limits)
    odd = sorted(m for m in meters if m != (4, 4))
    if odd and not any_meter:
        raise _meter_error(label, *odd[0])
    return mido.tempo2bpm(first_tempo[1]) if first_tempo is not None else None


def _drum_part(midi: mido.MidiFile) -> mido.MidiFile:
    """Only what note-seq needs: drum notes, tempos and meters, on their own tracks at their own ticks.

    Everything else (GMD's hi-hat pedal alone is 3 events in 4, a song's other instruments) would be converted
    event by event for nothing. Re-times the messages of `midi` in place.
    """
    tracks = []
    for track in midi.tracks:
        kept, ticks, previous = mido.MidiTrack(), 0, 0
        for message in track:
            ticks += message.time
            if (message.type in ("set_tempo", "time_signature", "end_of_track")  # pretty_midi needs an event a track
                    or (message.type in ("note_on", "note_off") and message.channel == DRUM_CHANNEL)):
                message.time = ticks - previous
                previous = ticks
                kept.append(message)
        tracks.append(kept)
    return mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat, tracks=tracks)


def _tempo_change(label: str, bpms: list[float], late_start: bool = False) -> TempoError:
    shown = ", ".join(f"{bpm:.1f}" for bpm in bpms[:4]) + (" …" if len(bpms) > 4 else "")
    hint = " Its first tempo comes after the start, which plays at MIDI's default 120 bpm." if late_start else ""
    return TempoError(f"{label} changes tempo ({shown} bpm); only grooves at one steady tempo can be encoded.{hint}")


def _check_bpm(bpm: float, label: str, limits: MidiLimits) -> None:
    if not limits.min_bpm <= bpm <= limits.max_bpm:
        raise TempoError(f"{label} is at {bpm:.1f} bpm; tempos from {limits.min_bpm:g} to "
                         f"{limits.max_bpm:g} bpm are accepted.")


def _meter_error(label: str, numerator: int, denominator: int) -> UnsupportedMeterError:
    return UnsupportedMeterError(f"{label} is in {numerator}/{denominator}; the model only knows grooves in 4/4.")


def sequence_to_performance(sequence, source: str = "", limits: MidiLimits = DEFAULT_LIMITS,
                            pitch_map: dict[int, int] | None = None) -> Performance:
    """The whole sequence as one groove, padded to whole bars, its pitches read with `pitch_map` (pitch → class;
    default `PITCH_TO_CLASS`). Raises a `MidiError` unless it is 4/4 at one tempo."""
    pitch_map = PITCH_TO_CLASS if pitch_map is None else pitch_map
    label = _label(source)
    note_seq = load_note_seq()
    sequences_lib = note_seq.sequences_lib
    try:
        quantized = note_seq.quantize_note_sequence(sequence, STEPS_PER_QUARTER)
    except sequences_lib.MultipleTempoError:
        qpms = {t.qpm for t in sequence.tempos} | ({120.0} if all(t.time > 0 for t in sequence.tempos) else set())
        raise _tempo_change(label, sorted(qpms)) from None
    except (sequences_lib.MultipleTimeSignatureError, sequences_lib.BadTimeSignatureError):
        meters = sorted({(m.numerator, m.denominator) for m in sequence.time_signatures} - {(4, 4)})
        raise _meter_error(label, *meters[0]) from None
    except sequences_lib.NegativeTimeError:
        raise InvalidMidiError(f"{label} has notes before its start (negative times).") from None
    meter = quantized.time_signatures[0]
    if (meter.numerator, meter.denominator) != (4, 4):
        raise _meter_error(label, meter.numerator, meter.denominator)
    bpm = tidy_bpm(quantized.tempos[0].qpm)
    _check_bpm(bpm, label, limits)
    step = step_seconds(quantized.tempos[0].qpm)  # the file's own timing, to the microsecond
    notes = [n for n in quantized.notes if n.is_drum]
    mapped = [n for n in notes if n.pitch in pitch_map]
    unmapped = sorted({n.pitch for n in notes if n.pitch not in pitch_map})
    if not mapped:
        raise NoDrumsError(
            f"{label} has drum notes, but none on a pitch of a drum kit's General MIDI map "
            f"(found pitches {unmapped[:8]}).")
    note_steps = np.array([n.quantized_start_step for n in mapped])
    classes = np.array([pitch_map[n.pitch] for n in mapped])
    velocities = np.array([n.velocity for n in mapped], dtype=np.float32) / 127.0
    offsets = 2.0 * (note_steps * step - np.array([n.start_time for n in mapped])) / step
    bars = int(note_steps.max()) // STEPS_PER_BAR + 1
    shape = (bars * STEPS_PER_BAR, NUM_CLASSES)
    hits_array, velocity_array, offset_array = (np.zeros(shape, np.float32) for _ in range(3))
    order = np.argsort(velocities, kind="stable")  # the loudest note of a step and class is written last: it wins
    hits_array[note_steps[order], classes[order]] = 1.0
    velocity_array[note_steps[order], classes[order]] = velocities[order]
    offset_array[note_steps[order], classes[order]] = np.clip(offsets[order], -1.0, 1.0)
    groove = Groove(hits_array, velocity_array, offset_array, bpm, source)
    return Performance(groove, len(notes) - len(mapped), tuple(unmapped))


def midi_to_notes(data: bytes | str | Path, name: str = "", limits: MidiLimits = DEFAULT_LIMITS) -> PlayedNotes:
    """The drum notes of any readable MIDI file, whatever its meter (its first tempo and meter are kept)."""
    sequence = read_midi(data, name, limits, any_meter=True)
    mapped = sorted((n for n in sequence.notes if n.pitch in PITCH_TO_CLASS), key=lambda n: n.start_time)
    if not mapped:
        raise NoDrumsError(f"{_label(name)} has drum notes, but none on a pitch of a drum kit's General MIDI map.")
    meter = ((sequence.time_signatures[0].numerator, sequence.time_signatures[0].denominator)
             if sequence.time_signatures else (4, 4))
    return PlayedNotes(np.array([n.start_time for n in mapped]), np.array([PITCH_TO_CLASS[n.pitch] for n in mapped]),
                       np.array([n.velocity for n in mapped]), sequence.tempos[0].qpm if sequence.tempos else 120.0,
                       meter, name)


def midi_to_performance(data: bytes | str | Path, name: str = "", limits: MidiLimits = DEFAULT_LIMITS,
                        pitch_map: dict[int, int] | None = None) -> Performance:
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
    return sequence_to_performance(read_midi(data, name, limits), name, limits, pitch_map)


def midi_to_grooves(data: bytes | str | Path, name: str = "", hop_bars: int = 1,
                    limits: MidiLimits = DEFAULT_LIMITS) -> list[Groove]:
    """MIDI bytes or path → its 4-bar windows. Raises a `MidiError` for anything unusable."""
    return midi_to_performance(data, name, limits).windows(hop_bars=hop_bars)


@functools.cache
def load_note_seq():
    """note-seq, imported when a MIDI file is first read: importing it takes ~2 s (mostly bokeh, for its notebook
    helpers), which the app's pages that only show and play grooves never pay."""
    with warnings.catch_warnings():  # pydub (pulled in by note-seq) warns about ffmpeg, which we never use
        warnings.simplefilter("ignore", RuntimeWarning)
        import note_seq
    return note_seq
