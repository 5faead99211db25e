"""Training data from a folder of the user's own MIDI files: every file under it, read by the hardened reader
(explorer/notes/midi_read.py) with a pitch map (explorer/notes/drum_map.py), cut into 4-bar windows as GMD is, and a
table of what was skipped and why. What a checkpoint records of it: the folder's name, the file count and a hash of the
list of files (names, sizes and contents), so that a model can say where its data came from.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import explorer.files
from explorer.errors import (
    DatasetError,
    ExplorerError,
    FileTooLargeError,
    InvalidMidiError,
    NoDrumsError,
    TempoError,
    UnsupportedMeterError,
)
from explorer.files import write_npz
from explorer.notes.drums import FEATURES
from explorer.notes.grid import WINDOW_BARS, WINDOW_STEPS
from explorer.notes.midi_read import midi_to_performance

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

    def held_out(self, validation_fraction: float, seed: int = 0) -> np.ndarray:
        """[N] bool: the windows held out for validation, split by file (never one file's windows on both sides)."""
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError("the validation fraction must lie between 0 and 1")
        names = sorted(set(self.files))
        if len(names) < 2:
            raise DatasetError("Validation needs at least two usable files (or give --validation-dir).")
        rng = np.random.default_rng(seed)
        count = min(max(1, round(validation_fraction * len(names))), len(names) - 1)
        held_out = set(rng.choice(names, count, replace=False))
        return np.array([f in held_out for f in self.files])

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


def file_windows(data: bytes, name: str, pitch_map: dict[int, int] | None, hop_bars: int) -> tuple[np.ndarray, str]:
    """(the file's windows [N, 64, 27], "") or (no windows, why it gave none)."""
    empty = np.zeros((0, WINDOW_STEPS, FEATURES), np.float32)
    try:
        performance = midi_to_performance(data, name, pitch_map=pitch_map)
    except ExplorerError as error:
        return empty, _reason(error)
    if performance.groove.steps < WINDOW_STEPS:
        return empty, TOO_SHORT
    found = performance.windows(hop_bars=hop_bars)
    return (np.stack([w.tensor() for w in found]).astype(np.float32) if found else empty), ""


CACHE_VERSION = 1  # bump when file_windows' output changes: old entries are then never read


def _cached_file_windows(job: tuple[str, str, str, dict[int, int] | None, int]) -> tuple[np.ndarray, str]:
    """One file's windows, read from its cache entry or made and written there atomically (a process pool runs
    this; an entry is complete or absent, so a killed preparation resumes where it stopped)."""
    path, name, cache_file, pitch_map, hop_bars = job
    cache = Path(cache_file)
    if cache.exists():
        with np.load(cache, allow_pickle=False) as entry:
            return entry["windows"], str(entry["reason"])
    tensors, reason = file_windows(Path(path).read_bytes(), name, pitch_map, hop_bars)
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_npz(cache, {"windows": tensors, "reason": np.array(reason)})
    return tensors, reason


def folder_windows(directory: Path, pitch_map: dict[int, int] | None = None, map_name: str = "roland",
                   hop_bars: int = 1, workers: int | None = None, cache_dir: Path | None = None,
                   progress: bool = True) -> FolderWindows:
    """The 4-bar windows (every `hop_bars` bars) of every usable file under `directory`, prepared by `workers`
    processes (default: one per core) and cached per file under `cache_dir` (default data/cache/folders/), keyed by
    the file's bytes, the pitch map and the hop: a second run, or one resumed after a kill, reads what is done.
    Raises DatasetError in words for a folder that is missing, holds no MIDI file, or no file with a 4/4 drum part
    of 4 bars or more."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"'{directory}' is not a folder.")
    paths = midi_files(directory)
    if not paths:
        raise DatasetError(f"'{directory}' holds no MIDI files (.mid or .midi), in it or in its sub-folders.")
    cache_dir = Path(cache_dir) if cache_dir is not None else explorer.files.DATA_DIR / "cache" / "folders"
    settings = json.dumps([CACHE_VERSION, hop_bars, sorted((pitch_map or {}).items())]).encode()
    listing, jobs = hashlib.sha256(), []
    for path in paths:
        name = str(path.relative_to(directory))
        content = hashlib.sha256(path.read_bytes()).digest()
        listing.update(name.encode() + b"\0" + content)
        key = hashlib.sha256(content + settings).hexdigest()
        jobs.append((str(path), name, str(cache_dir / key[:2] / f"{key}.npz"), pitch_map, hop_bars))
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    tensors, files, skipped = [], [], []
    bar = tqdm(total=len(jobs), unit="file", desc=f"Windows of {directory.name}", disable=not progress,
               mininterval=1.0)
    # Spawned, not forked: the parent may hold TensorFlow's threads, which a fork copies in a broken state.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else \
            _InProcess() as pool:
        for (_, name, *_), (found, reason) in zip(jobs, pool.map(_cached_file_windows, jobs, chunksize=16),
                                                  strict=True):
            if reason:
                skipped.append((name, reason))
            else:
                tensors.append(found)
                files += [name] * len(found)
            bar.update(1)
            bar.set_postfix(windows=sum(len(t) for t in tensors), refresh=False)
    bar.close()
    source = {"folder": directory.name, "files": len(paths), "file_list_sha256": listing.hexdigest(),
              "drum_map": map_name}
    if not tensors:
        kinds = ", ".join(f"{count} {reason}" for reason, count in Counter(r for _, r in skipped).items())
        raise DatasetError(f"None of the {len(paths)} MIDI files in '{directory}' has a 4/4 drum part of "
                           f"{WINDOW_BARS} bars or more ({kinds}).")
    return FolderWindows(np.concatenate(tensors), tuple(files), tuple(skipped), source)


class _InProcess:
    """`map` in this process (one worker: no pool to start)."""

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    @staticmethod
    def map(function, jobs, chunksize: int = 1):
        return map(function, jobs)
