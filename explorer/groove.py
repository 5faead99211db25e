"""The one value type of the project, `Groove`, and its conversion to and from MIDI.

A groove is Magenta's GrooVAE tensor: per 16th-note step and drum class a hit (0/1), a velocity
(MIDI velocity / 127) and a micro-timing offset in [-1, 1] (2 x (grid time - played time) / step:
positive means played early). 16 steps per bar, 4/4 only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

with warnings.catch_warnings():  # pydub (pulled in by note-seq) warns about ffmpeg, which we never use
    warnings.simplefilter("ignore", RuntimeWarning)
    import note_seq
    from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from explorer.errors import (
    FileTooLargeError,
    InvalidMidiError,
    NoDrumsError,
    TempoError,
    UnsupportedMeterError,
)

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
WINDOW_BARS = 4
WINDOW_STEPS = WINDOW_BARS * STEPS_PER_BAR
NUM_CLASSES = 9
FEATURES = 3 * NUM_CLASSES  # [hits | velocities | offsets]
TICKS_PER_QUARTER = 480  # GMD's own resolution: written onsets land on the original ticks
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


def _pitch_to_class() -> dict[int, int]:
    """The training map, widened by note-seq's General MIDI grouping for the pitches it lacks.

    The two disagree on toms (45, 48); the training map wins so GMD encodes exactly as in Magenta.
    """
    mapping = {p: c for c, pitches in enumerate(DEFAULT_DRUM_TYPE_PITCHES) for p in pitches}
    mapping.update({p: c for c, pitches in enumerate(ROLAND_DRUM_PITCH_CLASSES) for p in pitches})
    return mapping


PITCH_TO_CLASS = _pitch_to_class()
DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 bpm): MIDI's tempo until a file states one


@dataclass(frozen=True)
class MidiLimits:
    """What an uploaded file may hold before it is refused (GMD's largest file is 156 kB, 23 min)."""

    max_bytes: int = 2_000_000
    max_notes: int = 50_000
    max_seconds: float = 30 * 60
    min_bpm: float = 20.0
    max_bpm: float = 400.0


DEFAULT_LIMITS = MidiLimits()


@dataclass(frozen=True, eq=False)
class Groove:
    """hits / velocities / offsets, each float32 [steps, 9], plus the tempo it is played at."""

    hits: np.ndarray
    velocities: np.ndarray
    offsets: np.ndarray
    bpm: float = 120.0
    source: str = ""

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
        return self.steps * step_seconds(self.bpm)

    def tensor(self) -> np.ndarray:
        """The model's input: float32 [steps, 27] = [hits | velocities | offsets]."""
        return np.concatenate([self.hits, self.velocities, self.offsets], axis=1)

    def with_bpm(self, bpm: float) -> Groove:
        return dataclasses.replace(self, bpm=bpm)

    def window(self, start_bar: int, bars: int = WINDOW_BARS) -> Groove:
        start, stop = start_bar * STEPS_PER_BAR, (start_bar + bars) * STEPS_PER_BAR
        if start < 0 or stop > self.steps:
            raise ValueError(f"bars {start_bar}..{start_bar + bars} lie outside a {self.bars:g}-bar groove")
        return Groove(self.hits[start:stop], self.velocities[start:stop], self.offsets[start:stop],
                      self.bpm, f"{self.source}@bar{start_bar + 1}" if self.source else f"bar{start_bar + 1}")

    def content_key(self) -> str:
        """A hash of what the groove sounds like (tensor and tempo), for caches."""
        digest = hashlib.sha1(self.tensor().tobytes())
        digest.update(np.float64(self.bpm).tobytes())
        return digest.hexdigest()

    def same_as(self, other: Groove, atol: float = 0.0) -> bool:
        return (self.bpm == other.bpm and self.hits.shape == other.hits.shape
                and np.allclose(self.tensor(), other.tensor(), rtol=0.0, atol=atol))


@dataclass(frozen=True)
class Performance:
    """A whole MIDI file as one groove, plus what could not be mapped onto the 9 drum classes."""

    groove: Groove
    unmapped_notes: int = 0
    unmapped_pitches: tuple[int, ...] = ()

    def windows(self, bars: int = WINDOW_BARS, hop_bars: int = 1) -> list[Groove]:
        return windows(self.groove, bars, hop_bars)


def step_seconds(bpm: float) -> float:
    return 60.0 / bpm / STEPS_PER_QUARTER


# --- reading MIDI -------------------------------------------------------------------------------


def read_midi(data: bytes | str | Path, name: str = "", limits: MidiLimits = DEFAULT_LIMITS):
    """Validate and parse a Standard MIDI File into a NoteSequence of its drum notes.

    Raises a `MidiError` subclass, never anything else, for any bytes a user can upload.
    """
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
        data = _read_file(Path(data), _label(name), limits)
    label = _label(name)
    if len(data) > limits.max_bytes:
        raise _too_large(label, len(data), limits)
    midi = _parse_midi(data, label)
    qpm = _check_midi(midi, label, limits)
    try:
        with warnings.catch_warnings():  # about tempo on a later track, which is honoured below
            warnings.filterwarnings("ignore", "Tempo, Key or Time signature change events", RuntimeWarning)
            sequence = note_seq.midi_to_note_sequence(data)
    except Exception as error:  # pretty_midi rejects some files mido accepts; both are "not readable"
        raise InvalidMidiError(f"{label} could not be read as MIDI ({_short(error)}).") from None
    if qpm is not None and not np.isclose(sequence.tempos[0].qpm, qpm, rtol=1e-9, atol=0.0):
        # pretty_midi reads tempo only from the first track; a file stating it elsewhere was timed at 120 bpm.
        sequence = note_seq.sequences_lib.stretch_note_sequence(sequence, sequence.tempos[0].qpm / qpm)
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


def _parse_midi(data: bytes, label: str) -> mido.MidiFile:
    if not data.startswith(b"MThd"):
        raise InvalidMidiError(f"{label} is not a MIDI file (it does not start with a MIDI header).")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as error:  # mido fails in many ways on damaged bytes (EOFError, OSError, KeySignatureError, …)
        raise InvalidMidiError(f"{label} is damaged or truncated and cannot be read ({_short(error)}).") from None
    if midi.type == 2:
        raise InvalidMidiError(f"{label} is a type-2 MIDI file (independent patterns); save it as type 0 or 1.")
    if not midi.tracks:
        raise InvalidMidiError(f"{label} contains no tracks.")
    return midi


def _check_midi(midi: mido.MidiFile, label: str, limits: MidiLimits) -> float | None:
    """Checks that need only the raw events; they also keep pretty_midi away from huge tick counts.

    Returns the file's one tempo in quarter notes per minute, or None when it states none (120).
    """
    if midi.ticks_per_beat < 0:  # mido reads the division as signed: frame-based timing is negative
        raise InvalidMidiError(f"{label} uses SMPTE (frame-based) timing; save it with beat-based timing.")
    if midi.ticks_per_beat == 0:
        raise InvalidMidiError(f"{label} is damaged: its header gives 0 ticks per quarter note.")
    notes = 0
    tempos: set[int] = set()
    first_tempo: tuple[int, int] | None = None  # (tick, tempo) of the earliest tempo event
    meters: set[tuple[int, int]] = set()
    max_ticks = int(limits.max_seconds * limits.max_bpm / 60 * midi.ticks_per_beat)
    for track in midi.tracks:
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "note_on" and message.velocity > 0:
                notes += 1
            elif message.type == "set_tempo":
                tempos.add(message.tempo)
                if first_tempo is None or ticks < first_tempo[0]:
                    first_tempo = (ticks, message.tempo)
            elif message.type == "time_signature":
                meters.add((message.numerator, message.denominator))
        if ticks > max_ticks:
            raise FileTooLargeError(f"{label} runs far longer than {limits.max_seconds / 60:.0f} minutes.")
    if notes > limits.max_notes:
        raise FileTooLargeError(f"{label} has {notes:,} notes; up to {limits.max_notes:,} are accepted.")
    if notes == 0:
        raise NoDrumsError(f"{label} contains no notes.")
    late_start = first_tempo is not None and first_tempo[0] > 0 and first_tempo[1] != DEFAULT_TEMPO
    if late_start:
        tempos.add(DEFAULT_TEMPO)  # a file plays at 120 bpm until its first tempo event
    bpms = sorted(mido.tempo2bpm(t) if t > 0 else 0.0 for t in tempos)
    if len(bpms) > 1:
        raise _tempo_change(label, bpms, late_start)
    for bpm in bpms:
        _check_bpm(bpm, label, limits)
    odd = sorted(m for m in meters if m != (4, 4))
    if odd:
        raise _meter_error(label, *odd[0])
    return mido.tempo2bpm(first_tempo[1]) if first_tempo is not None else None


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


# --- NoteSequence <-> Groove --------------------------------------------------------------------


def sequence_to_performance(sequence, source: str = "", limits: MidiLimits = DEFAULT_LIMITS) -> Performance:
    """The whole sequence as one groove, padded to whole bars. Raises a `MidiError` unless it is 4/4 at one tempo."""
    label = _label(source)
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
    bpm = quantized.tempos[0].qpm
    _check_bpm(bpm, label, limits)
    step = step_seconds(bpm)
    notes = [n for n in quantized.notes if n.is_drum]
    mapped = [n for n in notes if n.pitch in PITCH_TO_CLASS]
    unmapped = sorted({n.pitch for n in notes if n.pitch not in PITCH_TO_CLASS})
    if not mapped:
        raise NoDrumsError(
            f"{label} has drum notes, but none on a pitch of a drum kit's General MIDI map "
            f"(found pitches {unmapped[:8]}).")
    note_steps = np.array([n.quantized_start_step for n in mapped])
    classes = np.array([PITCH_TO_CLASS[n.pitch] for n in mapped])
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


def midi_to_performance(data: bytes | str | Path, name: str = "",
                        limits: MidiLimits = DEFAULT_LIMITS) -> Performance:
    if isinstance(data, (str, Path)):
        name = name or Path(data).name
    return sequence_to_performance(read_midi(data, name, limits), name, limits)


def midi_to_grooves(data: bytes | str | Path, name: str = "", hop_bars: int = 1,
                    limits: MidiLimits = DEFAULT_LIMITS) -> list[Groove]:
    """MIDI bytes or path → its 4-bar windows. Raises a `MidiError` for anything unusable."""
    return midi_to_performance(data, name, limits).windows(hop_bars=hop_bars)


def groove_to_sequence(groove: Groove, bpm: float | None = None):
    """A NoteSequence of one-step drum notes at `bpm` (default: the groove's own tempo).

    Notes played early on the very first step would start before time zero; they start at zero.
    """
    bpm = groove.bpm if bpm is None else float(bpm)
    if not np.isfinite(bpm) or bpm <= 0:
        raise ValueError(f"bpm must be positive, got {bpm}")
    step = step_seconds(bpm)
    sequence = note_seq.NoteSequence(ticks_per_quarter=TICKS_PER_QUARTER)
    sequence.tempos.add(qpm=bpm, time=0.0)
    sequence.time_signatures.add(numerator=4, denominator=4, time=0.0)
    for step_index, drum_class in zip(*np.nonzero(groove.hits > 0.5), strict=True):
        start = max(0.0, (step_index - groove.offsets[step_index, drum_class] / 2.0) * step)
        velocity = int(np.clip(round(float(groove.velocities[step_index, drum_class]) * 127), 1, 127))
        sequence.notes.add(pitch=OUTPUT_PITCHES[drum_class], velocity=velocity, start_time=start,
                           end_time=start + step, is_drum=True, instrument=9)
    sequence.total_time = max([n.end_time for n in sequence.notes], default=0.0)
    return sequence


def groove_to_midi(groove: Groove, bpm: float | None = None) -> bytes:
    """Standard MIDI File bytes (type 0) at 480 ticks per quarter, drums on channel 10.

    Written with mido rather than pretty_midi, which truncates the tempo (545455 µs per quarter became
    545454, so a groove read back had another bpm and notes on a half-step boundary changed step).
    """
    sequence = groove_to_sequence(groove, bpm)
    qpm = sequence.tempos[0].qpm
    ticks_per_second = qpm / 60.0 * TICKS_PER_QUARTER
    events = []  # (tick, note-offs before note-ons at one tick so a repeated drum is not cut short, message)
    for note in sequence.notes:
        events.append((round(note.start_time * ticks_per_second), 1,
                       mido.Message("note_on", channel=DRUM_CHANNEL, note=note.pitch, velocity=note.velocity)))
        events.append((round(note.end_time * ticks_per_second), 0,
                       mido.Message("note_off", channel=DRUM_CHANNEL, note=note.pitch)))
    events.sort(key=lambda event: event[:2])
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm)),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    previous = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - previous))
        previous = tick
    buffer = io.BytesIO()
    mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER, tracks=[track]).save(file=buffer)
    return buffer.getvalue()
