"""Shared fixtures: the real GMD copy (GROOVE_DIR) and a few of its windows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def groove_dir() -> Path:
    path = os.environ.get("GROOVE_DIR")
    if not path or not (Path(path) / "info.csv").exists():
        pytest.skip("the Groove MIDI Dataset is missing: set GROOVE_DIR to its folder (e.g. ../shared/groove)")
    return Path(path)


@pytest.fixture(scope="session")
def test_windows(groove_dir):
    """Every 4-bar window of the GMD test split (a WindowSet)."""
    from explorer.dataset import load_windows

    return load_windows("test", root=groove_dir)


@pytest.fixture(scope="session")
def eight_windows(test_windows) -> np.ndarray:
    """Eight real, varied windows: one from each of eight different test performances."""
    firsts = test_windows.meta.drop_duplicates("midi_filename").index[:8]
    return test_windows.tensors[np.asarray(firsts)]
