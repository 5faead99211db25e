"""Shared fixtures: the real GMD copy (GROOVE_DIR), a few of its windows, and the app served for the browser tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def gmd_folder() -> Path:
    """The real GMD copy the app would read ($GROOVE_DIR, else data/groove), or a skip that says it is missing."""
    from explorer.datasets.gmd import gmd_root
    from explorer.errors import DatasetError

    try:
        return gmd_root(download=False)
    except DatasetError as error:
        pytest.skip(f"needs the Groove MIDI Dataset: {error}")


@pytest.fixture(autouse=True)
def main_module_kept():
    """An AppTest runs its script as `__main__` and leaves it there: a process pool started later in the same pytest
    process (a folder's windows, prepared by spawned workers) would run that script again in every worker, and die.
    Each test gets the real `__main__` back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def groove_dir() -> Path:
    return gmd_folder()


@pytest.fixture(scope="session")
def test_windows(groove_dir):
    """Every 4-bar window of the GMD test split (a WindowSet)."""
    from explorer.datasets.gmd import load_windows

    return load_windows("test", root=groove_dir)


@pytest.fixture(scope="session")
def eight_windows(test_windows) -> np.ndarray:
    """Eight real, varied windows: one from each of eight different test performances."""
    firsts = test_windows.meta.drop_duplicates("midi_filename").index[:8]
    return test_windows.tensors[np.asarray(firsts)]


@pytest.fixture(scope="session")
def app_url(groove_dir, tmp_path_factory) -> Iterator[str]:
    """The app served by `streamlit run` on a free local port, for the browser tests (one server for all of them).
    Its log goes to a file (a pipe nobody reads would block the server once full) and is printed at the end."""
    from tests.system.browser_helpers import CHROMIUM, running_app

    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium is not installed ({CHROMIUM}): `sudo apt-get install chromium`")
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    try:
        with log.open("w") as server_log, running_app(server_log) as url:
            yield url
    finally:
        print(f"\n--- streamlit server log ({log}), last 3,000 characters ---\n{log.read_text()[-3000:]}")


def pytest_sessionfinish(session, exitstatus):
    """An AppTest starts the app's model warm-up thread (explorer/app/resources.py); it is let finish here, for
    TensorFlow aborts the process (exit 134, every test passed) when the interpreter exits while that thread
    compiles."""
    thread = getattr(sys.modules.get("explorer.app.resources"), "_warm_up_thread", None)
    if thread is not None:
        thread.join()
