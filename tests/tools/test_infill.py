"""Infill: the chosen drums are written new and every other note stays as it was (pitches, ticks, velocities, other
tracks); the decoder holds given cells; T = 0 repeats; bad drum choices and plain models are refused in words;
on real GMD windows the shipped multi-task model's hats beat the nearest-neighbour baseline's."""

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
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.record import NoteRecord
from explorer.tools.infill import DrumChoiceError, InfillOptions, drum_indices, infill
from tests.factories import TPB, played, shuffle, sketch

HAT = DRUM_CLASSES.index("closed hi-hat")


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    keras.utils.set_random_seed(5)
    return CompiledModel(MusicVAE(get_config("tiny_multitask_4bar")))


def test_every_note_of_the_other_drums_stays_as_it_was_and_new_hats_take_the_files_pitch(model):
    record = NoteRecord.from_midi(sketch(), "sketch.mid")
    hats_before = [n for n in record.notes if n.drum_class == HAT]
    assert {n.pitch for n in hats_before} == {44}  # a pedal hi-hat falls in the closed hi-hat class
    result = infill(model, record.groove(), ["closed hi-hat"], InfillOptions(temperature=1.0, seed=3))[0]
    after = result.notes
    assert after is not None and after.bars == record.bars
    assert played(after, lambda n: n.drum_class != HAT) == played(record, lambda n: n.drum_class != HAT)
    new_hats = [n for n in after.notes if n.drum_class == HAT]
    assert new_hats and {n.pitch for n in new_hats} == {44}
    assert int(result.hits[:, HAT].sum()) == len({after.step_of(n.tick) for n in new_hats})
    written = mido.MidiFile(file=io.BytesIO(after.to_midi()))
    assert [m.program for m in written.tracks[1] if m.type == "program_change"] == [4]  # the piano track is kept
    assert {sum(m.time for m in track) for track in written.tracks} == {record.bars * 4 * TPB}


def test_new_hats_in_a_shuffle_swing_as_its_own_did(model):
    """Hats written new on a beat's fourth 16th sit where the shuffle's swung eighths were, on average."""
    groove = NoteRecord.from_midi(shuffle(), "shuffle.mid").groove()
    swung = groove.offsets[3::4, HAT].max()
    result = infill(model, groove, ["closed hi-hat"], InfillOptions(temperature=0.3, seed=1))[0]
    fourth = (result.hits[:, HAT] > 0.5) & (np.arange(result.steps) % 4 == 3)
    assert fourth.sum() >= 3, fourth.sum()
    assert result.offsets[fourth, HAT].mean() == pytest.approx(swung, abs=0.02)


def test_the_kept_drums_of_a_model_view_are_exact_and_t0_repeats(model, eight_windows):
    groove = Groove.from_tensor(eight_windows[1], 110.0, "window")
    first, second = (infill(model, groove, ["kick", "ride"])[0] for _ in range(2))
    assert first.same_as(second)
    kept = [d for d in range(NUM_CLASSES) if d not in drum_indices(["kick", "ride"])]
    for block in range(3):
        columns = [block * NUM_CLASSES + d for d in kept]
        np.testing.assert_array_equal(first.tensor()[:, columns], groove.tensor()[:, columns])
    takes = infill(model, groove, ["kick"], InfillOptions(temperature=1.5, seed=1), takes=3)
    assert len({t.content_key() for t in takes}) > 1


def test_the_decoder_holds_the_given_cells_and_draws_the_others(model):
    rng = np.random.default_rng(0)
    given = rng.random((2, model.config.steps, NUM_CLASSES)) < 0.3
    cells = np.zeros_like(given)
    cells[..., :4] = True
    z = rng.standard_normal((2, model.config.z_size)).astype(np.float32)
    decoded = model.decode(z, 1.0, 7, given_hits=given, given_cells=cells)[..., :NUM_CLASSES] > 0.5
    np.testing.assert_array_equal(decoded[cells], given[cells])
    free = model.decode(z, 1.0, 7)[..., :NUM_CLASSES] > 0.5
    np.testing.assert_array_equal(decoded[..., 4:].any(), free[..., 4:].any())  # the others are drawn, not emptied


@pytest.mark.parametrize(("drums", "words"), [(["cowbell"], "Unknown drum 'cowbell'"), ([], "at least one"),
                                              (list(DRUM_CLASSES), "Keep at least one")])
def test_bad_drum_choices_are_refused_in_words(model, drums, words):
    with pytest.raises(DrumChoiceError, match=words):
        infill(model, Groove.from_tensor(np.zeros((64, 27), np.float32)), drums)


def test_a_plain_model_is_refused():
    plain = CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))
    with pytest.raises(CheckpointError, match="not trained for infilling"):
        infill(plain, Groove.from_tensor(np.zeros((64, 27), np.float32)), ["kick"])


def test_the_cli_infills_a_file_and_refuses_a_bad_one(model, tmp_path, capsys):
    from explorer.cli.main import main
    from explorer.model import checkpoints

    folder = str(checkpoints.save_checkpoint(model.vae.weights_dict(), model.config.to_dict(), tmp_path / "tiny",
                                             source="test").directory)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "sketch.mid").write_bytes(sketch(2))
    (tmp_path / "in" / "junk.mid").write_bytes(b"not midi")
    code = main(["infill", str(tmp_path / "in"), "--drums", "kick", "--out", str(tmp_path / "out"),
                 "--checkpoint", folder])
    assert code == 2 and "junk.mid" in capsys.readouterr().err
    before = NoteRecord.from_midi(sketch(2))
    after = NoteRecord.from_midi((tmp_path / "out" / "sketch.mid").read_bytes())
    assert played(after, lambda n: n.drum_class != 0) == played(before, lambda n: n.drum_class != 0)


def test_the_shipped_model_writes_hats_closer_to_the_drummers_than_the_nearest_windows_hats(groove_dir):
    """On 24 GMD test windows that have closed hats (one per performance), hats removed and written anew at T = 0:
    hat F1 against the drummer's own. Measured 0.70 here (0.745 on all 98 such windows, docs/CONTINUATION.md), the
    nearest training window's hats 0.57; the bound leaves room for other CPUs and retrained weights."""
    from bench.bench_continuation import nearest_hats
    from explorer.analysis.evaluate import reconstruction_metrics
    from explorer.datasets import gmd
    from explorer.model import checkpoints
    from explorer.model.checkpoints import DRUMIFY_CHECKPOINT

    test = gmd.load_windows("test")
    rows = [r for r in test.one_per_performance() if test.tensors[r][:, HAT].any()][:24]
    real = test.tensors[rows]
    without = real.copy()
    without[..., [HAT, NUM_CLASSES + HAT, 2 * NUM_CLASSES + HAT]] = 0.0
    shipped = checkpoints.load_model(DRUMIFY_CHECKPOINT)
    written = np.stack([infill(shipped, Groove.from_tensor(w), ["closed hi-hat"])[0].tensor() for w in without])
    f1 = reconstruction_metrics(real, written)["per_class"]["closed hi-hat"]["f1"]
    baseline = reconstruction_metrics(real, nearest_hats(gmd.load_windows("train").tensors, without))
    assert f1 >= 0.62 and f1 > baseline["per_class"]["closed hi-hat"]["f1"] + 0.05
