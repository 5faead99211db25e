"""mu of the dataset's windows under one checkpoint, kept in data/cache/ across server starts.

Encoding every window for the latent map costs minutes on a CPU; this file makes it a one-time cost per checkpoint.
One file per (checkpoint, window set), `encodings-<checkpoint sha256>-<window set key>.npz`, holds mu for every
window of the set and which rows are filled in: the map asks for subsets, and each new one adds its rows.
A file is used only when its format version, checkpoint sha256, window set key, shape and checksum all match what
is asked; a truncated, garbled, foreign or stale file is rebuilt, never used. Files of checkpoints no longer in the
registry, and temporary files of killed writes, are deleted when a file is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from explorer import files
from explorer.files import leftovers, write_npz
from explorer.model.checkpoints import list_checkpoints
from explorer.tools.generate import Progress, encode_tensors

FORMAT_VERSION = 1  # bump when the file's layout or what mu means changes
LEFTOVER_SECONDS = 3600  # a write takes seconds: a temporary file this old is a killed one's


def windows_key(tensors: np.ndarray) -> str:
    """Which windows, in which order: a hash of their tensors (~0.2 s for GMD's 20k windows)."""
    tensors = np.ascontiguousarray(tensors, np.float32)
    digest = hashlib.blake2b(str(tensors.shape).encode(), digest_size=16)
    digest.update(tensors)
    return digest.hexdigest()


def cache_path(checkpoint_sha256: str, key: str) -> Path:
    return files.DATA_DIR / "cache" / f"encodings-{checkpoint_sha256[:16]}-{key[:16]}.npz"


def _checksum(mu: np.ndarray, known: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(mu))
    digest.update(np.ascontiguousarray(known))
    return digest.hexdigest()


def read_encodings(path: Path, checkpoint_sha256: str, key: str, shape: tuple[int, int]):
    """(mu [N, z], known [N]) from `path`, or None when it is absent, unreadable or not for these inputs."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            mu, known = stored["mu"], stored["known"]
            if (int(stored["format"]) != FORMAT_VERSION or str(stored["checkpoint_sha256"]) != checkpoint_sha256
                    or str(stored["windows_key"]) != key or mu.dtype != np.float32 or mu.shape != shape
                    or known.dtype != bool or known.shape != shape[:1]
                    or str(stored["checksum"]) != _checksum(mu, known)):
                return None
    except Exception:  # a truncated or garbled file of any kind is simply rebuilt
        return None
    return mu, known


def write_encodings(path: Path, mu: np.ndarray, known: np.ndarray, checkpoint_sha256: str, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(f"encodings-{checkpoint_sha256[:16]}-*.npz"):  # this checkpoint's older window sets
        if old != path:
            old.unlink(missing_ok=True)
    fields = dict(format=np.int64(FORMAT_VERSION), checkpoint_sha256=np.array(checkpoint_sha256),
                  windows_key=np.array(key), mu=mu, known=known, checksum=np.array(_checksum(mu, known)))
    write_npz(path, fields)  # uncompressed: mu is dense floats, zlib would only cost time


def prune(folder: Path, checkpoint_sha256s: Iterable[str]) -> list[Path]:
    """Deletes from `folder` the encodings of checkpoints other than these (removed or replaced ones: ~20 MB each,
    never read again) and the temporary files of writes killed over an hour ago. Returns what it deleted."""
    keep = {sha256[:16] for sha256 in checkpoint_sha256s}
    doomed = [path for path in Path(folder).glob("encodings-*-*.npz") if path.name.split("-")[1] not in keep]
    doomed += leftovers(folder, older_than_seconds=LEFTOVER_SECONDS)
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def cached_mu(model, checkpoint_sha256: str, tensors: np.ndarray, rows: np.ndarray, batch_size: int = 256,
              progress: Progress | None = None) -> np.ndarray:
    """mu [len(rows), z] of `tensors[rows]` under the checkpoint with that sha256 (the one `model` was loaded from).

    Rows already in the cache are read; the others are encoded (`progress(done, total)` is called from 0, only
    then) and added to it.
    """
    rows = np.asarray(rows, np.int64)
    key = windows_key(tensors)
    path = cache_path(checkpoint_sha256, key)
    shape = (len(tensors), model.config.z_size)
    stored = read_encodings(path, checkpoint_sha256, key, shape)
    mu, known = stored if stored is not None else (np.zeros(shape, np.float32), np.zeros(len(tensors), bool))
    missing = np.unique(rows[~known[rows]])
    if len(missing):
        if progress:
            progress(0, len(missing))
        mu[missing], _ = encode_tensors(model, tensors[missing], batch_size, progress)
        known[missing] = True
        write_encodings(path, mu, known, checkpoint_sha256, key)
        prune(path.parent, [checkpoint_sha256] + [info.sha256 for info in list_checkpoints()])
    return mu[rows]
