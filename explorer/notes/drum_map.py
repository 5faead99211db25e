"""Pitch maps: which MIDI pitch falls in which of the 9 drum classes, for kits other than GMD's.

A map is a JSON object {"pitch": "drum class", …} (`explorer.groove.DRUM_CLASSES` names the classes). Two ship in
explorer/drum_maps/:
- `roland.json`: GMD's Roland TD-11 map that Magenta trained on (rim shots, edges), widened by General MIDI for the
  pitches it lacks: what every GMD window and upload is read with (`midi_reader.PITCH_TO_CLASS`);
- `gm.json`: note-seq's General MIDI grouping alone (toms 45 and 48 differ: GM's low-mid and high-mid toms).
A map that names an unknown class, a pitch outside 0–127, or leaves a class without a pitch is refused in words.
"""

from __future__ import annotations

import json
from pathlib import Path

from explorer.errors import ExplorerError
from explorer.notes.drums import DRUM_CLASSES

MAPS = Path(__file__).parent / "drum_maps"
SHIPPED = ("roland", "gm")


class DrumMapError(ExplorerError):
    """A pitch map that cannot be used."""


def load_drum_map(name_or_path: str | Path) -> dict[int, int]:
    """pitch → class index, from a shipped map's name or a JSON file."""
    path = MAPS / f"{name_or_path}.json" if str(name_or_path) in SHIPPED else Path(name_or_path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise DrumMapError(f"The drum map '{name_or_path}' cannot be read ({error.strerror or error}); give a JSON "
                           f"file or one of: {', '.join(SHIPPED)}.") from None
    except ValueError as error:
        raise DrumMapError(f"The drum map '{path.name}' is not valid JSON ({error}).") from None
    return parse_drum_map(data, path.name)


def parse_drum_map(data: object, name: str = "the drum map") -> dict[int, int]:
    if not isinstance(data, dict) or not data:
        raise DrumMapError(f"{name} must be a JSON object of pitch → drum class, e.g. {{\"36\": \"kick\"}}.")
    mapping: dict[int, int] = {}
    for pitch, drum in data.items():
        if not str(pitch).strip().isdigit() or not 0 <= int(pitch) <= 127:
            raise DrumMapError(f"{name} maps '{pitch}', which is not a MIDI pitch (0–127).")
        if drum not in DRUM_CLASSES:
            raise DrumMapError(f"{name} maps pitch {pitch} to '{drum}', which is not a drum class; the classes are "
                               f"{', '.join(DRUM_CLASSES)}.")
        mapping[int(pitch)] = DRUM_CLASSES.index(drum)
    empty = [drum for index, drum in enumerate(DRUM_CLASSES) if index not in mapping.values()]
    if empty:
        raise DrumMapError(f"{name} leaves {', '.join(empty)} without a pitch: every drum class needs at least one.")
    return mapping
