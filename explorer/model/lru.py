"""A small thread-safe LRU cache of per-groove results (encodings, refined codes), keyed by a groove tensor's bytes:
the basket's seeds are asked for again on every click, and computing them is most of a click's model time."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np


class GrooveCache:
    """Up to `size` entries; `rows` serves a batch from the cache and computes only the rows it lacks."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(tensors: np.ndarray, salt: bytes = b"") -> list[bytes]:
        return [hashlib.sha1(tensor.tobytes() + salt).digest() for tensor in tensors]

    def rows(self, keys: Sequence[bytes], compute: Callable[[list[int]], Sequence], keep: bool = True) -> list:
        """Each key's entry: found ones from the cache (now the most recent), the others from `compute(missing
        indices)` (one result per missing index, in order), kept unless `keep` is False (a bulk batch's)."""
        with self._lock:
            found = [self._entries.get(key) for key in keys]
            for key, entry in zip(keys, found, strict=True):
                if entry is not None:
                    self._entries.move_to_end(key)
        missing = [i for i, entry in enumerate(found) if entry is None]
        if missing:
            computed = compute(missing)
            with self._lock:
                for i, entry in zip(missing, computed, strict=True):
                    found[i] = entry
                    if keep:
                        self._entries[keys[i]] = entry
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return found
