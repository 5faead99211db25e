"""Audio rendering measured on real audio: real GMD windows, real FluidSynth (when installed), an onset detector."""

from __future__ import annotations

import io
import itertools
import shutil
import sys
import threading
import wave

import numpy as np
import pytest

from explorer import files
from explorer.audio import fluidsynth, rendering
from explorer.cli.main import main
from explorer.errors import AudioError, MidiError
from explorer.notes.drums import OUTPUT_PITCHES
from explorer.notes.grid import STEPS_PER_BAR
from explorer.notes.groove import Groove
from explorer.notes.midi_read import midi_to_performance
from explorer.notes.midi_write import groove_to_midi, groove_to_sequence
from tests.conftest import gmd_folder
from tests.factories import detect_onsets, drum_machine_loop

SR = rendering.SAMPLE_RATE
# Two real windows (bars 5-8). SOUL's kick on the first step is played 39 ms early, so in the second pass of a loop
# it sounds before the bar line; both hold kicks and snares up to 50-60 ms off the grid and ghost notes.
FUNK = "drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid"
SOUL = "drummer1/eval_session/10_soul-groove10_102_beat_4-4.mid"
KICK, SNARE, CLOSED_HAT, OPEN_HAT = 0, 1, 2, 3
TOLERANCE = 0.015  # seconds, onset vs. played note time
AUDIBLE_VELOCITY = 32  # quieter ghost notes hide under the ring of the hit before them, for any detector


def real_window(name: str) -> Groove:
    return midi_to_performance(gmd_folder() / name).groove.window(4)


def require_fluidsynth() -> None:
    if rendering.choose_renderer("auto").name != "fluidsynth":
        pytest.skip(f"FluidSynth cannot play here ({rendering.describe_renderer()}); `make test` installs it")


@pytest.fixture(params=rendering.RENDERERS)
def renderer(request) -> str:
    if request.param == "fluidsynth":
        require_fluidsynth()
    return request.param


@pytest.fixture
def without_pyfluidsynth(monkeypatch):
    """As on a machine where pyfluidsynth cannot load libfluidsynth: importing it fails."""
    monkeypatch.setitem(sys.modules, "fluidsynth", None)
    rendering.reset()
    yield
    monkeypatch.undo()
    rendering.reset()


def only(groove: Groove, drum: int) -> Groove:
    """The groove's hits of one drum, with their real velocities and offsets."""
    keep = np.zeros_like(groove.hits)
    keep[:, drum] = 1
    return Groove(groove.hits * keep, groove.velocities * keep, groove.offsets * keep, groove.bpm, groove.source)


def tiled(groove: Groove, times: int) -> Groove:
    return Groove(*(np.tile(a, (times, 1)) for a in (groove.hits, groove.velocities, groove.offsets)), groove.bpm)


def played_notes(groove: Groove, loops: int) -> tuple[np.ndarray, np.ndarray]:
    """Start times (s) and MIDI velocities of `loops` passes, from the MIDI conversion (offsets included)."""
    notes = sorted(groove_to_sequence(tiled(groove, loops)).notes, key=lambda note: note.start_time)
    return np.array([n.start_time for n in notes]), np.array([n.velocity for n in notes])


def decode(wav: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(wav)) as file:
        assert file.getsampwidth() == 2
        pcm = np.frombuffer(file.readframes(file.getnframes()), "<i2")
        return pcm.reshape(-1, file.getnchannels()), file.getframerate()


def expected_frames(groove: Groove, loops: int, bpm: float | None = None) -> int:
    bars = groove.steps / STEPS_PER_BAR
    return round((loops * bars * 4 * 60 / (bpm or groove.bpm) + rendering.TAIL_SECONDS) * SR)


# --- the audio itself ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("loops", [1, 3])
def test_wav_has_the_grooves_duration_and_is_loud_without_clipping(renderer, loops):
    window = real_window(FUNK)
    samples, rate = decode(rendering.render(window, loops=loops, renderer=renderer))
    assert rate == SR and samples.shape == (expected_frames(window, loops), 2)
    peak = np.abs(samples).max()
    assert peak <= round(rendering.PEAK_LEVEL * 32767)  # limited to -1 dBFS: nothing reaches full scale
    rms_db = 20 * np.log10(np.sqrt(np.mean((samples / 32768.0) ** 2)))
    assert rms_db > -30, f"too quiet: {rms_db:.1f} dBFS"


def test_softer_playing_renders_softer_and_louder_playing_is_limited(renderer):
    """One fixed gain for every groove (no normalising), so that a groove played softer is heard softer."""
    window = real_window(FUNK)
    levels = {}
    for scale in (0.5, 1.0, 1.4):
        played = Groove(window.hits, np.clip(window.velocities * scale, 0, 1), window.offsets, window.bpm)
        samples = rendering.render_array(played, renderer=renderer)
        levels[scale] = np.sqrt(np.mean(samples**2)), np.abs(samples).max()
    assert levels[0.5][0] < 0.6 * levels[1.0][0] and levels[1.4][0] > 1.2 * levels[1.0][0], levels
    assert max(peak for _, peak in levels.values()) <= np.float32(rendering.PEAK_LEVEL)


def test_limiter_passes_quiet_samples_and_bends_loud_ones_below_the_ceiling():
    x = np.linspace(-3, 3, 601, dtype=np.float32)[:, None]
    limited = rendering.limit(x)
    quiet = np.abs(x) <= rendering.LIMITER_KNEE * rendering.PEAK_LEVEL
    np.testing.assert_array_equal(limited[quiet], x[quiet])
    assert np.abs(limited).max() <= np.float32(rendering.PEAK_LEVEL)
    assert np.all(np.diff(limited[:, 0]) >= 0), "monotone: louder never sounds softer"
    assert limited[-1, 0] > limited[len(x) // 2 + 100, 0] > rendering.LIMITER_KNEE * rendering.PEAK_LEVEL


def test_a_looping_file_lasts_exactly_its_bars_and_wraps_the_ring_onto_its_start(renderer):
    """A player loops the whole file: with `loop` it restarts on the bar (no tail), and the ring of the last
    hits is heard over the start of the next pass instead."""
    hits = np.zeros((64, 9), np.float32)
    hits[[0, 63], 7] = 1  # crashes on the first and the very last 16th
    groove = Groove(hits, hits * 0.8, np.zeros_like(hits), 140.0)
    looped = rendering.render_array(groove, renderer=renderer, loop=True)
    plain = rendering.render_array(groove, renderer=renderer)
    assert len(looped) == round(groove.seconds * SR) == expected_frames(groove, 1) - round(rendering.TAIL_SECONDS * SR)
    assert len(looped) / SR == pytest.approx(4 * 4 * 60 / 140, abs=1 / SR)  # 6.86 s, not 8.36
    ring = slice(round(0.2 * SR), round(0.7 * SR))  # past the first crash's attack, inside the last one's ring
    assert np.sqrt(np.mean(looped[ring] ** 2)) > 1.2 * np.sqrt(np.mean(plain[ring] ** 2))
    np.testing.assert_allclose(looped[round(2 * SR):round(6 * SR)], plain[round(2 * SR):round(6 * SR)], atol=1e-6)


@pytest.mark.parametrize("name", [FUNK, SOUL])
@pytest.mark.parametrize("drum", [KICK, SNARE])
def test_onsets_land_on_the_played_note_times(renderer, name, drum):
    """Render only one drum of a real window, twice in a row, and find its hits by ear (an onset detector)."""
    groove = only(real_window(name), drum)
    times, velocities = played_notes(groove, loops=2)
    onsets = detect_onsets(rendering.render_array(groove, loops=2, renderer=renderer), SR)
    audible = times[velocities >= AUDIBLE_VELOCITY]
    errors = np.array([np.abs(onsets - t).min() for t in audible])
    assert errors.max() <= TOLERANCE, f"hits at {audible[errors > TOLERANCE]} s not heard within 15 ms"
    # The micro-timing is heard: hits played 30 ms or more off the grid sound at their played time, not the grid's.
    grid = np.round(audible / groove.seconds * groove.steps) * groove.seconds / groove.steps
    off_grid = np.abs(audible - grid) >= 0.03
    assert off_grid.sum() >= 2
    assert np.all(errors[off_grid] < np.array([np.abs(onsets - g).min() for g in grid[off_grid]]))
    assert len(onsets) <= 2 * len(times)  # the detector does not simply fire everywhere


def test_a_loop_sounds_like_the_groove_played_twice_in_a_row(renderer):
    """No gap or click at the bar line: early hits of the next pass and the ring of the last hits overlap it."""
    window = real_window(SOUL)
    looped = rendering.render_array(window, loops=2, renderer=renderer)
    continuous = rendering.render_array(tiled(window, 2), renderer=renderer)
    assert looped.shape == continuous.shape
    assert np.array_equal(looped, continuous)
    # test_onsets_land_on_the_played_note_times hears SOUL's early kick of the second pass before the bar line.


def test_tail_lets_cymbals_ring_then_fades_to_silence(renderer):
    hits = np.zeros((64, 9), np.float32)
    hits[63, 7] = 1  # a crash on the very last 16th
    samples = rendering.render_array(Groove(hits, hits, np.zeros_like(hits), 120.0), renderer=renderer)
    tail = samples[round(8.0 * SR):]
    assert np.sqrt(np.mean(tail[round(0.2 * SR):round(0.7 * SR)] ** 2)) > 0.01  # still ringing 0.5 s after the bar
    assert np.abs(tail[-round(0.005 * SR):]).max() < 1e-3  # faded, not cut


def test_velocity_sets_loudness(renderer):
    hits = np.zeros((64, 9), np.float32)
    hits[[0, 32], KICK] = 1
    velocities = hits.copy()
    velocities[0, KICK] = 0.3
    samples = rendering.render_array(Groove(hits, velocities, np.zeros_like(hits), 120.0), renderer=renderer)
    quiet, loud = np.abs(samples[:SR]).max(), np.abs(samples[4 * SR:5 * SR]).max()
    assert 5 < loud / quiet < 20  # (1 / 0.3)² ≈ 11 for both: about 21 dB


def test_mono_is_the_same_groove_in_one_channel(renderer):
    window = real_window(FUNK)
    samples, _ = decode(rendering.render(window, renderer=renderer, channels=1))
    assert samples.shape == (expected_frames(window, 1), 1)
    stereo = rendering.render_array(window, renderer=renderer)
    assert np.corrcoef(samples[:, 0], stereo.mean(axis=1))[0, 1] > 0.99


def test_empty_groove_is_silence_of_the_right_length(renderer):
    silent = Groove(*(np.zeros((64, 9), np.float32),) * 3, 100.0)
    samples = rendering.render_array(silent, renderer=renderer)
    assert samples.shape == (expected_frames(silent, 1), 2) and not samples.any()


def test_midi_bytes_render_like_the_groove_they_hold():
    window = real_window(FUNK)
    from_midi = rendering.render_array(groove_to_midi(window), renderer="builtin")
    from_groove = rendering.render_array(window, renderer="builtin")
    assert from_midi.shape == from_groove.shape
    assert np.corrcoef(from_midi[:, 0], from_groove[:, 0])[0, 1] > 0.99


def test_requests_a_musician_can_get_wrong_raise_audio_errors():
    window = real_window(FUNK)
    for arguments in ({"loops": 0}, {"loops": 17}, {"loops": 1.5}, {"bpm": 5}, {"renderer": "piano"},
                      {"sample_rate": 100}, {"channels": 6}):
        with pytest.raises(AudioError):
            rendering.render(window, **arguments)
    with pytest.raises(MidiError):
        rendering.render(b"MThd not really a MIDI file")


# --- choosing the renderer -----------------------------------------------------------------------------------


def test_builtin_synth_plays_when_fluidsynth_is_missing(without_pyfluidsynth, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nor the `fluidsynth` program
    window = real_window(FUNK)
    choice = rendering.choose_renderer()
    assert (choice.name, choice.description) == ("builtin", "built-in synth: FluidSynth not installed")
    assert rendering.available_renderers() == ["builtin"]
    assert rendering.render(window) == rendering.render(window, renderer="builtin")
    with pytest.raises(AudioError, match="apt-get install"):
        rendering.render(window, renderer="fluidsynth")


def test_builtin_synth_plays_when_the_soundfont_is_missing_or_broken(monkeypatch, tmp_path):
    monkeypatch.setenv("SOUNDFONT", str(tmp_path / "missing.sf2"))
    assert rendering.describe_renderer() == (f"built-in synth: SOUNDFONT is set to '{tmp_path / 'missing.sf2'}', "
                                             "which does not exist")
    (tmp_path / "notes.sf2").write_bytes(b"RIFF\0\0\0\0WAVE not a soundfont")
    monkeypatch.setenv("SOUNDFONT", str(tmp_path / "notes.sf2"))
    assert rendering.choose_renderer().name == "builtin"
    assert "is not a SoundFont" in rendering.describe_renderer()
    assert "is not a SoundFont" in rendering.describe_renderer("fluidsynth")
    assert rendering.describe_renderer("builtin") == "built-in synth (selected)"


def test_fluidsynth_is_named_with_its_soundfont():
    require_fluidsynth()
    soundfont = fluidsynth.find_soundfont()
    assert rendering.describe_renderer() == f"FluidSynth ({soundfont.resolve().stem})"
    assert rendering.available_renderers() == ["fluidsynth", "builtin"]


def test_midi2audio_plays_when_pyfluidsynth_cannot_load(without_pyfluidsynth, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "DATA_DIR", tmp_path / "data")
    if not shutil.which("fluidsynth") or rendering.choose_renderer().name != "fluidsynth":
        pytest.skip("the fluidsynth program or a General MIDI soundfont is not installed; `make test` installs them")
    assert rendering.choose_renderer().engine == "midi2audio"
    groove = only(real_window(SOUL), KICK)
    samples = rendering.render_array(groove, loops=2)
    assert len(samples) == expected_frames(groove, 2)
    reference = rendering.render_array(groove, loops=2, renderer="builtin")  # another engine, at a matched level
    level_db = 20 * np.log10(np.abs(samples).max() / np.abs(reference).max())
    assert abs(level_db) < 6, f"midi2audio plays {level_db:+.1f} dB from the built-in kit"
    times, velocities = played_notes(groove, loops=2)
    onsets = detect_onsets(samples, SR)
    assert max(np.abs(onsets - t).min() for t in times[velocities >= AUDIBLE_VELOCITY]) <= TOLERANCE
    assert list((tmp_path / "data" / "tmp").iterdir()) == []  # its scratch files lived under data/ and are gone


def test_one_synth_serves_many_threads(renderer):
    """The app shares the renderer between sessions: concurrent renders must not bleed into each other."""
    grooves = [only(real_window(SOUL), KICK), only(real_window(FUNK), SNARE), real_window(FUNK)]
    serial = [rendering.render_array(g, renderer=renderer) for g in grooves]
    results: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, rendering.render_array(grooves[i % 3], renderer=renderer))) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    for i, samples in results.items():
        assert np.array_equal(samples, serial[i % 3])
    if renderer == "fluidsynth":  # six overlapping renders of ~0.1 s each: both soundfont copies played, no more
        assert fluidsynth._engine.loaded == fluidsynth.ENGINES == 2


def test_closing_the_soundfont_refuses_waiting_renders_and_unloads_busy_copies():
    require_fluidsynth()
    pool = fluidsynth.EnginePool(fluidsynth.find_soundfont())
    notes, frames = rendering.note_frames(real_window(FUNK), 120.0, 1, SR), 2 * SR
    assert pool.render(notes, frames, SR).shape == (frames, 2)
    pool.close()
    with pytest.raises(AudioError, match="unloaded"):
        pool.render(notes, frames, SR)


# --- cache ---------------------------------------------------------------------------------------------------


def test_render_wav_renders_each_groove_once(monkeypatch):
    window = real_window(FUNK)
    monkeypatch.setattr(rendering, "CACHE", rendering.AudioCache())
    first = rendering.render_wav(window, renderer="builtin")
    assert rendering.render_wav(window, renderer="builtin") is first
    assert (rendering.CACHE.hits, rendering.CACHE.misses) == (1, 1)
    slower = rendering.render_wav(window, bpm=100, renderer="builtin")
    assert len(decode(slower)[0]) == expected_frames(window, 1, bpm=100)
    assert rendering.render_wav(window.with_bpm(100), renderer="builtin") is not slower  # another groove: tempo differs
    assert rendering.CACHE.misses == 3 and len(rendering.CACHE) == 3


def test_cache_forgets_the_least_recently_used_first():
    cache = rendering.AudioCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"
    cache.put("c", b"1234")
    assert cache.get("b") is None and cache.get("a") == b"1234" and cache.get("c") == b"1234"
    assert len(cache) == 2


# --- command line --------------------------------------------------------------------------------------------


def test_cli_renders_a_gmd_file(tmp_path, capsys):
    source = gmd_folder() / "drummer7/session2/60_soul-motown_148_fill_4-4.mid"
    out = tmp_path / "fill.wav"
    assert main(["render", str(source), "--out", str(out), "--bpm", "100", "--loops", "2",
                     "--renderer", "builtin"]) == 0
    samples, _ = decode(out.read_bytes())
    assert len(samples) == expected_frames(midi_to_performance(source).groove, 2, bpm=100)
    assert "built-in synth (selected)" in capsys.readouterr().out


def test_cli_explains_bad_input(tmp_path, capsys):
    assert main(["render", str(tmp_path / "none.mid"), "--out", str(tmp_path / "x.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err
    midi = tmp_path / "groove.mid"
    midi.write_bytes(groove_to_midi(real_window(FUNK)))
    assert main(["render", str(midi), "--out", str(tmp_path / "x.wav"), "--loops", "99"]) == 2
    assert "Loops must be a whole number" in capsys.readouterr().err
    assert main(["render", str(midi), "--out", str(tmp_path / "no" / "x.wav"), "--renderer", "builtin"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_a_musicians_file_sounds_its_own_pitches():
    """A side-stick (37) and a cowbell (56) sound as themselves, not as the snare their class writes (38); the cache
    tells the file from its model view."""
    from explorer.notes.record import NoteRecord
    groove = NoteRecord.from_midi(drum_machine_loop(), "loop.mid").groove()
    pitches = {pitch for *_, pitch in rendering.note_frames(groove, groove.bpm, 2, SR)}
    assert {37, 56, 53, 41} <= pitches
    assert {pitch for *_, pitch in rendering.note_frames(groove.model_view(), groove.bpm, 1, SR)} <= set(OUTPUT_PITCHES)
    assert len(rendering.note_frames(groove, groove.bpm, 2, SR)) == 2 * len(groove.notes.notes)
    assert groove.content_key() != groove.model_view().content_key()
    if fluidsynth.find_soundfont() is None:
        pytest.skip("FluidSynth's General MIDI soundfont is not installed (`apt-get install fluid-soundfont-gm`)")
    own, view = (rendering.render_array(g, renderer="fluidsynth") for g in (groove, groove.model_view()))
    assert own.shape == view.shape and np.abs(own - view).max() > 0.05


def spectrum_centroid(samples: np.ndarray) -> float:
    magnitude = np.abs(np.fft.rfft(samples.mean(axis=1)))
    return float((np.fft.rfftfreq(len(samples), 1 / SR) * magnitude).sum() / magnitude.sum())


def test_each_kit_sounds_its_own_drums_on_the_same_notes():
    """The same snare hits on the three kits: each a different sound (an 808 snare is a bright noise burst, brushes
    are soft), with the same onsets; the built-in synth has one kit; an unknown kit is refused in words."""
    require_fluidsynth()
    groove = only(real_window(FUNK), SNARE)
    renders = {kit: rendering.render_array(groove, kit=kit) for kit in fluidsynth.KITS}
    for one, other in itertools.combinations(fluidsynth.KITS, 2):
        assert not np.allclose(renders[one], renders[other], atol=1e-3), (one, other)
    centroids = {kit: spectrum_centroid(samples) for kit, samples in renders.items()}
    assert len({round(c, -1) for c in centroids.values()}) == 3, centroids
    times, velocities = played_notes(groove, loops=1)
    for samples in renders.values():
        onsets = detect_onsets(samples, SR)
        assert max(np.abs(onsets - t).min() for t in times[velocities >= AUDIBLE_VELOCITY]) <= TOLERANCE
    builtin = [rendering.render_array(groove, renderer="builtin", kit=kit) for kit in ("standard", "tr808")]
    np.testing.assert_array_equal(*builtin)
    with pytest.raises(AudioError, match="Unknown kit 'cowbells'"):
        rendering.render_array(groove, kit="cowbells")


def test_render_wav_keeps_each_kit_apart_in_its_cache(monkeypatch):
    require_fluidsynth()
    monkeypatch.setattr(rendering, "CACHE", rendering.AudioCache())
    window = only(real_window(SOUL), KICK)
    standard, brushes = (rendering.render_wav(window, kit=kit) for kit in ("standard", "brushes"))
    assert standard != brushes and rendering.CACHE.misses == 2
    assert rendering.render_wav(window, kit="brushes") is brushes
