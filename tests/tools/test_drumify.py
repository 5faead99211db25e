"""Drumify: taps on any pitch and channel are read as a rhythm; the groove's hits land on the taps when strict;
T = 0 repeats; bad files get the readers' typed errors; a model not trained on taps is refused in words."""

from __future__ import annotations

import io

import keras
import mido
import numpy as np
import pytest

from explorer.errors import CheckpointError, MidiError, NoDrumsError, UnsupportedMeterError
from explorer.model.conditions import TAP_CLASS
from explorer.model.config import get_config
from explorer.model.runtime import CompiledModel
from explorer.model.vae import MusicVAE
from explorer.notes.drums import NUM_CLASSES
from explorer.tools.drumify import DrumifyOptions, drumify, taps_from_midi, taps_of

TPB = 480


def tap_file(taps, channel: int = 0, pitch: int = 60, bars: int = 2, meter=(4, 4)) -> bytes:
    """Taps on a piano key (or any pitch and channel): (tick, velocity)."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
                            mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1])])
    previous = 0
    for tick, velocity in taps:
        track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=velocity, time=tick - previous))
        track.append(mido.Message("note_off", channel=channel, note=pitch, time=30))
        previous = tick + 30
    track.append(mido.MetaMessage("end_of_track", time=max(bars * 4 * TPB - previous, 0)))
    buffer = io.BytesIO()
    mido.MidiFile(ticks_per_beat=TPB, tracks=[track]).save(file=buffer)
    return buffer.getvalue()


RHYTHM = [(step * 120 + jitter, 60 + 40 * (step % 4 == 0)) for step, jitter in
          zip((0, 3, 4, 6, 8, 10, 11, 12, 16, 19, 20, 22, 24, 26, 28, 30), (0, 10, -5, 0, 0, 20, 0, -10) * 2,
              strict=True)]


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    keras.utils.set_random_seed(3)
    return CompiledModel(MusicVAE(get_config("tiny_multitask_4bar")))


@pytest.mark.parametrize(("channel", "pitch"), [(0, 60), (9, 39), (3, 100)])
def test_taps_on_any_pitch_and_channel_are_read_on_the_grid(channel, pitch):
    taps = taps_from_midi(tap_file(RHYTHM, channel, pitch), "claps.mid")
    assert taps.bars == 2 and taps.bpm == 90 and taps.source == "claps"
    steps = np.nonzero(taps.hits[:, TAP_CLASS])[0].tolist()
    assert steps == [step for step, _ in zip((0, 3, 4, 6, 8, 10, 11, 12, 16, 19, 20, 22, 24, 26, 28, 30), RHYTHM,
                                             strict=True)]
    assert taps.offsets[3, TAP_CLASS] == pytest.approx(-2 * 10 / 120)  # 10 ticks late
    assert taps.velocities[0, TAP_CLASS] == pytest.approx(100 / 127)


@pytest.mark.parametrize(("data", "error"), [
    (b"not a midi file", MidiError), (tap_file(RHYTHM)[:50], MidiError),
    (tap_file(RHYTHM, meter=(3, 4)), UnsupportedMeterError), (tap_file([]), NoDrumsError)])
def test_bad_tap_files_get_typed_errors(data, error):
    with pytest.raises(error):
        taps_from_midi(data, "bad.mid")


def test_a_tap_file_longer_than_sixteen_bars_is_refused_in_words():
    with pytest.raises(MidiError, match="up to 16"):
        taps_from_midi(tap_file([(bar * 4 * TPB, 90) for bar in range(20)], bars=20), "long.mid")


@pytest.mark.parametrize("bars", [1, 2, 4, 6, 16])
def test_strictly_on_the_taps_every_tap_is_played_and_nothing_else_and_t0_repeats(model, bars):
    taps = taps_from_midi(tap_file([(t + bar * 16 * 120, v) for bar in range(0, bars, 2) for t, v in RHYTHM],
                                   bars=bars), "taps.mid")
    taps = taps.window(0, bars) if taps.bars > bars else taps
    played = drumify(model, taps, options=DrumifyOptions(temperature=1.0, seed=4, strict=True), takes=3)
    tap_steps = taps.hits.max(axis=1) > 0.5
    for groove in played:
        assert groove.steps == taps.steps and groove.bpm == taps.bpm
        assert not groove.hits[~tap_steps].any(), "a hit off the taps"
        assert groove.hits[tap_steps].any(axis=1).all(), "a tap left silent"
    assert not played[0].same_as(played[1])  # several takes
    cold = [drumify(model, taps, options=DrumifyOptions(temperature=0.0, seed=s))[0] for s in (1, 2)]
    assert cold[0].same_as(cold[1])


def test_hits_on_a_tap_play_at_the_taps_time_and_free_mode_may_add_between(model):
    taps = taps_from_midi(tap_file(RHYTHM), "taps.mid")
    played = drumify(model, taps, options=DrumifyOptions(temperature=1.5, seed=1))[0]
    on = played.hits > 0.5
    np.testing.assert_allclose(played.offsets[on], np.broadcast_to(taps.offsets[:, TAP_CLASS, None], on.shape)[on],
                               atol=1e-6)
    free = [drumify(model, taps, options=DrumifyOptions(temperature=1.5, seed=s, strict=False))[0] for s in range(4)]
    tap_steps = taps.hits.max(axis=1) > 0.5
    assert any(g.hits[~tap_steps].any() for g in free)


def test_a_groove_is_drumified_from_its_own_rhythm_and_a_plain_model_is_refused(model, eight_windows):
    from explorer.notes.groove import Groove

    groove = Groove.from_tensor(eight_windows[0], 100.0, "funk")
    taps = taps_of(groove)
    assert taps.hits[:, TAP_CLASS].sum() == (groove.hits.max(axis=1) > 0.5).sum()
    assert taps.hits.sum() == taps.hits[:, TAP_CLASS].sum() and taps.hits.shape[1] == NUM_CLASSES
    plain = CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))
    with pytest.raises(CheckpointError, match="not trained for Drumify"):
        drumify(plain, taps)


def test_the_cli_drumifies_a_file_and_a_folder_and_refuses_what_it_cannot_read(model, tmp_path, capsys):
    from explorer.cli.main import main
    from explorer.model import checkpoints
    from explorer.notes.midi_read import midi_to_performance

    folder = str(checkpoints.save_checkpoint(model.vae.weights_dict(), model.config.to_dict(), tmp_path / "tiny",
                                             source="test").directory)
    taps = tmp_path / "taps"
    taps.mkdir()
    (taps / "piano.mid").write_bytes(tap_file(RHYTHM, channel=0, pitch=60))
    (taps / "waltz.mid").write_bytes(tap_file(RHYTHM, meter=(3, 4)))
    code = main(["drumify", str(taps), "--out", str(tmp_path / "out"), "--checkpoint", folder, "--seed", "2"])
    assert code == 2 and "waltz.mid" in capsys.readouterr().err
    groove = midi_to_performance(tmp_path / "out" / "piano.mid").groove
    tapped = taps_from_midi((taps / "piano.mid").read_bytes()).hits.max(axis=1) > 0.5
    assert groove.hits.any() and not groove.hits[~tapped].any() and groove.bpm == 90
    assert main(["drumify", str(taps / "piano.mid"), "--out", str(tmp_path / "one.mid"), "--checkpoint", folder,
                 "--temperature", "0", "--free"]) == 0
    assert main(["drumify", str(taps / "piano.mid"), "--out", str(tmp_path / "x.mid"),
                 "--checkpoint", str(tmp_path / "none")]) == 2
    assert main(["drumify", str(tmp_path / "missing.mid"), "--out", str(tmp_path / "x.mid")]) == 2
