"""Training on your own MIDI folder: pitch maps for other kits, what a folder gives and skips, the errors for folders
and maps that cannot be used, and a fine-tune through train and export that records where its data came from."""

from __future__ import annotations

import io
import json

import mido
import numpy as np
import pytest

import explorer.files
from bench.programmed_beats import programmed_beats
from explorer.datasets.folder import TOO_SHORT, folder_windows
from explorer.errors import DatasetError
from explorer.notes.drum_map import DrumMapError, load_drum_map, parse_drum_map
from explorer.notes.drums import DRUM_CLASSES, OUTPUT_PITCHES, PITCH_TO_CLASS
from explorer.notes.midi_write import groove_to_midi

KICK = DRUM_CLASSES.index("kick")


def remapped(data: bytes, pitches: dict[int, int]) -> bytes:
    """The same file with its drum notes moved to other pitches (another kit's map)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    for track in midi.tracks:
        for index, message in enumerate(track):
            if message.type in ("note_on", "note_off"):
                track[index] = message.copy(note=pitches.get(message.note, message.note))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def own_data_dir(monkeypatch, tmp_path):
    """Each test's data/ (the folder caches) is its own: no test reads what another, or an earlier run, left there."""
    monkeypatch.setattr(explorer.files, "DATA_DIR", tmp_path / "data")


@pytest.fixture(scope="module")
def beats_folder(tmp_path_factory):
    """24 programmed beats in two sub-folders, and four files that give nothing: 3/4, no drums, garbage, 2 bars."""
    folder = tmp_path_factory.mktemp("my_beats")
    for index, groove in enumerate(programmed_beats()[:24]):
        sub = folder / ("verse" if index % 2 else "chorus")
        sub.mkdir(exist_ok=True)
        (sub / f"{groove.source}.mid").write_bytes(groove_to_midi(groove))
    waltz = mido.MidiFile()
    waltz.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4),
                                        mido.Message("note_on", channel=9, note=36, velocity=100),
                                        mido.Message("note_off", channel=9, note=36, time=120)]))
    waltz.save(folder / "waltz.mid")
    piano = mido.MidiFile()
    piano.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=60, velocity=100),
                                        mido.Message("note_off", channel=0, note=60, time=480)]))
    piano.save(folder / "piano.mid")
    (folder / "broken.MID").write_bytes(b"not midi at all")
    (folder / "short.mid").write_bytes(groove_to_midi(programmed_beats()[0].window(0, 2)))
    (folder / "notes.txt").write_text("not a MIDI file: ignored")
    return folder


def test_the_shipped_maps_load_and_roland_is_the_readers_own():
    assert load_drum_map("roland") == PITCH_TO_CLASS
    gm = load_drum_map("gm")
    assert gm[36] == KICK and gm[45] != PITCH_TO_CLASS[45]  # GM's low-mid tom is a tom of another height


@pytest.mark.parametrize(("data", "message"), [
    ({"36": "kick"}, "leaves snare"), ({"36": "cowbell"}, "not a drum class"), ({"200": "kick"}, "not a MIDI pitch"),
    ([36, 38], "JSON object"), ({}, "JSON object")])
def test_a_bad_map_is_refused_in_words(data, message):
    full = {str(p): DRUM_CLASSES[c] for p, c in PITCH_TO_CLASS.items()}
    if isinstance(data, dict) and data and "36" in data and data["36"] != "kick":
        data = {**full, **data}
    with pytest.raises(DrumMapError, match=message):
        parse_drum_map(data)


def test_a_map_file_that_is_missing_or_not_json_is_refused(tmp_path):
    with pytest.raises(DrumMapError, match="cannot be read"):
        load_drum_map(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{pitch: kick")
    with pytest.raises(DrumMapError, match="not valid JSON"):
        load_drum_map(tmp_path / "bad.json")


def test_a_folder_gives_its_windows_and_says_what_it_skipped_and_why(beats_folder):
    found = folder_windows(beats_folder, cache_dir=beats_folder.parent / "cache")
    assert len(set(found.files)) == 24 and len(found.tensors) == 24  # one 4-bar window per 4-bar beat
    assert dict(found.skipped) == {"waltz.mid": "meter (not 4/4)", "piano.mid": "no drums",
                                   "broken.MID": "unreadable", "short.mid": TOO_SHORT}
    table = found.skip_table()
    assert "28 MIDI files, 24 used" in table and "meter" in table and "too short" in table
    assert found.source["files"] == 28 and len(found.source["file_list_sha256"]) == 64
    held = found.held_out(0.25)
    assert held.sum() == 6 and len(held) == 24
    assert not set(np.array(found.files)[held]) & set(np.array(found.files)[~held])
    (beats_folder / "extra.mid").write_bytes(groove_to_midi(programmed_beats()[30]))
    try:  # another file list, another hash
        assert folder_windows(beats_folder, cache_dir=beats_folder.parent / "cache").source[
            "file_list_sha256"] != found.source["file_list_sha256"]
    finally:
        (beats_folder / "extra.mid").unlink()


def test_preparation_runs_on_every_core_and_resumes_from_its_cache(beats_folder, tmp_path):
    """Two worker processes give what one gives; every file gets a cache entry, complete or absent (written
    atomically), and a second run reads the entries instead of the files."""
    from explorer.files import write_npz

    cache = tmp_path / "cache"
    one = folder_windows(beats_folder, workers=1, cache_dir=tmp_path / "other", progress=False)
    two = folder_windows(beats_folder, workers=2, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(one.tensors, two.tensors)
    assert one.files == two.files and one.skipped == two.skipped
    entries = sorted(cache.rglob("*.npz"))
    assert len(entries) == 28 and not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".npz"]
    with_windows = next(p for p in entries if len(np.load(p)["windows"]))
    with np.load(with_windows) as entry:
        windows = entry["windows"]
    write_npz(with_windows, {"windows": windows + 1.0, "reason": np.array("")})
    again = folder_windows(beats_folder, workers=2, cache_dir=cache, progress=False)
    assert (again.tensors != two.tensors).any(axis=(1, 2)).sum() == len(windows)  # read from the cache, not the file
    entries[1].unlink()  # a preparation killed before this file: made again
    assert folder_windows(beats_folder, workers=1, cache_dir=cache, progress=False).skipped == two.skipped
    assert len(list(cache.rglob("*.npz"))) == 28


def test_another_kits_pitches_are_read_with_its_map(tmp_path):
    """A kit whose kick sits on pitch 24: without its map the kicks are lost, with it they are kicks."""
    moved = {OUTPUT_PITCHES[KICK]: 24}
    for groove in programmed_beats()[:3]:
        (tmp_path / f"{groove.source}.mid").write_bytes(remapped(groove_to_midi(groove), moved))
    default = folder_windows(tmp_path, cache_dir=tmp_path / "cache")
    assert not default.tensors[..., KICK].any()
    kit = {str(p): DRUM_CLASSES[c] for p, c in PITCH_TO_CLASS.items()} | {"24": "kick"}
    (tmp_path / "kit.json").write_text(json.dumps(kit))
    mapped = folder_windows(tmp_path, load_drum_map(tmp_path / "kit.json"), "kit.json", cache_dir=tmp_path / "cache")
    assert mapped.tensors[..., KICK].sum() == sum(g.hits[:, KICK].sum() for g in programmed_beats()[:3])
    assert mapped.source["drum_map"] == "kit.json"


def test_folders_that_give_nothing_are_refused_in_words(tmp_path, beats_folder):
    with pytest.raises(DatasetError, match="holds no MIDI files"):
        folder_windows(tmp_path)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    for name in ("waltz.mid", "piano.mid", "broken.MID"):
        (only_bad / name).write_bytes((beats_folder / name).read_bytes())
    with pytest.raises(DatasetError, match=r"None of the 3 MIDI files .* has a 4/4 drum part"):
        folder_windows(only_bad)
    with pytest.raises(DatasetError, match="not a folder"):
        folder_windows(tmp_path / "missing")


def test_a_fine_tune_on_a_folder_runs_through_train_and_export_and_records_its_data(beats_folder, tmp_path, capsys,
                                                                                    groove_dir):
    """A folder's fine-tune trains, exports and calibrates (these two measure on GMD's test windows: GMD must be
    here), and its checkpoint says where its data came from."""
    from explorer.cli.main import main
    from explorer.model import checkpoints
    from explorer.model.config import get_config
    from explorer.model.vae import MusicVAE

    tiny = MusicVAE(get_config("tiny_dist_4bar"))
    start = checkpoints.save_checkpoint(tiny.weights_dict(), tiny.config.to_dict(), tmp_path / "start",
                                        source="test").directory
    assert main(["train", "--midi-dir", str(beats_folder), "--init-from", str(start), "--config", "tiny_dist_4bar",
                 "--steps", "4", "--batch-size", "8", "--out", str(tmp_path / "run"), "--precision", "float32"]) == 0
    printed = capsys.readouterr().out
    assert "28 MIDI files, 24 used" in printed and "meter (not 4/4)" in printed
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "mine"), "--weights", "latest"]) == 0
    info = checkpoints.read_info(tmp_path / "mine")
    assert info.data["folder"] == beats_folder.name and info.data["files"] == 28 and info.data["drum_map"] == "roland"
    assert main(["calibrate", "--checkpoint", str(tmp_path / "mine"), "--limit", "64", "--components", "4"]) == 0
    calibrated = checkpoints.read_info(tmp_path / "mine")
    assert calibrated.prior and calibrated.data == info.data  # calibrated, and still says where its data came from
    assert [i.name for i in checkpoints.list_checkpoints(tmp_path)] == ["mine", "start"]  # as the sidebar lists them
    model = checkpoints.load_model(str(tmp_path / "mine"))
    assert model.decode(np.zeros((1, model.config.z_size), np.float32)).shape == (1, 64, 27)
    assert main(["train", "--midi-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "run2")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["train", "--midi-dir", str(beats_folder), "--drum-map", str(tmp_path / "none.json"),
                 "--init-from", str(start), "--config", "tiny_dist_4bar", "--out", str(tmp_path / "run3")]) == 2
    assert "drum map" in capsys.readouterr().err


def test_another_preset_trains_a_folder_from_scratch_and_a_start_that_cannot_fit_is_one_sentence(beats_folder, tmp_path,
                                                                                               capsys):
    """A preset other than the shipped checkpoint's starts from scratch (before, the shipped weights were forced into
    it and a ValueError's traceback ended the run), as `--init-from none` asks; a checkpoint that cannot start the
    preset is refused in one sentence, with the way out."""
    from explorer.cli.main import main
    from explorer.model.checkpoints import DEFAULT_CHECKPOINT

    common = ["--midi-dir", str(beats_folder), "--config", "tiny_4bar", "--steps", "2", "--batch-size", "8",
              "--precision", "float32"]
    for start, run in ([], "default"), (["--init-from", "none"], "none"):
        assert main(["train", *common, *start, "--out", str(tmp_path / run)]) == 0
        assert "from scratch" in capsys.readouterr().out or start
        training = json.loads((tmp_path / run / "config.json").read_text())["training"]
        assert training["init_from"] is None and training["config"] == "tiny_4bar"
    assert main(["train", *common, "--init-from", DEFAULT_CHECKPOINT, "--out", str(tmp_path / "wrong")]) == 2
    printed = capsys.readouterr().err  # the folder's progress bar, then the error
    error = printed.strip().splitlines()[-1]
    assert error.startswith(f"error: Checkpoint '{DEFAULT_CHECKPOINT}'") and "--init-from none" in error
    assert "Traceback" not in printed
    assert main(["train", *common[:2], "--config", "no_such_preset", "--out", str(tmp_path / "nope")]) == 2
    assert "There is no preset 'no_such_preset'" in capsys.readouterr().err
