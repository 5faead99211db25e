"""Humanize: the model plays a programmed beat's hits, never adding or dropping one, with the options a producer
expects. A tiny distribution-head model and real GMD windows; the shipped model's numbers are in
tests/model/test_checkpoints.py and docs/HUMANIZE.md."""

from __future__ import annotations

import itertools
from pathlib import Path

import keras
import numpy as np
import pytest

from explorer.model.config import get_config
from explorer.model.runtime import CompiledModel
from explorer.model.vae import MusicVAE
from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.join import chain
from explorer.tools.humanize import (
    HumanizeOptions,
    humanize,
    humanness_direction,
    jitter,
    quantize,
    quantize_at_levels,
    with_dynamics,
)
from tests.factories import TPB, drum_file, drum_machine_loop, read_back, shuffle, track_lengths


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    keras.utils.set_random_seed(5)
    return CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))


@pytest.fixture(scope="module")
def beat(test_windows) -> Groove:
    return quantize(test_windows.grooves(10)[0])


@pytest.mark.parametrize("bars", [1, 2, 4, 6, 16])
def test_the_hits_never_change_and_every_hit_is_played(model, test_windows, bars):
    long = chain(test_windows.grooves(list(range(0, 64, 4)))).window(0, bars)  # real playing, any length
    programmed = quantize(long)
    played = humanize(model, programmed, options=HumanizeOptions(temperature=1.0, seed=3))
    np.testing.assert_array_equal(played.hits, programmed.hits)
    hit = programmed.hits > 0.5
    assert played.steps == programmed.steps and played.bpm == programmed.bpm
    assert (played.velocities[hit] > 0).all() and not played.velocities[~hit].any() and not played.offsets[~hit].any()
    assert not np.allclose(played.velocities[hit], programmed.velocities[hit]), "the model played the dynamics"


def test_temperature_zero_is_deterministic_and_a_seed_repeats(model, beat):
    cold = [humanize(model, beat, options=HumanizeOptions(temperature=0.0, seed=s)) for s in (1, 2)]
    assert cold[0].same_as(cold[1])
    warm = [humanize(model, beat, options=HumanizeOptions(temperature=1.0, seed=s)) for s in (1, 1, 2)]
    assert warm[0].same_as(warm[1]) and not warm[0].same_as(warm[2])


def test_amount_zero_returns_the_beat_and_amount_mixes(model, beat):
    assert humanize(model, beat, options=HumanizeOptions(amount=0.0)) is beat
    full = humanize(model, beat, options=HumanizeOptions(temperature=0.0))
    half = humanize(model, beat, options=HumanizeOptions(temperature=0.0, amount=0.5))
    np.testing.assert_allclose(half.velocities, (beat.velocities + full.velocities) / 2, atol=1e-6)
    np.testing.assert_allclose(half.offsets, full.offsets / 2, atol=1e-6)


def test_timing_only_dynamics_only_and_untouched_drums(model, beat):
    options = dict(temperature=1.0, seed=4)
    timing_only = humanize(model, beat, options=HumanizeOptions(keep_velocities=True, **options))
    np.testing.assert_array_equal(timing_only.velocities, beat.velocities)
    assert timing_only.offsets.any()
    dynamics_only = humanize(model, beat, options=HumanizeOptions(keep_timing=True, **options))
    np.testing.assert_array_equal(dynamics_only.offsets, beat.offsets)
    kick = DRUM_CLASSES.index("kick")
    assert beat.hits[:, kick].any()
    sampled_kick = humanize(model, beat, options=HumanizeOptions(untouched=("kick",), **options))
    np.testing.assert_array_equal(sampled_kick.velocities[:, kick], beat.velocities[:, kick])
    np.testing.assert_array_equal(sampled_kick.offsets[:, kick], beat.offsets[:, kick])
    with pytest.raises(ValueError, match="unknown drum"):
        HumanizeOptions(untouched=("cowbell",))
    with pytest.raises(ValueError, match="amount"):
        HumanizeOptions(amount=1.5)


def test_each_drum_keeps_its_programmed_level_and_accents_with_the_drummers_dynamics_around_them():
    """Kick programmed 110 on the beat and 90 off it, snare at 60: the model (a hand-made answer) plays the kick
    near 60 and the snare near 90, each with some dynamics of its own. At the defaults each drum stays at its
    programmed mean, its accent stays, and the model's note-to-note dynamics shape it; with the drummer's levels each
    drum is at the model's mean, the programmed accent still kept."""
    kick, snare = DRUM_CLASSES.index("kick"), DRUM_CLASSES.index("snare")
    velocities = np.zeros((16, 9), np.float32)
    velocities[[0, 4, 8, 12], kick] = np.array([110, 90, 110, 90]) / 127
    velocities[[4, 12], snare] = 60 / 127
    beat = Groove((velocities > 0).astype(np.float32), velocities, np.zeros_like(velocities), 100.0)
    played = np.zeros_like(velocities)
    played[[0, 4, 8, 12], kick] = np.array([62, 58, 66, 54]) / 127
    played[[4, 12], snare] = np.array([95, 85]) / 127
    kept = with_dynamics(beat, played) * 127
    np.testing.assert_allclose(kept[[0, 4, 8, 12], kick], [110 + 2, 90 - 2, 110 + 6, 90 - 6], atol=1e-4)
    np.testing.assert_allclose(kept[[4, 12], snare], [65, 55], atol=1e-4)
    assert not kept[velocities == 0].any()
    drummer = with_dynamics(beat, played, drummer_levels=True) * 127
    np.testing.assert_allclose(drummer[[0, 4, 8, 12], kick], [60 + 10 + 2, 60 - 10 - 2, 60 + 10 + 6, 60 - 10 - 6],
                               atol=1e-4)
    np.testing.assert_allclose(drummer[[4, 12], snare], [95, 85], atol=1e-4)
    velocities[0, kick] = 125 / 127  # played louder than the top: the velocity is clipped, never past it
    loud = Groove(beat.hits, velocities, beat.offsets, 100.0)
    assert with_dynamics(loud, played * 2).max() == 1.0


def test_a_producers_programming_puts_each_drum_at_its_mean_on_the_grid(test_windows):
    real = test_windows.grooves(10)[0]
    programmed = quantize_at_levels(real)
    np.testing.assert_array_equal(programmed.hits, real.hits)
    assert not programmed.offsets.any()
    for drum in range(9):
        played = real.hits[:, drum] > 0.5
        if played.any():
            assert np.unique(programmed.velocities[played, drum]).size == 1
            assert programmed.velocities[played, drum][0] * 127 == pytest.approx(
                real.velocities[played, drum].mean() * 127, abs=0.5)


def test_a_feel_groove_and_the_humanness_direction_move_the_code(model, beat, test_windows):
    feel = test_windows.grooves(900)[0]
    own = humanize(model, beat, options=HumanizeOptions(temperature=0.0))
    borrowed = humanize(model, beat, feel=feel, options=HumanizeOptions(temperature=0.0))
    assert not own.same_as(borrowed)
    none_of_it = humanize(model, beat, feel=feel, options=HumanizeOptions(temperature=0.0, feel_weight=0.0))
    assert none_of_it.same_as(own)
    direction = humanness_direction(model, test_windows.tensors[:64])
    assert direction.shape == (model.config.z_size,) and np.abs(direction).sum() > 0
    moved = humanize(model, beat, options=HumanizeOptions(temperature=0.0), direction=direction)
    assert not moved.same_as(own)


def test_a_shuffle_stays_a_shuffle(model):
    """Its swung eighths (two thirds into a beat) are played around two thirds in, not moved to the 16th grid."""
    from explorer.notes.record import NoteRecord
    from explorer.tools.humanize import humanize_record
    record = NoteRecord.from_midi(shuffle(), "shuffle.mid")
    _, played = humanize_record(model, record, options=HumanizeOptions(temperature=1.0, seed=3))
    swung = [b.tick % TPB / TPB for a, b in zip(record.notes, played.notes, strict=True)
             if a.tick % TPB == 2 * TPB // 3]
    assert len(swung) == 20 and np.mean(swung) == pytest.approx(2 / 3, abs=0.01)
    assert np.std(swung) > 0.003  # each one played, not pinned


def test_the_naive_baseline_draws_the_spread_it_is_given(beat):
    jittered = jitter(beat, 0.55, 0.2, 0.1, 0.3, seed=1)
    hit = beat.hits > 0.5
    np.testing.assert_array_equal(jittered.hits, beat.hits)
    assert jittered.velocities[hit].mean() == pytest.approx(0.55, abs=0.05)
    assert jittered.offsets[hit].std() == pytest.approx(0.3, abs=0.06)


def _three_four(path) -> None:
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4)])
    for beat_number in range(12):
        track += [mido.Message("note_on", channel=9, note=36, velocity=100, time=0 if beat_number == 0 else 360),
                  mido.Message("note_off", channel=9, note=36, time=120)]
    midi.tracks.append(track)
    midi.save(path)


def test_the_cli_humanizes_a_file_and_a_folder_and_refuses_what_it_cannot_play(tmp_path, groove_dir, capsys):
    from explorer.cli.main import main
    from explorer.model import checkpoints
    from explorer.notes.midi_read import midi_to_performance

    keras.utils.set_random_seed(5)
    tiny = MusicVAE(get_config("tiny_dist_4bar"))
    folder = checkpoints.save_checkpoint(tiny.weights_dict(), tiny.config.to_dict(), tmp_path / "tiny",
                                         source="test").directory
    beats = tmp_path / "beats"
    beats.mkdir()
    source = groove_dir / "drummer1/session1/1_funk_80_beat_4-4.mid"
    (beats / "funk.mid").write_bytes(source.read_bytes())
    _three_four(beats / "waltz.mid")
    code = main(["humanize", str(beats), "--out", str(tmp_path / "played"), "--checkpoint", str(folder),
                 "--temperature", "1", "--seed", "2", "--untouched", "kick"])
    printed = capsys.readouterr()
    assert code == 2 and "waltz.mid" in printed.err and "4/4" in printed.err  # refused, in words
    played = midi_to_performance(tmp_path / "played" / "funk.mid").groove
    original = midi_to_performance(source).groove
    np.testing.assert_array_equal(played.hits, original.hits)
    assert played.bpm == pytest.approx(original.bpm, rel=1e-5) and not (tmp_path / "played" / "waltz.mid").exists()
    # every note of the performance, pedal hi-hat and rim shots too, comes back once with its own pitch
    assert sorted(p for *_, p, _ in read_back((tmp_path / "played" / "funk.mid").read_bytes())) == sorted(
        p for *_, p, _ in read_back(source.read_bytes()))
    one = tmp_path / "one.mid"
    assert main(["humanize", str(beats / "funk.mid"), "--out", str(one), "--checkpoint", str(folder),
                 "--temperature", "0"]) == 0
    assert midi_to_performance(one).groove.hits.sum() == original.hits.sum()
    drummers = tmp_path / "drummers.mid"
    assert main(["humanize", str(beats / "funk.mid"), "--out", str(drummers), "--checkpoint", str(folder),
                 "--temperature", "0", "--drummer-levels"]) == 0

    def levels(path: Path) -> np.ndarray:  # each pitch's mean velocity
        notes = read_back(path.read_bytes())
        return np.array([np.mean([v for *_, p, v in notes if p == pitch]) for pitch in sorted({n[3] for n in notes})])

    assert np.abs(levels(one) - levels(source)).max() < 3  # the defaults keep each drum's level
    assert np.abs(levels(drummers) - levels(source)).max() > 10  # the (untrained) drummer's own are elsewhere
    assert main(["humanize", str(tmp_path / "nothing.mid"), "--out", str(one)]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- a musician's file, note for note (explorer/notes/record.py) -----------------------------------------------


def _record_pairs(record, played):
    """Each input note beside its played self (a record keeps its notes' order)."""
    return list(zip(record.notes, played.notes, strict=True))


def _two_drum_tracks() -> bytes:
    """Kick and snare on one track, hats on another (a DAW's split kit), after a tempo track."""
    import io

    import mido

    tracks = [mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96)),
                              mido.MetaMessage("time_signature", numerator=4, denominator=4)])]
    for notes in ([(s * 120, 36 if s % 8 == 0 else 38, 100) for s in range(0, 64, 4)],
                  [(s * 120, 42, 80 + 30 * (s % 4 == 0)) for s in range(0, 64, 2)]):
        track, previous = mido.MidiTrack(), 0
        for tick, pitch, velocity in notes:
            track.append(mido.Message("note_on", channel=9, note=pitch, velocity=velocity, time=tick - previous))
            track.append(mido.Message("note_off", channel=9, note=pitch, time=60))
            previous = tick + 60
        tracks.append(track)
    buffer = io.BytesIO()
    mido.MidiFile(type=1, ticks_per_beat=480, tracks=tracks).save(file=buffer)
    return buffer.getvalue()


def _triplet_swing() -> bytes:
    return drum_file([(beat * 480 + offbeat, pitch, 100 if offbeat == 0 else 70) for beat in range(8)
                      for offbeat in (0, 320) for pitch in (42,)] + [(beat * 480, 36, 110) for beat in range(0, 8, 2)])


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("file", ["drum machine loop", "two drum tracks", "triplet swing"])
def test_a_drum_machine_file_comes_back_note_for_note(model, temperature, file):
    """Side-stick, cowbell, clap, GM toms, ride bell, flams and ghosts; a kit split over two tracks; swing written
    as triplets: every note keeps its pitch, channel and track; only ticks and velocities move, within the rules;
    the file ends on its last bar line."""
    from explorer.notes.record import NoteRecord
    from explorer.tools.humanize import (
        AUDIBLE_VELOCITY,
        KEPT_SHARE,
        LOUD_VELOCITY,
        MAX_SHIFT,
        MIN_GAP_SECONDS,
        humanize_record,
    )
    data = {"drum machine loop": drum_machine_loop, "two drum tracks": _two_drum_tracks,
            "triplet swing": _triplet_swing}[file]()
    record = NoteRecord.from_midi(data, "loop.mid")
    _, played = humanize_record(model, record, options=HumanizeOptions(temperature=temperature, seed=5))
    written = played.to_midi()
    before, after = read_back(data), read_back(written)
    assert len(after) == len(before)
    by_step = sorted((round(t / record.step_ticks), track, channel, pitch) for track, t, channel, pitch, _ in before)
    again = NoteRecord.from_midi(written, "played.mid")
    assert sorted((again.step_of(n.tick), n.track, n.channel, n.pitch) for n in again.notes) == by_step
    assert track_lengths(written) == [record.end_tick()] * len(track_lengths(data))
    pairs = _record_pairs(record, played)
    if temperature > 0:  # (an untrained model's medians are flat: on the grid, one velocity a drum around its level)
        assert any(a.velocity != b.velocity for a, b in pairs)
        assert any(a.tick != b.tick for a, b in pairs)
    step = record.step_ticks
    for original, moved in pairs:
        assert (original.pitch, original.channel, original.track) == (moved.pitch, moved.channel, moved.track)
        grid = record.step_of(original.tick) * step
        assert abs(moved.tick - grid) < step / 2  # never past the neighbouring 16th, nor off its own
        assert abs(moved.tick - original.tick) <= MAX_SHIFT / 2 * step + 1  # a feel, not another rhythm
        if original.velocity >= LOUD_VELOCITY:
            assert moved.velocity >= AUDIBLE_VELOCITY
        assert moved.velocity >= original.velocity * KEPT_SHARE - 0.5
    min_gap = MIN_GAP_SECONDS * record.bpm / 60 * record.ticks_per_beat
    for drum_class in {n.drum_class for n in record.notes}:
        notes = sorted((a.tick, b.tick) for a, b in pairs if a.drum_class == drum_class)
        for (first, first_now), (second, second_now) in itertools.pairwise(notes):
            assert second_now - first_now >= min(second - first, min_gap) - 1e-9, "a new flam"
    # the flam's grace note still comes before its side-stick, as close as it was
    flams = [(a, b) for a, b in pairs if a.pitch in (37, 38) and a.velocity in (120, 45)]
    for (grace, grace_now), (main, main_now) in zip(flams[1::2], flams[::2], strict=True):
        assert main_now.tick - grace_now.tick == main.tick - grace.tick


def test_the_shipped_model_keeps_a_beats_accents(test_windows):
    """Hats programmed 110 on the beat and 60 between stay louder on the beat, each drum on average; a quantized
    GMD window (one velocity) is played with the model's own dynamics."""
    from explorer.model import checkpoints
    from explorer.notes.record import NoteRecord
    from explorer.tools.humanize import humanize_record
    shipped = checkpoints.load_model()
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    for seed in range(3):
        _, played = humanize_record(shipped, record, options=HumanizeOptions(temperature=0.5, seed=seed))
        for pitch in (42, 36):
            notes = [(a.velocity, b.velocity) for a, b in zip(record.notes, played.notes, strict=True)
                     if a.pitch == pitch]
            loud = np.mean([now for programmed, now in notes if programmed == max(notes)[0]])
            soft = np.mean([now for programmed, now in notes if programmed == min(notes)[0]])
            assert loud > soft + 10, (pitch, loud, soft)


def test_the_shipped_model_keeps_each_drums_programmed_level_unless_asked_for_the_drummers():
    """A rock beat programmed at velocity 110 throughout (kick, snare, hats) keeps each drum's level at the defaults
    (the drummer's levels played its kick near 59), with dynamics around it; the drummer's levels bring the kick
    down below the snare."""
    from explorer.analysis.realism import levels_kept
    from explorer.model import checkpoints
    shipped = checkpoints.load_model()
    kick, snare, hat = (DRUM_CLASSES.index(d) for d in ("kick", "snare", "closed hi-hat"))
    hits = np.zeros((64, 9), np.float32)
    hits[::8, kick], hits[4::8, snare], hits[::2, hat] = 1.0, 1.0, 1.0
    rock = Groove(hits, hits * 110 / 127, np.zeros_like(hits), 110.0)
    for seed in range(3):
        played = humanize(shipped, rock, options=HumanizeOptions(seed=seed))
        assert levels_kept(rock.tensor()[None], played.tensor()[None]) == (3, 3)
        assert played.velocities[:, hat][hits[:, hat] > 0].std() * 127 > 3  # the drummer's dynamics, not a flat 110
        drummer = humanize(shipped, rock, options=HumanizeOptions(seed=seed, drummer_levels=True))
        levels = [drummer.velocities[hits[:, d] > 0, d].mean() * 127 for d in (kick, snare)]
        assert levels[0] < 0.8 * 110 and levels[0] < levels[1] - 10, levels


def test_a_seeds_feel_moves_a_files_timing_towards_it(groove_dir):
    """The drum-machine loop played in a pushed drummer's feel comes earlier than in a laid-back one's (the two
    test performances of docs/HUMANIZE.md's feel table), within the rules the note-for-note test checks."""
    from explorer.model import checkpoints
    from explorer.notes.midi_read import midi_to_grooves
    from explorer.notes.record import NoteRecord
    from explorer.tools.humanize import humanize_record
    shipped = checkpoints.load_model()
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    early = {}
    for name, file in (("laid-back", "drummer1/session1/212_rock-halftime_140_fill_4-4.mid"),
                       ("pushed", "drummer1/eval_session/7_pop-groove7_138_beat_4-4.mid")):
        feel = midi_to_grooves(groove_dir / file)[0]
        _, played = humanize_record(shipped, record, feel, HumanizeOptions(temperature=0.5, seed=1))
        early[name] = np.mean([a.tick - b.tick for a, b in zip(record.notes, played.notes, strict=True)])
    assert early["pushed"] > early["laid-back"] + 10, early  # measured: +15.9 vs -12.1 ticks (480 a quarter)
