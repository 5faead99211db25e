"""Continue: the seed's bars are the song's first bars note for note; the song is exactly as long as asked and ends
on its bar line; fills land where asked, with a crash after them; variation 0 loops the seed; T = 0 repeats; bad
lengths and plain models are refused in words; with the shipped model on GMD seeds, the model's fill bars read as
fills."""

from __future__ import annotations

import io

import keras
import mido
import numpy as np
import pytest

from explorer.errors import CheckpointError
from explorer.model.config import get_config
from explorer.model.runtime import CompiledModel
from explorer.model.vae import MusicVAE
from explorer.notes.drums import NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR
from explorer.notes.groove import Groove
from explorer.notes.record import NoteRecord
from explorer.tools.continuation import (
    CLOSED_HAT,
    CRASH,
    KICK,
    ContinueOptions,
    FillBank,
    SongLengthError,
    continue_groove,
    fill_bars,
)
from tests.factories import TPB, played, shuffle, sketch

TOMS = (4, 5, 6)


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    keras.utils.set_random_seed(6)
    return CompiledModel(MusicVAE(get_config("tiny_multitask_4bar")))


def tom_fill(low: int) -> np.ndarray:
    """A bar of 16ths going down the toms from `low`."""
    bar = np.zeros((STEPS_PER_BAR, 3 * NUM_CLASSES), np.float32)
    for step in range(STEPS_PER_BAR):
        drum = TOMS[(low + step // 6) % 3]
        bar[step, drum], bar[step, NUM_CLASSES + drum] = 1.0, 0.6 + 0.02 * step
    return bar


@pytest.fixture(scope="module")
def bank(eight_windows) -> FillBank:
    """Two fills after two different beats."""
    beats = eight_windows[:2].copy()
    fills = beats.copy()
    for index in range(2):
        fills[index, -STEPS_PER_BAR:] = tom_fill(index)
    return FillBank(beats, fills)


def test_the_seeds_notes_come_first_and_the_song_ends_on_its_last_bar(model, bank):
    record = NoteRecord.from_midi(sketch(2), "sketch.mid")
    song = continue_groove(model, record.groove(), 8, ContinueOptions(seed=4), bank)
    assert song.steps == 8 * STEPS_PER_BAR and song.notes is not None and song.notes.bars == 8
    first = played(song.notes, lambda n: song.notes.step_of(n.tick) < 2 * STEPS_PER_BAR)
    assert first == played(record, lambda n: True)  # side-stick, ghost notes, cowbell, pedal hat: as they were
    assert len(song.notes.notes) > len(record.notes)
    written = mido.MidiFile(file=io.BytesIO(song.notes.to_midi()))
    assert {sum(m.time for m in track) for track in written.tracks} == {8 * 4 * TPB}
    assert [m.program for m in written.tracks[1] if m.type == "program_change"] == [4]


@pytest.mark.parametrize("fill_every", [2, 4, 8])
def test_fills_land_where_asked_with_a_crash_after_them(model, bank, eight_windows, fill_every):
    seed = Groove.from_tensor(eight_windows[3], 100.0, "seed")
    song = continue_groove(model, seed, 16, ContinueOptions(fill_every=fill_every, seed=1, fill_source="drummers"),
                           bank)
    fills = fill_bars(4, 16, fill_every)
    assert fills == [b for b in range(4, 16) if (b + 1) % fill_every == 0]
    bars = song.tensor().reshape(16, STEPS_PER_BAR, -1)
    bank_fills = [bank.fill_windows[i, -STEPS_PER_BAR:] for i in range(2)]
    for bar in range(4, 16):
        is_fill = any(np.array_equal(bars[bar], fill) for fill in bank_fills)
        assert is_fill == (bar in fills), bar
    for bar in (b + 1 for b in fills if b + 1 < 16):
        assert bars[bar, 0, CRASH] == 1 and bars[bar, 0, KICK] == 1 and bars[bar, 0, CLOSED_HAT] == 0


def test_variation_zero_without_fills_loops_the_seed_and_t0_repeats(model, bank, eight_windows):
    seed = Groove.from_tensor(eight_windows[2], 100.0, "seed")
    looped = continue_groove(model, seed, 12, ContinueOptions(variation=0.0, fill_every=0), bank)
    np.testing.assert_array_equal(looped.tensor(), np.tile(seed.tensor(), (3, 1)))
    cold = [continue_groove(model, seed, 8, ContinueOptions(temperature=0.0, seed=s), bank) for s in (1, 2)]
    assert cold[0].same_as(cold[1])
    warm = [continue_groove(model, seed, 8, ContinueOptions(temperature=1.5, seed=s, fill_every=0), bank)
            for s in (1, 2)]
    assert not warm[0].same_as(warm[1])
    np.testing.assert_array_equal(warm[0].tensor()[:64], seed.tensor())


def test_a_one_bar_seed_is_continued_from_what_there_is(model, bank):
    bar = np.zeros((STEPS_PER_BAR, 3 * NUM_CLASSES), np.float32)
    bar[::4, 0] = bar[4::8, 1] = 1.0
    bar[:, NUM_CLASSES:2 * NUM_CLASSES] = 0.7 * bar[:, :NUM_CLASSES]
    song = continue_groove(model, Groove.from_tensor(bar, 90.0, "one bar"), 5, ContinueOptions(fill_every=2), bank)
    assert song.steps == 5 * STEPS_PER_BAR and song.bpm == 90
    np.testing.assert_array_equal(song.tensor()[:STEPS_PER_BAR], bar)


@pytest.mark.parametrize("busy_seed", [False, True])
def test_a_drawn_bar_stays_about_as_busy_as_the_seed_or_is_the_nearest_of_its_draws(model, eight_windows,
                                                                                    monkeypatch, busy_seed):
    """Each bar the model draws (no fills here) plays within DENSITY_BAND of the seed's hits per bar, or is the one of
    DENSITY_DRAWS draws that comes nearest; draws stop at the first within the band. The untrained model plays
    busier than a GMD window (every draw is needed) and about as busy as a seed with half its cells hit."""
    from explorer.tools import continuation
    from explorer.tools.continuation import DENSITY_DRAWS
    if busy_seed:
        hits = (np.random.default_rng(0).random((4 * STEPS_PER_BAR, NUM_CLASSES)) < 0.5).astype(np.float32)
        seed = Groove(hits, hits * 0.7, np.zeros_like(hits), 100.0, "seed")
    else:
        seed = Groove.from_tensor(eight_windows[5], 100.0, "seed")
    busy = seed.hits.sum() / 4
    draws: list[int] = []
    decode = model.decode

    def counted(*args, **kwargs):
        out = decode(*args, **kwargs)
        draws.append(int(out[0, 3 * STEPS_PER_BAR:, :NUM_CLASSES].sum()))  # the drawn bar after 3 kept ones
        return out

    monkeypatch.setattr(model, "decode", counted)
    song = continue_groove(model, seed, 8, ContinueOptions(temperature=1.0, fill_every=0, seed=3))
    chosen = song.hits[4 * STEPS_PER_BAR:].reshape(4, STEPS_PER_BAR, -1).sum(axis=(1, 2))

    def off(count: int) -> float:
        return abs(count / busy - 1)

    drawn = 0
    for bar, count in enumerate(chosen):
        first_near = (i + 1 for i, c in enumerate(draws[:DENSITY_DRAWS]) if off(c) <= continuation.DENSITY_BAND)
        used = next(first_near, DENSITY_DRAWS)
        tries, draws = draws[:used], draws[used:]
        assert count == min(tries, key=off), (bar, tries, count)
        drawn += len(tries)
    assert not draws
    assert drawn < DENSITY_DRAWS * len(chosen) if busy_seed else drawn == DENSITY_DRAWS * len(chosen)


def test_a_shuffle_goes_on_as_a_shuffle(model):
    """The continued bars' hits on a beat's fourth 16th sit where the seed's swung eighths do, on average."""
    seed = NoteRecord.from_midi(shuffle(), "shuffle.mid").groove()
    song = continue_groove(model, seed, 8, ContinueOptions(temperature=0.3, seed=2))
    new = song.hits[4 * STEPS_PER_BAR:] > 0.5
    fourth = new & (np.arange(len(new)) % 4 == 3)[:, None]
    assert fourth.sum() >= 5, fourth.sum()
    assert song.offsets[4 * STEPS_PER_BAR:][fourth].mean() == pytest.approx(seed.offsets[3::4].max(), abs=0.02)


@pytest.mark.parametrize(("bars", "words"), [(4, "continue it to 5–64 bars, not 4"), (65, "not 65")])
def test_lengths_it_cannot_reach_are_refused_in_words(model, eight_windows, bars, words):
    with pytest.raises(SongLengthError, match=words):
        continue_groove(model, Groove.from_tensor(eight_windows[0]), bars)


def test_bad_options_and_plain_models_are_refused():
    for bad in ({"fill_every": 3}, {"variation": 1.5}, {"temperature": -1}, {"fill_source": "radio"}):
        with pytest.raises(ValueError):
            ContinueOptions(**bad)
    plain = CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))
    with pytest.raises(CheckpointError, match="not trained for continuing"):
        continue_groove(plain, Groove.from_tensor(np.zeros((64, 27), np.float32)), 8)


def test_the_cli_continues_a_file_from_its_own_notes(model, tmp_path, capsys):
    from explorer.cli.main import main
    from explorer.model import checkpoints

    folder = str(checkpoints.save_checkpoint(model.vae.weights_dict(), model.config.to_dict(), tmp_path / "tiny",
                                             source="test").directory)
    (tmp_path / "sketch.mid").write_bytes(sketch(4))
    assert main(["continue", str(tmp_path / "sketch.mid"), "--bars", "16", "--out", str(tmp_path / "song.mid"),
                 "--fill-every", "8", "--checkpoint", folder, "--temperature", "0"]) == 0
    assert "fills in bars 8, 16" in capsys.readouterr().out
    before, after = (NoteRecord.from_midi(p.read_bytes()) for p in (tmp_path / "sketch.mid", tmp_path / "song.mid"))
    written = mido.MidiFile(tmp_path / "song.mid")
    assert {sum(m.time for m in track) for track in written.tracks} == {16 * 4 * TPB}
    assert played(after, lambda n: after.step_of(n.tick) < 4 * STEPS_PER_BAR) == played(before, lambda n: True)
    assert main(["continue", str(tmp_path / "sketch.mid"), "--bars", "3", "--out", str(tmp_path / "x.mid"),
                 "--checkpoint", folder]) == 2
    assert "continue it to 5–64 bars" in capsys.readouterr().err


def test_the_shipped_models_fill_bars_read_as_fills(groove_dir):
    """Eight GMD test seeds continued to 12 bars with the model's own fills (bars 8 and 12): the beat/fill classifier
    fitted on GMD's training fills gives them a higher fill chance than the other new bars. Measured on 64
    performances (docs/CONTINUATION.md): 0.80 against 0.05."""
    from explorer.analysis.realism import bar_features, fill_classifier
    from explorer.datasets import gmd
    from explorer.model import checkpoints
    from explorer.model.checkpoints import DRUMIFY_CHECKPOINT
    from explorer.tools.continuation import gmd_fills

    fills = gmd_fills()
    classifier = fill_classifier(fills.beat_windows[:, -STEPS_PER_BAR:], fills.fill_windows[:, -STEPS_PER_BAR:])
    test = gmd.load_windows("test")
    seeds = test.grooves(test.one_per_performance()[:8])
    shipped = checkpoints.load_model(DRUMIFY_CHECKPOINT)
    options = ContinueOptions(fill_every=4)  # the model's fills, the default
    songs = np.stack([continue_groove(shipped, s, 12, options, fills).tensor() for s in seeds])
    chance = classifier.predict_proba(bar_features(songs.reshape(-1, STEPS_PER_BAR, songs.shape[-1])))[:, 1]
    chance = chance.reshape(len(seeds), 12)
    assert chance[:, [7, 11]].mean() > chance[:, [4, 5, 6, 8, 9, 10]].mean() + 0.3


def test_the_kits_balance_goes_on_and_the_drummers_fills_vary(model, bank, eight_windows):
    """Drawn bars keep the seed's mean velocity per drum (a loud kick stays loud); GMD's fills are drawn from the
    nearest few, so a long song does not repeat one fill."""
    seed = Groove.from_tensor(eight_windows[4], 100.0, "seed")
    song = continue_groove(model, seed, 12, ContinueOptions(fill_every=0, seed=2), bank).tensor()
    for drum in range(NUM_CLASSES):
        old, new = seed.hits[:, drum] > 0.5, song[64:, drum] > 0.5
        if old.any() and new.any():
            levels = song[64:, NUM_CLASSES + drum][new]
            if (levels < 1).all() and (levels > 1 / 127).all():  # none clipped
                assert levels.mean() == pytest.approx(seed.velocities[old, drum].mean(), abs=1e-4)
    options = ContinueOptions(fill_every=2, seed=3, fill_source="drummers")
    bars = continue_groove(model, seed, 32, options, bank).tensor().reshape(32, STEPS_PER_BAR, -1)
    used = {index for bar in range(5, 32, 2) for index in range(2)
            if np.array_equal(bars[bar], bank.fill_windows[index, -STEPS_PER_BAR:])}
    assert used == {0, 1}
