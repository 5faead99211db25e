"""Where the project's files live (the checkout, data/), and files written whole or not at all: checkpoints,
training state and the caches under data/cache/."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_DIR / "data"  # the only folder the app writes in; read at call time, so tests can point it elsewhere


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`write(handle)` into a hidden temporary file beside `path` (`.<name>.<random>.tmp`), synced and made readable
    like any other file, then renamed over `path`: readers, another writer of the same file and a kill see the old
    file or the new one, never a part. Only a kill can leave the temporary file behind (see `leftovers`)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the file from other users of the checkout
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """An .npz of `arrays`, written atomically."""
    write_atomically(path, lambda out: (np.savez_compressed if compress else np.savez)(out, **arrays))


def write_text(path: Path, text: str) -> None:
    """A UTF-8 text file, written atomically."""
    write_atomically(path, lambda out: out.write(text.encode()))


def leftovers(folder: Path, older_than_seconds: float = 0.0) -> list[Path]:
    """The temporary files of writes a kill cut short in `folder`; with `older_than_seconds`, only those last
    touched that long ago (in a folder that other processes write to, a younger one may be a write in progress)."""
    cutoff = time.time() - older_than_seconds
    found = []
    for path in Path(folder).glob(".*.tmp"):
        try:
            if not older_than_seconds or path.stat().st_mtime < cutoff:
                found.append(path)
        except FileNotFoundError:  # its write just finished
            continue
    return sorted(found)
