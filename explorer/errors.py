"""Typed errors. Every message is written for a musician: what was wrong and what to do."""


class ExplorerError(Exception):
    """Base of every error this package raises on purpose."""


class MidiError(ExplorerError):
    """A MIDI file that cannot be turned into grooves."""


class InvalidMidiError(MidiError):
    """Bytes that are not a readable Standard MIDI File (garbage, truncated, corrupt)."""


class FileTooLargeError(MidiError):
    """A file over the size, note or duration limit."""


class NoDrumsError(MidiError):
    """A file with no usable drum notes."""


class UnsupportedMeterError(MidiError):
    """A time signature other than 4/4, or a change of meter."""


class TempoError(MidiError):
    """A tempo change or a tempo outside the range a drummer plays."""


class DatasetError(ExplorerError):
    """The Groove MIDI Dataset cannot be found, downloaded or verified."""


class CheckpointError(ExplorerError):
    """A model checkpoint that is missing, corrupt or does not match its config."""


class AudioError(ExplorerError):
    """A groove that cannot be rendered as asked (tempo, loops, a renderer that is not installed)."""


class TrainingError(ExplorerError):
    """A training run that cannot go on (a worker of a multi-machine run stopped answering, say)."""
