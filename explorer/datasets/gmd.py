"""The Groove MIDI Dataset (GMD v1.0.0): finding or downloading it, its metadata, and its 4-bar windows.

GMD: 1,150 MIDI performances by 10 drummers on a Roland TD-11 kit (Gillick et al. 2019, CC BY 4.0).
Windows are cached under data/cache/, keyed by the files' content and `CACHE_VERSION`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import multiprocessing
import os
import shutil
import stat
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import requests
from tqdm import tqdm

import explorer.files
from explorer.errors import DatasetError, MidiError
from explorer.files import write_npz
from explorer.notes.drums import FEATURES, NUM_CLASSES
from explorer.notes.grid import WINDOW_BARS, WINDOW_STEPS
from explorer.notes.groove import Groove, PlayedNotes
from explorer.notes.midi_read import midi_to_notes, midi_to_performance
from explorer.notes.record import NoteRecord

GMD_URL = "https://storage.googleapis.com/magentadata/datasets/groove/groove-v1.0.0-midionly.zip"
GMD_SHA256 = "651cbc524ffb891be1a3e46d89dc82a1cecb09a57c748c7b45b844c4841dcc1e"
GMD_CREDIT = ("Groove MIDI Dataset v1.0.0 by Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck and David Bamman "
              "(Magenta, 2019), CC BY 4.0")
SPLITS = ("train", "validation", "test")
WINDOW_METER = "4-4"  # info.csv spelling; the model only knows 4/4
# info.csv's columns and how they are typed; `genre` and `substyle` are derived from `style`.
INFO_DTYPES = {
    "drummer": "string", "session": "string", "id": "string", "style": "string", "bpm": "int64",
    "beat_type": "category", "time_signature": "string", "midi_filename": "string", "audio_filename": "string",
    "duration": "float64", "split": pd.CategoricalDtype(SPLITS),
}
META_COLUMNS = ("midi_filename", "start_bar", "drummer", "session", "id", "style", "genre", "substyle", "bpm",
                "beat_type", "time_signature", "duration", "split")
CACHE_VERSION = 1  # bump when the window format or midi_reader.py's encoding changes: old caches are then rebuilt
BUILD_WORKERS = 2  # the machine class has 2 cores; a pool of 2 halves the build time

DOWNLOAD_PREFIX, UNPACK_PREFIX = ".groove-download-", ".groove-unpack-"  # temporary files beside data/groove

Progress = Callable[[int, int], None]  # (done, total)


# --- locating and downloading ------------------------------------------------------------------


def _offline_help(target: Path) -> str:
    return (f"Set GROOVE_DIR to an extracted copy of the Groove MIDI Dataset (the folder holding info.csv), "
            f"or download {GMD_URL} by hand and unzip it so that {target / 'info.csv'} exists.")


def gmd_root(download: bool = True, progress: Progress | None = None) -> Path:
    """The folder holding GMD's info.csv: $GROOVE_DIR, else data/groove, else a fresh download."""
    env = os.environ.get("GROOVE_DIR", "").strip()
    if env:
        root = Path(env).expanduser()
        if not (root / "info.csv").is_file():
            raise DatasetError(f"GROOVE_DIR is set to '{root}', but that folder holds no info.csv. Point it at the "
                               "extracted Groove MIDI Dataset (the 'groove' folder), or unset it to download.")
        return root
    target = explorer.files.DATA_DIR / "groove"
    if (target / "info.csv").is_file():
        return target
    if not download:
        raise DatasetError(f"The Groove MIDI Dataset is not here yet. {_offline_help(target)}")
    return download_gmd(target, progress=progress)


def download_gmd(target: Path | None = None, url: str | None = None, sha256: str | None = None,
                 progress: Progress | None = None) -> Path:
    """Download, verify and unpack the GMD zip (default `GMD_URL`, `GMD_SHA256`) into `target` (default data/groove).

    Everything happens in hidden temporary files beside `target`; only the final rename creates it,
    so an interrupted download never looks like a dataset. One download at a time per folder: it first deletes
    what a killed one left behind.
    """
    target = Path(target) if target is not None else explorer.files.DATA_DIR / "groove"
    url, sha256 = url or GMD_URL, sha256 or GMD_SHA256
    if (target / "info.csv").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _download_lock(target.parent):
        if (target / "info.csv").is_file():  # another process or thread finished while this one waited
            return target
        for leftover in target.parent.glob(f"{DOWNLOAD_PREFIX}*"):
            leftover.unlink(missing_ok=True)
        for leftover in target.parent.glob(f"{UNPACK_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        return _download_and_unpack(target, url, sha256, progress)


@contextlib.contextmanager
def _download_lock(folder: Path):
    """An exclusive lock on the folder itself (no lock file to leave behind); the system releases it when its
    holder exits or is killed."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _download_and_unpack(target: Path, url: str, sha256: str, progress: Progress | None) -> Path:
    handle, archive_name = tempfile.mkstemp(prefix=DOWNLOAD_PREFIX, suffix=".zip", dir=target.parent)
    archive = Path(archive_name)
    unpacked = Path(tempfile.mkdtemp(prefix=UNPACK_PREFIX, dir=target.parent))
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _fetch(url, out, progress, target)
        if digest != sha256.lower():
            raise DatasetError(f"The download from {url} is damaged or not the expected file (sha256 "
                               f"{digest[:12]}…, expected {sha256[:12]}…). Try again. {_offline_help(target)}")
        _safe_extract(archive, unpacked)
        top = unpacked / "groove" if (unpacked / "groove" / "info.csv").is_file() else unpacked
        if not (top / "info.csv").is_file():
            raise DatasetError(f"The archive from {url} holds no groove/info.csv; it is not the Groove MIDI Dataset.")
        try:
            os.replace(top, target)
        except OSError as error:
            if (target / "info.csv").is_file():  # another process finished first
                return target
            raise DatasetError(f"Could not move the dataset into '{target}' ({error}). If that folder exists "
                               "without info.csv, delete it and try again.") from None
        return target
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(unpacked, ignore_errors=True)


def _fetch(url: str, out, progress: Progress | None, target: Path) -> str:
    """Stream `url` into `out`; returns the sha256 of what was written."""
    digest = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=(15, 60)) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0)
            done = 0
            with tqdm(total=total or None, unit="B", unit_scale=True, desc="Groove MIDI Dataset") as bar:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
                    if progress:
                        progress(done, total)
    except requests.RequestException as error:
        raise DatasetError(f"Could not download the Groove MIDI Dataset ({type(error).__name__}). "
                           f"{_offline_help(target)}") from None
    except OSError as error:  # after RequestException, which is an OSError too
        raise DatasetError(f"Could not save the download next to '{target}' ({error}).") from None
    return digest.hexdigest()


def _safe_extract(archive: Path, destination: Path) -> None:
    """Unzip, refusing absolute paths, `..` and symlinks before writing anything."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                name = member.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
                    raise DatasetError(f"The archive holds an unsafe path ('{member.filename}'); nothing was unpacked.")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise DatasetError(f"The archive holds a link ('{member.filename}'); nothing was unpacked.")
            for member in members:
                path = destination.joinpath(*PurePosixPath(member.filename.replace("\\", "/")).parts)
                if member.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, open(path, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (zipfile.BadZipFile, EOFError) as error:
        raise DatasetError(f"The downloaded archive is not a readable zip ({error}).") from None
    except OSError as error:
        raise DatasetError(f"Could not unpack the dataset into '{destination}' ({error}).") from None


# --- metadata ----------------------------------------------------------------------------------


def load_info(root: Path | None = None) -> pd.DataFrame:
    """info.csv, typed, plus `genre` (style before "/") and `substyle` (after it, may be empty)."""
    root = Path(root) if root is not None else gmd_root()
    path = root / "info.csv"
    try:
        info = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DatasetError(f"Could not read '{path}' ({error}).") from None
    missing = [c for c in INFO_DTYPES if c not in info.columns]
    if missing:
        raise DatasetError(f"'{path}' lacks the columns {missing}; it is not GMD's info.csv.")
    if not info["split"].isin(SPLITS).all():
        raise DatasetError(f"'{path}' names a split other than {', '.join(SPLITS)}.")
    try:
        info = info[list(INFO_DTYPES)].astype(INFO_DTYPES)
    except (ValueError, TypeError) as error:
        raise DatasetError(f"'{path}' has a value of the wrong type ({error}).") from None
    style = info["style"].str.partition("/")
    info.insert(4, "genre", style[0])
    info.insert(5, "substyle", style[2])
    return info


def load_performance(midi_filename: str, root: Path | None = None) -> Groove:
    """One GMD performance, whole, as a Groove at its own tempo. Only names listed in info.csv are read."""
    root = Path(root) if root is not None else gmd_root()
    if midi_filename not in set(load_info(root)["midi_filename"]):
        raise DatasetError(f"'{midi_filename}' is not a performance of the Groove MIDI Dataset.")
    return midi_to_performance(root / midi_filename, midi_filename).groove


def load_excerpt(midi_filename: str, start_bar: int, bars: int = WINDOW_BARS, root: Path | None = None):
    """Bars [start_bar, start_bar + bars) of one GMD performance as the drummer played them: every note, on its own
    pitch (pedal hi-hat, rim shots, ride bell …), at its own tick and velocity (explorer/notes/record.py)."""
    root = Path(root) if root is not None else gmd_root()
    if midi_filename not in set(load_info(root)["midi_filename"]):
        raise DatasetError(f"'{midi_filename}' is not a performance of the Groove MIDI Dataset.")
    return NoteRecord.from_midi((root / midi_filename).read_bytes(), midi_filename).excerpt(start_bar, bars)


def load_played_notes(midi_filename: str, root: Path | None = None) -> PlayedNotes:
    """One GMD performance's notes as played, in any meter (to show and play those the model cannot read)."""
    root = Path(root) if root is not None else gmd_root()
    if midi_filename not in set(load_info(root)["midi_filename"]):
        raise DatasetError(f"'{midi_filename}' is not a performance of the Groove MIDI Dataset.")
    return midi_to_notes(root / midi_filename, midi_filename)


def filter_info(df: pd.DataFrame, genres: Iterable[str] | None = None, drummers: Iterable[str] | None = None,
                bpm: tuple[float, float] | None = None, beat_types: Iterable[str] | None = None,
                time_signatures: Iterable[str] | None = None, splits: Iterable[str] | None = None,
                duration: tuple[float, float] | None = None, text: str | None = None) -> pd.DataFrame:
    """Rows matching every given criterion; ranges are inclusive (lo, hi); `text` searches style, any case."""
    keep = pd.Series(True, index=df.index)
    for column, wanted in (("genre", genres), ("drummer", drummers), ("beat_type", beat_types),
                           ("time_signature", time_signatures), ("split", splits)):
        if wanted is not None:
            keep &= df[column].astype("string").isin([str(w) for w in _as_list(wanted)]).to_numpy(bool)
    for column, bounds in (("bpm", bpm), ("duration", duration)):
        if bounds is not None:
            low, high = bounds
            keep &= df[column].between(low, high, inclusive="both")
    if text:
        keep &= df["style"].str.contains(text, case=False, regex=False).fillna(False).astype(bool)
    return df[keep]


def _as_list(value: Iterable[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def summary(df: pd.DataFrame, windows: WindowSet | None = None) -> dict:
    """Counts of rows per split, genre, drummer, beat type and meter; with `windows`, 4-bar windows per split."""
    def counts(column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in df[column].value_counts(sort=False).items() if v}

    result = {
        "rows": len(df),
        "hours": round(float(df["duration"].sum()) / 3600, 2),
        "splits": counts("split"),
        "genres": dict(sorted(counts("genre").items())),
        "drummers": dict(sorted(counts("drummer").items(), key=lambda kv: _natural(kv[0]))),
        "beat_types": counts("beat_type"),
        "time_signatures": dict(sorted(counts("time_signature").items())),
    }
    if windows is not None:
        result["windows_per_split"] = _per_split(windows.meta[windows.meta["midi_filename"].isin(df["midi_filename"])])
    return result


def _per_split(meta: pd.DataFrame) -> dict[str, int]:
    return {s: int((meta["split"] == s).sum()) for s in SPLITS}


def _natural(name: str) -> tuple[str, int]:
    """'drummer10' after 'drummer9'."""
    stem = name.rstrip("0123456789")
    return stem, int(name[len(stem):] or 0)


def window_counts(hop_bars: int = 1, root: Path | None = None) -> dict[str, int]:
    """4-bar windows per split over GMD's 4/4 files."""
    return _per_split(load_windows(None, root, hop_bars).meta)


# --- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WindowSet:
    """4-bar windows: model tensors [N, 64, 27], each window's tempo [N] and one meta row per window."""

    tensors: np.ndarray
    bpm: np.ndarray
    meta: pd.DataFrame
    skipped: tuple[tuple[str, str], ...] = ()  # (midi_filename, reason) of unreadable 4/4 files

    def __len__(self) -> int:
        return len(self.tensors)

    def one_per_performance(self) -> list[int]:
        """A window of each performance (a fixed draw), in the order of their files: a set in which every drummer
        and take counts once (evaluations; a long performance's consecutive windows would count it many times)."""
        rng = np.random.default_rng(0)
        return [int(rng.choice(group.index)) for _, group in self.meta.groupby("midi_filename", sort=True)]

    def grooves(self, indices: Iterable[int] | int) -> list[Groove]:
        """The windows at `indices` as Grooves (their tempo is the float32 of `bpm`)."""
        indices = [int(indices)] if np.isscalar(indices) else [int(i) for i in indices]
        result = []
        for i in indices:
            tensor = self.tensors[i]
            row = self.meta.iloc[i]
            result.append(Groove(tensor[:, :NUM_CLASSES], tensor[:, NUM_CLASSES:2 * NUM_CLASSES],
                                 tensor[:, 2 * NUM_CLASSES:], float(self.bpm[i]),
                                 f"{row['midi_filename']}@bar{int(row['start_bar']) + 1}"))
        return result


def load_windows(splits: str | Sequence[str] | None = None, root: Path | None = None, hop_bars: int = 1,
                 progress: Progress | None = None) -> WindowSet:
    """Every 4-bar window (one every `hop_bars` bars) of every 4/4 performance in the given splits (None = all).

    Built once per split and hop, then read from data/cache/.
    """
    if hop_bars < 1:
        raise ValueError("hop_bars must be at least 1")
    names = SPLITS if splits is None else _as_list(splits)
    unknown = [s for s in names if s not in SPLITS]
    if unknown or not names:
        problem = f"Unknown split {unknown[0]!r}." if unknown else "No split chosen."
        raise DatasetError(f"{problem} GMD's splits are {', '.join(SPLITS)}.")
    root = Path(root) if root is not None else gmd_root()
    info = load_info(root)
    files = {split: list(info.loc[(info["split"] == split) & (info["time_signature"] == WINDOW_METER),
                                  "midi_filename"]) for split in names}
    total, done = sum(len(f) for f in files.values()), 0
    parts = []
    for split in names:  # one progress count across all splits
        step = (lambda d, _, offset=done: progress(offset + d, total)) if progress else None
        parts.append(_split_windows(root, split, files[split], hop_bars, step))
        done += len(files[split])
    tensors, bpm, midi_names, starts = (np.concatenate([p[k] for p in parts]) for k in range(4))
    index = pd.DataFrame({"midi_filename": pd.array(midi_names, dtype="string"), "start_bar": starts.astype(np.int64)})
    meta = index.merge(info.drop(columns=["audio_filename"]), on="midi_filename", how="left", validate="many_to_one")
    skipped = tuple((str(n), str(r)) for p in parts for n, r in zip(p[4], p[5], strict=True))
    return WindowSet(tensors, bpm, meta[list(META_COLUMNS)], skipped)


def _split_windows(root: Path, split: str, files: list[str], hop_bars: int, progress: Progress | None):
    """(tensors, bpm, midi_filename, start_bar, skipped names, skip reasons) of one split, cached."""
    key = _cache_key(root, files, hop_bars)
    cache_dir = explorer.files.DATA_DIR / "cache"
    path = cache_dir / f"gmd-windows-{split}-hop{hop_bars}-{key[:16]}.npz"
    cached = _read_cache(path, key)
    if cached is not None:
        if progress:
            progress(len(files), len(files))
        return cached
    built = _build_windows(root, files, hop_bars, split, progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob(f"gmd-windows-{split}-hop{hop_bars}-*.npz"):  # stale versions of this split
        if old != path:
            old.unlink(missing_ok=True)
    write_npz(path, dict(key=np.array(key), tensors=built[0], bpm=built[1], midi_filename=built[2],
                         start_bar=built[3], skipped_name=built[4], skipped_reason=built[5]), compress=True)
    return built


def _cache_key(root: Path, files: list[str], hop_bars: int) -> str:
    """sha1 over the version, hop and every file's name and bytes (GMD's 4/4 files total ~9 MB: hashing is fast)."""
    digest = hashlib.sha1(f"v{CACHE_VERSION}|hop{hop_bars}".encode())
    for name in files:
        digest.update(name.encode() + b"\0")
        try:
            digest.update(hashlib.sha1((root / name).read_bytes()).digest())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


def _read_cache(path: Path, key: str):
    """The cached arrays, or None when the file is absent, unreadable or for other inputs."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            arrays = tuple(stored[n] for n in ("tensors", "bpm", "midi_filename", "start_bar",
                                                "skipped_name", "skipped_reason"))
    except Exception:  # a truncated or garbled cache of any kind is simply rebuilt
        return None
    tensors, bpm, names, starts = arrays[:4]
    if (tensors.dtype != np.float32 or tensors.shape[1:] != (WINDOW_STEPS, FEATURES)
            or not len(tensors) == len(bpm) == len(names) == len(starts)):
        return None
    return arrays


def _file_windows(task: tuple[Path, str, int]):
    """(tensors, bpm, start bars) of one file, or the MidiError's message (runs in a worker process)."""
    root, name, hop_bars = task
    try:
        performance = midi_to_performance(root / name, name)
    except MidiError as error:
        return str(error)
    found = performance.windows(hop_bars=hop_bars)
    tensors = np.stack([w.tensor() for w in found]) if found else np.zeros((0, WINDOW_STEPS, FEATURES), np.float32)
    starts = np.array([w.window_start_bar for w in found], dtype=np.int64)
    return tensors, np.full(len(found), performance.groove.bpm, np.float32), starts


def _pool_is_safe() -> bool:
    """Fork workers only from the main thread of a process without TensorFlow or other non-daemon threads.

    Forking a process whose threads hold locks can deadlock the child (tqdm's monitor is a harmless daemon);
    "spawn" is no alternative: it would re-run `python -m explorer`'s __main__ in every worker.
    """
    here = threading.current_thread()
    return (BUILD_WORKERS > 1 and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()
            and "tensorflow" not in sys.modules and here is threading.main_thread()
            and all(t.daemon for t in threading.enumerate() if t is not here))


def _build_windows(root: Path, files: list[str], hop_bars: int, split: str, progress: Progress | None):
    tasks = [(root, name, hop_bars) for name in files]
    results = []
    with tqdm(total=len(tasks), desc=f"GMD {split} windows", unit="file") as bar:
        def step(result) -> None:
            results.append(result)
            bar.update()
            if progress:
                progress(len(results), len(tasks))

        if _pool_is_safe() and len(tasks) > 8:
            with ProcessPoolExecutor(BUILD_WORKERS, mp_context=multiprocessing.get_context("fork")) as pool:
                for result in pool.map(_file_windows, tasks, chunksize=8):
                    step(result)
        else:
            for task in tasks:
                step(_file_windows(task))
    kept = [(n, r) for n, r in zip(files, results, strict=True) if not isinstance(r, str)]
    skipped = [(n, r) for n, r in zip(files, results, strict=True) if isinstance(r, str)]
    tensors = (np.concatenate([r[0] for _, r in kept]).astype(np.float32) if kept
               else np.zeros((0, WINDOW_STEPS, FEATURES), np.float32))
    bpm = np.concatenate([r[1] for _, r in kept]) if kept else np.zeros(0, np.float32)
    names = np.array([n for n, r in kept for _ in range(len(r[2]))], dtype=str)
    starts = np.concatenate([r[2] for _, r in kept]) if kept else np.zeros(0, np.int64)
    return (tensors, bpm, names, starts,
            np.array([n for n, _ in skipped], dtype=str), np.array([r for _, r in skipped], dtype=str))
