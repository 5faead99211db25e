"""Cached encodings and audio that are corrupt, or made for another checkpoint, window set or renderer, are never
served: they are detected and rebuilt. Figures: docs/RELIABILITY.md ("Being killed")."""

from __future__ import annotations

import io
import os
import time
import wave

import numpy as np
import pytest

from explorer import files
from explorer.analysis.encodings import (
    FORMAT_VERSION,
    cache_path,
    cached_mu,
    read_encodings,
    windows_key,
    write_encodings,
)
from explorer.audio import fluidsynth, rendering
from explorer.errors import AudioError
from explorer.files import write_npz
from explorer.tools.generate import encode_tensors

WINDOWS = 48  # real test-split windows: the first of 48 performances


@pytest.fixture(scope="module")
def model():
    from explorer.model.checkpoints import load_model

    return load_model()  # the shipped default


@pytest.fixture(scope="module")
def tensors(test_windows) -> np.ndarray:
    return test_windows.tensors[np.asarray(test_windows.meta.drop_duplicates("midi_filename").index[:WINDOWS])]


@pytest.fixture
def cache(monkeypatch, tmp_path, model, tensors):
    """data/ in tmp_path; (path of this checkpoint's file for `tensors`, sha256, key, a progress log)."""
    monkeypatch.setattr(files, "DATA_DIR", tmp_path)
    sha256, key = model.info.sha256, windows_key(tensors)
    return cache_path(sha256, key), sha256, key, []


def _mu(model, sha256, tensors, rows, calls):
    return cached_mu(model, sha256, tensors, rows, batch_size=16, progress=lambda done, total: calls.append(total))


def test_encodings_are_read_back_and_grow_with_new_rows(model, tensors, cache):
    path, sha256, key, calls = cache
    fresh, _ = encode_tensors(model, tensors)
    first = _mu(model, sha256, tensors, np.arange(0, 24), calls)
    assert calls and set(calls) == {24} and path.is_file()  # encoded, with progress from 0
    np.testing.assert_allclose(first, fresh[:24], atol=1e-5)
    calls.clear()
    np.testing.assert_array_equal(_mu(model, sha256, tensors, np.arange(0, 24), calls), first)
    assert calls == []  # all read from the file: nothing encoded, no progress bar
    both = _mu(model, sha256, tensors, np.array([47, 3, 30, 3]), calls)
    assert set(calls) == {2}  # only rows 30 and 47 were new
    np.testing.assert_allclose(both, fresh[[47, 3, 30, 3]], atol=1e-5)
    mu, known = read_encodings(path, sha256, key, fresh.shape)
    assert known.sum() == 26 and not mu[~known].any()


def _garbage(path, mu, known, sha256, key):
    path.parent.mkdir(parents=True)
    path.write_bytes(np.random.default_rng(0).bytes(40_000))


def _truncated(path, mu, known, sha256, key):
    write_encodings(path, mu + 1, known, sha256, key)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _other_checkpoint(path, mu, known, sha256, key):
    write_encodings(path, mu + 1, known, "0" * 64, key)


def _other_windows(path, mu, known, sha256, key):
    write_encodings(path, mu + 1, known, sha256, windows_key(np.zeros((3, 64, 27), np.float32)))


def _wrong_shape(path, mu, known, sha256, key):
    write_encodings(path, mu[:, :-1] + 1, known, sha256, key)


def _bit_rot(path, mu, known, sha256, key):
    """A well-formed file whose numbers changed after its checksum was taken."""
    write_encodings(path, mu, known, sha256, key)
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    fields["mu"][5, 7] += 0.5
    write_npz(path, fields, compress=True)


def _old_format(path, mu, known, sha256, key):
    write_encodings(path, mu + 1, known, sha256, key)
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    fields["format"] = np.int64(FORMAT_VERSION - 1)
    write_npz(path, fields, compress=True)


@pytest.mark.parametrize("damage", [_garbage, _truncated, _other_checkpoint, _other_windows, _wrong_shape, _bit_rot,
                                    _old_format])
def test_damaged_or_foreign_encodings_are_rebuilt(damage, model, tensors, cache):
    """Each damaged file holds mu + 1 (or one changed number): using it would give other values than encoding."""
    path, sha256, key, calls = cache
    fresh, _ = encode_tensors(model, tensors)
    damage(path, fresh.copy(), np.ones(len(tensors), bool), sha256, key)
    assert path.is_file() and read_encodings(path, sha256, key, fresh.shape) is None
    got = _mu(model, sha256, tensors, np.arange(len(tensors)), calls)
    assert set(calls) == {len(tensors)}  # every row encoded again
    np.testing.assert_allclose(got, fresh, atol=1e-5)
    mu, known = read_encodings(path, sha256, key, fresh.shape)  # and the file was replaced by a good one
    assert known.all()
    np.testing.assert_array_equal(mu, got)


# --- audio ---------------------------------------------------------------------------------------


@pytest.fixture
def audio_cache(monkeypatch) -> rendering.AudioCache:
    monkeypatch.setattr(rendering, "CACHE", rendering.AudioCache())
    return rendering.CACHE


def _sample_rate(wav: bytes) -> int:
    with wave.open(io.BytesIO(wav)) as file:
        return file.getframerate()


def test_audio_of_another_renderer_sample_rate_or_soundfont_is_never_served(test_windows, audio_cache, monkeypatch,
                                                                           tmp_path):
    if rendering.choose_renderer("auto").name != "fluidsynth":
        pytest.skip(f"FluidSynth cannot play here ({rendering.describe_renderer()}); `make test` installs it")
    groove = test_windows.grooves(0)[0]
    played = {}
    for renderer, rate in (("fluidsynth", 44100), ("builtin", 44100), ("fluidsynth", 22050), ("builtin", 22050)):
        wav = rendering.render_wav(groove, renderer=renderer, sample_rate=rate)
        assert wav == rendering.render(groove, sample_rate=rate, renderer=renderer)  # what an uncached render gives
        assert _sample_rate(wav) == rate
        played[renderer, rate] = wav
    assert len(set(played.values())) == 4 and audio_cache.misses == 4 and audio_cache.hits == 0
    assert rendering.render_wav(groove, renderer="fluidsynth", sample_rate=22050) is played["fluidsynth", 22050]
    # Another soundfont (the same font under another name: the cache cannot know it sounds the same) is a miss.
    other = tmp_path / "other.sf2"
    other.symlink_to(fluidsynth.find_soundfont())
    monkeypatch.setenv("SOUNDFONT", str(other))
    rendering.render_wav(groove, renderer="fluidsynth")
    assert audio_cache.misses == 5 and len(audio_cache) == 5


def test_an_audio_entry_cannot_be_changed_or_half_made(test_windows, audio_cache, monkeypatch):
    groove = test_windows.grooves(1)[0]
    buffer = bytearray(b"RIFF" + bytes(100))
    audio_cache.put(("key",), buffer)
    buffer[:4] = b"XXXX"  # the caller changes its buffer later
    assert audio_cache.get(("key",)) == b"RIFF" + bytes(100)

    def fails_half_way(*args, **kwargs):
        raise AudioError("the renderer stopped")

    with monkeypatch.context() as patch:
        patch.setattr(rendering, "render", fails_half_way)
        with pytest.raises(AudioError):
            rendering.render_wav(groove, renderer="builtin")
    assert len(audio_cache) == 1  # nothing stored for the failed render
    assert rendering.render_wav(groove, renderer="builtin") == rendering.render(groove, renderer="builtin")


def test_writing_encodings_deletes_removed_checkpoints_files_and_old_leftovers(model, tensors, cache):
    path, sha256, key, calls = cache
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    removed = folder / f"encodings-{'ab' * 8}-{key[:16]}.npz"  # a checkpoint no longer in the registry
    removed.write_bytes(b"old map")
    old_leftover, fresh_leftover = folder / ".encodings-x.npz.k1.tmp", folder / ".gmd-windows-y.npz.k2.tmp"
    for leftover in (old_leftover, fresh_leftover):
        leftover.write_bytes(b"part")
    two_hours_ago = time.time() - 7200
    os.utime(old_leftover, (two_hours_ago, two_hours_ago))
    windows_cache = folder / "gmd-windows-test-hop1-0123456789abcdef.npz"
    windows_cache.write_bytes(b"not an encodings file")
    _mu(model, sha256, tensors, np.arange(4), calls)
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, fresh_leftover.name, windows_cache.name])
