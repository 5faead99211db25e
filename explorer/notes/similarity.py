"""How alike two hit patterns are."""

from __future__ import annotations

import numpy as np


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)]: the Jaccard index of every pair of boolean patterns (rows of a and b, flattened)."""
    a = np.asarray(a, np.float32).reshape(len(a), -1)
    b = np.asarray(b, np.float32).reshape(len(b), -1)
    both = a @ b.T
    return both / np.maximum(a.sum(1)[:, None] + b.sum(1)[None, :] - both, 1)
