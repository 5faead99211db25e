"""Training data from a folder of the user's own MIDI files: every file under it, read by the hardened reader
(explorer/midi_reader.py) with a pitch map (explorer/drum_map.py), cut into 4-bar windows as GMD is, and a table of
what was skipped and why. What a checkpoint records of it: the folder's name, the file count and a hash of the list
of files (names, sizes and contents), so that a model can say where its data came from.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import (
    DatasetError,
    ExplorerError,
    FileTooLargeError,
    InvalidMidiError,
    NoDrumsError,
    TempoError,
    UnsupportedMeterError,
)
from explorer.groove import FEATURES, WINDOW_BARS, WINDOW_STEPS
from explorer.midi_reader import midi_to_performance

MIDI_SUFFIXES = (".mid", ".midi")
# Why a file gave no window, by the reader's typed error.
REASONS = ((UnsupportedMeterError, "meter (not 4/4)"), (NoDrumsError, "no drums"), (TempoError, "tempo"),
           (FileTooLargeError, "too large"), (InvalidMidiError, "unreadable"))
TOO_SHORT = f"too short (under {WINDOW_BARS} bars)"


@dataclass(frozen=True)
class FolderWindows:
    tensors: np.ndarray  # [N, 64, 27]
    files: tuple[str, ...]  # per window: its file, relative to the folder
    skipped: tuple[tuple[str, str], ...]  # (file, reason)
    source: dict  # {"folder", "files", "file_list_sha256", "drum_map"}: what the checkpoint records

    def split(self, validation_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(training, validation) windows, split by file (never one file's windows on both sides)."""
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError("the validation fraction must lie between 0 and 1")
        names = sorted(set(self.files))
        if len(names) < 2:
            raise DatasetError("Validation needs at least two usable files (or give --validation-dir).")
        rng = np.random.default_rng(seed)
        count = min(max(1, round(validation_fraction * len(names))), len(names) - 1)
        held_out = set(rng.choice(names, count, replace=False))
        chosen = np.array([f in held_out for f in self.files])
        return self.tensors[~chosen], self.tensors[chosen]

    def skip_table(self) -> str:
        """One table of what was skipped and why, for the start of a run."""
        usable = len(set(self.files))
        lines = [f"{self.source['folder']}: {self.source['files']} MIDI files, {usable} used, "
                 f"{len(self.tensors):,} windows of {WINDOW_BARS} bars"]
        for reason, count in sorted(Counter(reason for _, reason in self.skipped).items()):
            examples = ", ".join(f for f, r in self.skipped if r == reason)[:100]
            lines.append(f"  skipped {count:4d}  {reason:24s} {examples}")
        return "\n".join(lines)


def _reason(error: ExplorerError) -> str:
    return next((reason for kind, reason in REASONS if isinstance(error, kind)), "unreadable")


def midi_files(directory: Path) -> list[Path]:
    """Every MIDI file under `directory`, recursively, in a fixed order."""
    return sorted(p for p in Path(directory).rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)


def folder_windows(directory: Path, pitch_map: dict[int, int] | None = None, map_name: str = "roland",
                   hop_bars: int = 1) -> FolderWindows:
    """The 4-bar windows (every `hop_bars` bars) of every usable file under `directory`. Raises DatasetError in
    words for a folder that is missing, holds no MIDI file, or no file with a 4/4 drum part of 4 bars or more."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"'{directory}' is not a folder.")
    paths = midi_files(directory)
    if not paths:
        raise DatasetError(f"'{directory}' holds no MIDI files (.mid or .midi), in it or in its sub-folders.")
    digest = hashlib.sha256()
    tensors, files, skipped = [], [], []
    for path in paths:
        name = str(path.relative_to(directory))
        data = path.read_bytes()
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        try:
            performance = midi_to_performance(data, name, pitch_map=pitch_map)
        except ExplorerError as error:
            skipped.append((name, _reason(error)))
            continue
        if performance.groove.steps < WINDOW_STEPS:
            skipped.append((name, TOO_SHORT))
            continue
        found = performance.windows(hop_bars=hop_bars)
        tensors += [window.tensor() for window in found]
        files += [name] * len(found)
    source = {"folder": directory.name, "files": len(paths), "file_list_sha256": digest.hexdigest(),
              "drum_map": map_name}
    if not tensors:
        kinds = ", ".join(f"{count} {reason}" for reason, count in Counter(r for _, r in skipped).items())
        raise DatasetError(f"None of the {len(paths)} MIDI files in '{directory}' has a 4/4 drum part of "
                           f"{WINDOW_BARS} bars or more ({kinds}).")
    return FolderWindows(np.stack(tensors).astype(np.float32).reshape(-1, WINDOW_STEPS, FEATURES), tuple(files),
                         tuple(skipped), source)
