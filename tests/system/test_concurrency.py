"""Many users at once. The app shares one model and one synth between all its sessions: hammered from 8 threads, they
must give every call exactly what the same call gives on one thread. And a few real browser sessions side by side
(seeded subset of `python -m bench.load_test`) must each see only their own seeds and results."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import numpy as np
import pytest

from explorer.audio import rendering
from explorer.notes.groove import Groove
from explorer.tools import generate

THREADS = 8
ROUNDS = 6  # every job runs this many times on the threads, in a shuffled order


def as_arrays(result) -> list[np.ndarray]:
    """A call's result (arrays, grooves, bytes, or tuples and lists of them) as a flat list of arrays to compare."""
    if isinstance(result, Groove):
        return [result.hits, result.velocities, result.offsets, np.asarray(result.bpm)]
    if isinstance(result, (tuple, list)):
        return [array for item in result for array in as_arrays(item)]
    if isinstance(result, bytes):
        return [np.frombuffer(result, np.uint8)]
    return [np.asarray(result)]


def hammer(jobs: list[Callable[[], object]], threads: int = THREADS, rounds: int = ROUNDS) -> list[list]:
    """Every job `rounds` times, spread over `threads` threads that start together; the results of each job."""
    tasks = [index for index in range(len(jobs)) for _ in range(rounds)]
    random.Random(0).shuffle(tasks)
    results: list[list] = [[] for _ in jobs]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(mine: list[int]) -> None:
        start.wait()
        for index in mine:
            try:
                results[index].append(jobs[index]())  # list.append is atomic
            except BaseException as error:
                errors.append(error)

    workers = [threading.Thread(target=work, args=(tasks[n::threads],)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    return results


def assert_all_equal(jobs: list[Callable[[], object]], serial: list, threaded: list[list], atol: float = 0.0) -> None:
    for index, (expected, got) in enumerate(zip(serial, threaded, strict=True)):
        assert len(got) == ROUNDS, index
        for result in got:
            for a, b in zip(as_arrays(expected), as_arrays(result), strict=True):
                np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=f"job {index}: {jobs[index]}")


@pytest.fixture(scope="module")
def shipped_model():
    from explorer.model.checkpoints import load_model

    return load_model()  # the shipped default


def model_jobs(model, windows: np.ndarray, mu: np.ndarray) -> list[Callable[[], object]]:
    """Encode, decode (T = 0 and seeded T > 0), sample, vary and interpolate, at several batch sizes."""
    seeds = [Groove.from_tensor(t, bpm=80.0 + 10 * i, source=f"seed {i}") for i, t in enumerate(windows)]
    return [
        lambda: model.encode(windows[:1]),
        lambda: model.encode(windows),
        lambda: model.decode(mu[:3]),
        lambda: model.decode(mu, 0.9, 7),
        lambda: model.decode(mu[2:5], 1.2, 11),
        lambda: generate.sample(model, 4, 0.8, seed=1, bpm=100),
        lambda: generate.sample(model, 4, 0.8, seed=2, bpm=100),
        lambda: generate.variations(model, seeds[0], 3, 0.4, 0.5, seed=3),
        lambda: generate.interpolate(model, seeds[1], seeds[2], 5),
    ]


def test_shared_model_gives_every_thread_the_one_thread_result(shipped_model, eight_windows):
    """The app's model is an st.cache_resource used by every session's script thread at once. A fresh
    CompiledModel on the same weights is hammered, so even the first calls (which trace the graphs) race."""
    from explorer.model.runtime import CompiledModel

    reference = CompiledModel(shipped_model.vae)  # no cache of encodings: each call computes, as each thread's
    mu = reference.encode(eight_windows)[0]
    serial = [job() for job in model_jobs(reference, eight_windows, mu)]
    jobs = model_jobs(CompiledModel(shipped_model.vae), eight_windows, mu)
    assert_all_equal(jobs, serial, hammer(jobs))
    assert sum(g.hits.sum() for g in serial[5]) > 0  # the comparison is between real grooves, not silence
    # With the app's cache of encodings, a groove's code comes from whichever batch encoded it first: XLA programs
    # of different batch sizes differ in the last bits (measured 2e-7), never more.
    cached = model_jobs(CompiledModel(shipped_model.vae, cache_encodings=True), eight_windows, mu)
    assert_all_equal(cached[:2], serial[:2], hammer(cached[:2]), atol=1e-5)


def audio_jobs(grooves: list[Groove], renderer: str) -> list[Callable[[], object]]:
    """render_array at several tempi, loop counts and channel counts, and the app's cached render_wav."""
    return [
        lambda: rendering.render_array(grooves[0], renderer=renderer),
        lambda: rendering.render_array(grooves[1], bpm=140, loops=2, renderer=renderer),
        lambda: rendering.render_array(grooves[2], renderer=renderer, channels=1),
        lambda: rendering.render_wav(grooves[3], renderer=renderer),
        lambda: rendering.render_wav(grooves[4], bpm=90, renderer=renderer),
    ]


@pytest.mark.parametrize("renderer", rendering.RENDERERS)
def test_shared_synth_gives_every_thread_the_one_thread_audio(renderer, eight_windows, monkeypatch):
    """One soundfont (FluidSynth) or one kit (built-in) and one WAV cache serve every session."""
    if renderer == "fluidsynth" and rendering.choose_renderer("auto").name != "fluidsynth":
        pytest.skip(f"FluidSynth cannot play here ({rendering.describe_renderer()}); `make test` installs it")
    grooves = [Groove.from_tensor(t, bpm=100.0, source=f"window {i}") for i, t in enumerate(eight_windows)]
    jobs = audio_jobs(grooves, renderer)
    # a cache that keeps one WAV: always busy
    monkeypatch.setattr(rendering, "CACHE", rendering.AudioCache(max_bytes=1))
    serial = [job() for job in jobs]
    monkeypatch.setattr(rendering, "CACHE", rendering.AudioCache(max_bytes=1))
    threaded = hammer(jobs)
    assert_all_equal(jobs, serial, threaded)
    assert rendering.CACHE.misses > 0


# The seeded subset of `python -m bench.load_test`: a seed added from the Dataset page's filter, samples drawn with the
# session's own random seed, a path from that seed, and a MIDI file of each.
SESSIONS = 3
SCRIPT = ["add seed", "generate", "download", "interpolate", "download"]


@pytest.mark.browser
def test_sessions_side_by_side_see_only_their_own_seeds_and_results(app_url):
    from bench.load_test import build_catalog, run_sessions, verify_downloads

    catalog = build_catalog(SESSIONS)
    outcome = run_sessions(app_url, catalog, SESSIONS, script=SCRIPT)
    assert outcome.errors == []
    assert outcome.foreign == []
    assert {kind: len(outcome.latencies[kind]) for kind in ("filter", "add seed", "generate", "interpolate")} == {
        "filter": SESSIONS, "add seed": SESSIONS, "generate": SESSIONS, "interpolate": SESSIONS}
    assert verify_downloads(outcome, catalog) == 2 * SESSIONS  # each compared with the groove its session asked for
    assert outcome.foreign == []


def test_the_load_tests_checker_passes_what_the_app_writes_and_catches_a_wrong_download(shipped_model, groove_dir):
    """`verify_downloads` holds each download to the file the app writes for it: a window and a path's first step as
    played (a default seed's too), the model's view only for a performance shorter than the window, a sample as the
    model draws it for the session's seed. A download of another groove, of the model's view instead of the notes
    played, or of another sample is caught."""
    from bench.load_session import SAMPLE_BPM, SAMPLES, STEPS, TEMPERATURE, Outcome
    from bench.load_test import build_catalog, verify_downloads
    from explorer.app.state import performance_bars, seeds_of_rows
    from explorer.notes.midi_write import groove_to_midi

    catalog = build_catalog(SESSIONS)
    default, added = catalog.default_rows[0], catalog.seed_rows[catalog.texts[0][0]]
    meta = catalog.windows.meta
    short = next(row for row in range(len(meta)) if performance_bars(meta.iloc[row]) < 4)
    seeds = [s.groove for s in seeds_of_rows(catalog.windows, [default, added, short])]  # as the basket holds them
    assert seeds[0].notes is not None and seeds[2].notes is None
    first_step = generate.interpolate(shipped_model, seeds[0], seeds[1], STEPS)[0]
    samples = generate.sample(shipped_model, SAMPLES, TEMPERATURE, 7, bpm=SAMPLE_BPM)
    written = {  # as the app's MIDI buttons write them (explorer/app/ui.py groove_card), at the grooves' own tempo
        ("window", added): groove_to_midi(seeds[1], seeds[1].bpm),
        ("window", short): groove_to_midi(seeds[2], seeds[2].bpm),
        ("step", default, added): groove_to_midi(first_step, first_step.bpm),
        ("sample", 7, 2): groove_to_midi(samples[2], samples[2].bpm),
    }
    right = Outcome(downloads=[(0, what, data) for what, data in written.items()])
    assert verify_downloads(right, catalog) == 4 and right.foreign == []
    user = 1  # the load test's browser session that downloaded them
    wrong = Outcome(downloads=[
        (user, ("window", added), written[("step", default, added)]),  # another window
        (user, ("step", default, added), groove_to_midi(catalog.groove(default))),  # the model's view, not the notes
        (user, ("sample", 7, 2), groove_to_midi(samples[1], samples[1].bpm)),  # another of the four samples
    ])
    assert verify_downloads(wrong, catalog) == 3
    assert len(wrong.foreign) == 3 and all(line.startswith(f"session {user}: ") for line in wrong.foreign)
