"""The drum tables: GrooVAE's 9 drum classes, the pitches that fall in each (Magenta's training map, widened by
General MIDI's grouping), and the pitch each is written back as."""

from __future__ import annotations

NUM_CLASSES = 9
FEATURES = 3 * NUM_CLASSES  # [hits | velocities | offsets]
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
# training map lacks. A copy, so that this module does not import note-seq (tests/notes/test_midi_read.py compares
# them).
GENERAL_MIDI_DRUM_PITCH_CLASSES = (
    (36, 35), (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22), (46, 67, 72, 74, 79, 81, 26), (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87), (50, 30, 62, 76, 83), (49, 52, 55, 57, 58), (51, 53, 59, 82),
)


def _pitch_to_class() -> dict[int, int]:
    """The training map, widened by note-seq's General MIDI grouping for the pitches it lacks.

    The two disagree on toms (45, 48); the training map wins so GMD encodes exactly as in Magenta.
    """
    mapping = {p: c for c, pitches in enumerate(GENERAL_MIDI_DRUM_PITCH_CLASSES) for p in pitches}
    mapping.update({p: c for c, pitches in enumerate(ROLAND_DRUM_PITCH_CLASSES) for p in pitches})
    return mapping


PITCH_TO_CLASS = _pitch_to_class()
