"""What every session of the app shares: the dataset, the model and what it computed, cached once per server
process (`st.cache_data` / `st.cache_resource`), the audio render threads, and the model's warm-up at start.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import streamlit as st

from explorer.analysis.attributes import attribute_vectors as vectors
from explorer.analysis.encodings import cached_mu
from explorer.analysis.projection import Projection, project
from explorer.app import plots
from explorer.audio import fluidsynth, rendering
from explorer.datasets import gmd
from explorer.errors import ExplorerError
from explorer.model import checkpoints
from explorer.notes.groove import Groove, PlayedNotes
from explorer.tools.continuation import gmd_fills
from explorer.tools.humanize import direction_for, feel_code


@st.cache_data(show_spinner="Reading the Groove MIDI Dataset…")
def info() -> pd.DataFrame:
    return gmd.load_info()


@st.cache_data(show_spinner=False, max_entries=16)
def performance(midi_filename: str) -> Groove:
    return gmd.load_performance(midi_filename)


@st.cache_data(show_spinner=False, max_entries=16)
def performance_roll_spec(midi_filename: str) -> dict:
    """The whole performance's drum roll, built once (the window slider only moves its shaded band)."""
    return plots.performance_roll_spec(performance(midi_filename))


@st.cache_data(show_spinner=False, max_entries=32)  # every session's default seeds, the Dataset page's card
def window_as_played(midi_filename: str, start_bar: int):
    """A GMD window's own notes (explorer/notes/record.py): its as-played MIDI, audio and what is written back onto
    it."""
    return gmd.load_excerpt(midi_filename, start_bar)


@st.cache_data(show_spinner="Rendering the performance…", max_entries=3)  # a few minutes of WAV each
def played_audio(midi_filename: str, kit: str = fluidsynth.DEFAULT_KIT) -> tuple[PlayedNotes, bytes]:
    """A performance in another meter than 4/4: its notes as played, and their audio on `kit`."""
    played = gmd.load_played_notes(midi_filename)
    return played, rendering.render_played(played, kit=kit)


@st.cache_resource(show_spinner="Loading the 4-bar windows of the Groove MIDI Dataset…")
def windows() -> gmd.WindowSet:
    """Read-only and shared: ~20k windows are too big to copy on every rerun (as st.cache_data would)."""
    window_set = gmd.load_windows()
    window_set.tensors.setflags(write=False)
    return window_set


RENDERERS = ThreadPoolExecutor(fluidsynth.ENGINES, thread_name_prefix="audio")  # shared by every session
_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None
WARM_UP_BATCH_SIZES = (4, 1, 8, 16)  # the XLA batch sizes, Generate's default count of 4 first
REFINE_WARM_UP_BATCH_SIZES = (1, 4)  # seeds are refined one (a reconstruction, a move) or 2-4 at a time (paths, blends)
WARM_UP_DELAY = 4.0  # seconds: importing TensorFlow holds Python's lock much of the time; let the first page finish


def warm_up_in_background(checkpoint: str | None = None, delay: float = WARM_UP_DELAY) -> threading.Thread | None:
    """Once per server process: import TensorFlow, load `checkpoint` (default: the first in the registry) and
    compile its encoder and sampler for small batches, in a background thread, while the user reads the first page.
    The first model page then finds the model in `checkpoints.load_model`'s process cache, and its first click does
    not wait for graph optimisation or XLA. Returns the thread when this call started it."""
    global _warm_up_thread
    with _warm_up_lock:
        if _warm_up_thread is not None:
            return None
        _warm_up_thread = threading.Thread(target=_warm_up, args=(checkpoint, delay), name="model-warm-up",
                                           daemon=True)
        _warm_up_thread.start()
        return _warm_up_thread


def _warm_up(checkpoint: str | None, delay: float) -> None:
    time.sleep(delay)
    with contextlib.suppress(ExplorerError):  # a page that needs the model loads it again and shows the message
        # imports TensorFlow: only after the delay, never beside a page's first import
        model = checkpoints.load_model(checkpoint)
        model.warm_up(WARM_UP_BATCH_SIZES)
        model.refiner().warm_up(REFINE_WARM_UP_BATCH_SIZES)


def _skip_streamlit_keras_reset() -> None:
    """Streamlit resets Keras after every script run once keras is imported (for scripts that build a model on
    every run): `keras.backend.clear_session()`, a full garbage collection and TensorFlow's kernel cache dropped.
    This app builds its models once, in `st.cache_resource`; the reset only cost time (measured: Blend 4×4 went
    from 2.6 s to 0.6 s a click without it). Streamlit offers no setting for it."""
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = lambda: None


_skip_streamlit_keras_reset()


@st.cache_resource(show_spinner="Loading the model (the first time takes a few seconds)…", max_entries=4)
def _model(name: str, sha256: str, prior_sha256: str = ""):
    """Keyed by the weights' sha256, and by the prior's where samples are drawn (a checkpoint given a new prior is
    loaded again); encoding needs the weights only."""
    return checkpoints.load_model(name)


def checkpoint_infos() -> list:
    return checkpoints.list_checkpoints()


def active_checkpoint():
    """The CheckpointInfo chosen in the sidebar (None when there is none)."""
    infos = checkpoint_infos()
    chosen = st.session_state.get("keep_checkpoint")
    return next((i for i in infos if i.name == chosen), infos[0] if infos else None)


def model():
    """The active model, or an error message and the end of this page's run."""
    checkpoint = active_checkpoint()
    if checkpoint is None:
        st.error("No model checkpoint found under checkpoints/. Train one (`python -m explorer train`) or import "
                 "Magenta's groovae_4bar.")
        st.stop()
    try:
        return _model(checkpoint.name, checkpoint.sha256, checkpoint.prior.get("sha256", ""))
    except ExplorerError as error:
        st.error(str(error))
        st.stop()


def drumify_model():
    """A model that reads taps: the active checkpoint if it is multi-task, else the shipped multi-task one; None
    (with a message) when there is none."""
    active = active_checkpoint()
    chosen = active if active is not None and active.config.get("task_channels") else next(
        (i for i in checkpoint_infos() if i.name == checkpoints.DRUMIFY_CHECKPOINT), None)
    if chosen is None:
        st.error(f"Drumify needs a multi-task checkpoint ({checkpoints.DRUMIFY_CHECKPOINT}, trained on taps); none is "
                 "here.")
        return None
    try:
        return _model(chosen.name, chosen.sha256, chosen.prior.get("sha256", ""))
    except ExplorerError as error:
        st.error(str(error))
        return None


@st.cache_data(show_spinner="Finding the genre's feel…", max_entries=16)
def genre_feel(checkpoint: str, sha256: str, genre: str) -> np.ndarray:
    """The mean code of up to 256 GMD training windows of a genre (a fixed draw), as a feel for Drumify."""
    meta = windows().meta
    rows = np.flatnonzero((meta["genre"] == genre).to_numpy() & (meta["split"] == "train").to_numpy())
    rows = np.sort(np.random.default_rng(0).choice(rows, min(256, len(rows)), replace=False))
    return feel_code(_model(checkpoint, sha256), windows().grooves(rows))


@st.cache_resource(show_spinner="Reading the fills of the Groove MIDI Dataset's drummers (once)…")
def fill_bank():
    """GMD's training fills for Continue (explorer.continuation.gmd_fills), once per server; None without GMD."""
    return gmd_fills()


@contextlib.contextmanager
def progress_bar(describe: Callable[[int, int], str]):
    """A progress callback (done, total) for long work: its bar, captioned `describe(done, total)`, appears with the
    first report and goes when the work is done."""
    bars = []

    def report(done: int, total: int) -> None:
        text = describe(done, total)
        if not bars:
            bars.append(st.progress(0.0, text=text))
        bars[0].progress(min(done / max(total, 1), 1.0), text=text)

    try:
        yield report
    finally:
        for bar in bars:
            bar.empty()


@st.cache_data(show_spinner=False, max_entries=8)
def latent_vectors(checkpoint: str, sha256: str, key: str, _rows: np.ndarray) -> np.ndarray:
    """mu of the windows at `_rows` (identified by `key` = rows_key(_rows)): read from data/cache/, or encoded
    there with a progress bar the first time."""
    with progress_bar(lambda done, total: f"Encoding windows with {checkpoint}: {done:,} / {total:,}") as progress:
        return cached_mu(_model(checkpoint, sha256), sha256, windows().tensors, _rows, progress=progress)


@st.cache_data(show_spinner=False, max_entries=16)
def projection(checkpoint: str, sha256: str, key: str, method: str, dims: int, _mu: np.ndarray) -> Projection:
    """The map of `_mu` (the windows `key` names); t-SNE and UMAP show a progress bar of their iterations or epochs."""
    unit = "iterations" if method == "t-SNE" else "epochs"
    with progress_bar(lambda done, total: f"{method} on {len(_mu):,} windows: {done:,} / {total:,} {unit}") as progress:
        return project(_mu, method, dims, progress=progress)


@st.cache_data(show_spinner="Finding attribute directions…", max_entries=4)
def attribute_vectors(checkpoint: str, sha256: str, key: str, _rows: np.ndarray) -> dict[str, np.ndarray]:
    window_set = windows()
    meta = window_set.meta.iloc[_rows].reset_index(drop=True)
    return vectors(latent_vectors(checkpoint, sha256, key, _rows), window_set.tensors[_rows], meta)


@st.cache_resource(show_spinner="Learning what real playing sounds like to this model…", max_entries=4)
def humanness_direction(checkpoint: str, sha256: str):
    """The active checkpoint's humanness direction (explorer.humanize), once per server; None without GMD."""
    return direction_for(_model(checkpoint, sha256))
