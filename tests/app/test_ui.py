"""The widgets' plain helpers (explorer/app/ui.py): map subsets and selections, uploads, chaining, ZIP export."""

from __future__ import annotations

import dataclasses
import io
import wave
import xml.etree.ElementTree as ET
import zipfile

import mido
import numpy as np
import pandas as pd
import pytest

from explorer.app import map_selection, naming, plots, state, ui
from explorer.audio import rendering
from explorer.datasets import gmd
from explorer.errors import InvalidMidiError, MidiError, NoDrumsError
from explorer.files import PROJECT_DIR
from explorer.notes.groove import Groove
from explorer.notes.join import chain
from explorer.notes.midi_read import midi_to_grooves, midi_to_performance
from explorer.notes.midi_write import groove_notes, groove_to_midi
from explorer.tools import generate
from tests.factories import STEP, A, B, drum_file, drum_machine_loop, make_groove, read_back

SVG = "{http://www.w3.org/2000/svg}"
ROCK_FILE = "drummer3/session1/10_rock_105_beat_4-4.mid"  # 4 windows at hop 1


@pytest.fixture(scope="module")
def window_set(groove_dir) -> gmd.WindowSet:
    return gmd.load_windows(root=groove_dir)


def test_map_subsets(window_set):
    meta = window_set.meta
    one = map_selection.map_subset(meta, "one")
    assert len(one) == meta["midi_filename"].nunique()
    assert meta.iloc[one]["midi_filename"].is_unique
    every4 = map_selection.map_subset(meta, "every4")
    assert (meta.iloc[every4]["start_bar"] % 4 == 0).all()
    assert len(map_selection.map_subset(meta, "all")) == len(meta)
    rock = map_selection.map_subset(meta, "all", [ROCK_FILE])
    assert list(meta.iloc[rock]["start_bar"]) == [0, 1, 2, 3]
    assert list(map_selection.map_subset(meta, "one", [ROCK_FILE])) == [rock[2]]  # the middle window
    assert len(map_selection.map_subset(meta, "one", [])) == 0
    with pytest.raises(ValueError, match="mode"):
        map_selection.map_subset(meta, "some")


def test_selected_rows_reads_scalar_and_list_customdata_and_skips_overlays():
    points = [{"customdata": 7, "x": 0}, {"customdata": [3]}, {"customdata": 7}, {"x": 1, "curve_number": 20}]
    assert map_selection.selected_rows(points) == [3, 7]
    assert map_selection.selected_rows([]) == []


def test_rows_key_is_stable_and_tells_sets_apart():
    assert map_selection.rows_key(np.array([1, 2, 3])) == map_selection.rows_key([1, 2, 3])
    assert map_selection.rows_key([1, 2, 3]) != map_selection.rows_key([1, 2, 4])


def test_upload_windows_reads_a_real_file_and_refuses_bad_ones(groove_dir):
    data = (groove_dir / ROCK_FILE).read_bytes()
    found = ui.upload_windows(data, "my groove.mid")
    expected = midi_to_grooves(data, "my groove.mid")
    assert len(found) == len(expected) == 4
    assert all(f.groove.same_as(e) for f, e in zip(found, expected, strict=True))
    assert found[1].label == f"my groove · {expected[1].bpm:.0f} bpm · bars 2–5"  # names its tempo
    with pytest.raises(InvalidMidiError):
        ui.upload_windows(b"not a midi file", "junk.mid")
    piano = mido.MidiFile()
    piano.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, channel=0),
                                        mido.Message("note_off", note=60, time=480, channel=0)]))
    buffer = io.BytesIO()
    piano.save(file=buffer)
    with pytest.raises(NoDrumsError):
        ui.upload_windows(buffer.getvalue(), "piano.mid")


def test_an_uploaded_window_keeps_the_files_own_notes_as_played():
    """A 6-bar drum-machine loop with side-stick, cowbell, ride bell and ghost snares: the window chosen for the
    basket carries the file's notes of its bars, so the seed as played writes every one of them on its own pitch
    (the model's view alone would write the side-stick and the cowbell as snares, the bell as the ride)."""
    notes = []
    for bar in range(6):
        base = bar * 16 * STEP
        notes += [(base, 36, 110), (base + 8 * STEP, 36, 96), (base, 53, 90)]
        notes += [(base + s * STEP, 37, 118) for s in (4, 12)] + [(base + 7 * STEP, 38, 25)]
        notes += [(base + s * STEP, 56, 70 + bar) for s in range(0, 16, 2)]
    data = drum_file(notes, bars=6)
    seeds = ui.upload_windows(data, "cowbell loop.mid")
    chosen = ui.upload_as_played(seeds[2], data, "cowbell loop.mid")  # bars 3-6
    assert chosen.label == seeds[2].label and chosen.groove.same_as(seeds[2].groove)
    played = read_back(groove_to_midi(chosen.groove))
    expected = sorted((pitch, velocity) for tick, pitch, velocity in notes if 2 * 16 * STEP <= tick < 6 * 16 * STEP)
    assert sorted((pitch, velocity) for *_, pitch, velocity in played) == expected
    assert {37, 53, 56} <= {pitch for *_, pitch, _ in played}
    view = {pitch for *_, pitch, _ in read_back(groove_to_midi(seeds[2].groove))}
    assert not {37, 53, 56} & view  # what the basket kept before
    short = ui.upload_windows(drum_file(notes[:11], bars=1), "one bar.mid")[0]  # repeated to fill 4 bars
    assert ui.upload_as_played(short, drum_file(notes[:11], bars=1), "one bar.mid") is short


def test_the_groove_page_takes_a_whole_beat_of_1_to_16_bars():
    two_bars = make_groove([(0, 0, 1.0, 0.0), (20, 1, 0.7, 0.0)], bpm=96).window(0, bars=2)
    beat = ui.upload_beat(groove_to_midi(two_bars), "my beat.mid")
    assert beat.steps == 32 and beat.source == "my beat · 96 bpm · 2 bars"
    with pytest.raises(MidiError, match="up to 16"):
        ui.upload_beat(_long_beat(), "long.mid")
    with pytest.raises(InvalidMidiError):
        ui.upload_beat(b"garbage", "junk.mid")


def _long_beat() -> bytes:
    return groove_to_midi(chain([A] * 5))  # 20 bars


def test_a_short_loop_says_it_is_repeated_to_fill_four_bars(window_set):
    two_bars = make_groove([(0, 0, 1.0, 0.0), (20, 1, 0.7, 0.0)], bpm=96).window(0, bars=2)
    [seed] = ui.upload_windows(groove_to_midi(two_bars), "072_Funk6.mid")
    assert seed.label == "072_Funk6 · 96 bpm · 2 bars, repeated to fill 4 bars"
    assert seed.groove.steps == 64 and seed.groove.hits[32:].tolist() == seed.groove.hits[:32].tolist()
    # GMD's short fills, in the dataset's own labels
    meta = window_set.meta
    short = meta[meta["duration"] * meta["bpm"] / 240 < 3].iloc[0]
    assert "repeated to fill 4" in state.window_label(short)
    assert "bars 1-4" in state.window_label(meta[meta["duration"] * meta["bpm"] / 240 > 8].iloc[0])


def test_chain_plays_grooves_back_to_back_each_at_its_own_tempo():
    """A path from a 100 bpm seed to a 140 bpm one glides: each part keeps its tempo, in the audio, the MIDI file and
    the windows alike (a whole path played at the first seed's tempo put the far end at the wrong speed)."""
    chained = chain([A, B], "path")
    assert chained.steps == 128 and chained.bpm == 100.0 and chained.tempo_changes == ((64, 140.0),)
    assert chained.window(0).same_as(A) and chained.window(4).same_as(B)
    assert chained.seconds == pytest.approx(A.seconds + B.seconds)
    np.testing.assert_array_equal(chained.hits[64:], B.hits)
    read = mido.MidiFile(file=io.BytesIO(groove_to_midi(chained)))
    tempos = [(sum(m.time for m in read.tracks[0][:i + 1]), mido.tempo2bpm(m.tempo))
              for i, m in enumerate(read.tracks[0]) if m.type == "set_tempo"]
    assert [(tick, round(bpm, 3)) for tick, bpm in tempos] == [(0, 100.0), (64 * 120, 140.0)]
    now, played = 0.0, []
    for message in read:  # mido turns ticks into seconds through the file's tempo changes
        now += message.time
        if message.type == "note_on":
            played.append(now)
    assert played == pytest.approx([start for start, _, _ in groove_notes(chained)], abs=1e-3)
    assert played[2] == pytest.approx(A.seconds)  # B's first kick, on its downbeat after A's 9.6 s
    heard = rendering.render_array(chained, renderer="builtin", loop=True)
    assert len(heard) == round(chained.seconds * rendering.SAMPLE_RATE)
    # fixed tempo: all of it at one tempo
    assert chained.played_at(120.0).tempo_changes == () and chained.played_at(100.0) is chained
    assert chain([A, A]).tempo_changes == (), "no change where the tempo stays"


def test_file_stem_keeps_only_safe_characters():
    assert naming.file_stem("rock · drummer1 · 65 bpm / bars 1-4") == "rock_drummer1_65_bpm_bars_1-4"
    assert naming.file_stem("../../etc/passwd") == "etc_passwd"
    assert naming.file_stem("···") == "groove"
    cut = naming.file_stem("x" * 77 + " 16.00")  # cut at 80 characters, on the number's '.'
    assert cut == "x" * 77 + "_16" and not cut.endswith(".")


def test_export_zip_holds_midi_and_wav_of_every_groove():
    data = ui.export_zip([("first", A), ("first", B)], bpm=None, renderer="builtin")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        assert names == ["first.mid", "first.wav", "first_2.mid", "first_2.wav"]
        back = midi_to_performance(archive.read("first_2.mid"), "b").groove
        assert back.bpm == pytest.approx(140.0, rel=1e-5)  # MIDI stores whole microseconds per beat
        np.testing.assert_array_equal(back.hits, B.hits[:back.steps])  # MIDI ends with the last hit's bar
        assert B.hits[back.steps:].sum() == 0
        with wave.open(io.BytesIO(archive.read("first.wav"))) as wav:
            seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx(A.seconds + 1.5, abs=0.01)  # one pass plus the render's tail


def test_export_zip_writes_at_the_chosen_tempo_and_reports_progress():
    heard = []
    data = ui.export_zip([("a", A), ("b", B)], bpm=90.0, render=lambda groove, bpm, renderer, kit: b"RIFF",
                         progress=lambda done, total: heard.append((done, total)))
    assert heard == [(1, 2), (2, 2)]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # each name says the tempo it is written at, not its own
        assert midi_to_performance(archive.read("a_at_90_bpm.mid"), "a").groove.bpm == pytest.approx(90.0, rel=1e-5)
        assert archive.read("a_at_90_bpm.wav") == b"RIFF"
    assert naming.played_stem("x · 100 bpm", A, 100.0) == naming.played_stem("x · 100 bpm", A, None) == "x_100_bpm"


class LinearModel:
    """A stand-in with the CompiledModel interface whose decoder shows the z it got (z[0] hits on the kick lane)."""

    class config:  # mirrors CompiledModel.config
        steps = 64
        z_size = 4

    def encode(self, tensors):
        mu = np.zeros((len(tensors), 4), np.float32)
        mu[:, 0] = tensors[:, :, 0].sum(axis=1)  # kick hits
        return mu, np.ones_like(mu)

    def decode(self, z, temperature=0.0, seed=0, given_hits=None, given_cells=None, allowed=None):
        out = np.zeros((len(z), 64, 27), np.float32)
        for i, row in enumerate(z):
            hits = round(float(row[0]))
            out[i, :hits, 0] = 1.0
        if allowed is not None:
            out[..., :9] *= allowed
        if given_hits is not None:  # as the real decoder: the given hits (in the given cells), the model's dynamics
            cells = np.ones(out[..., :9].shape, bool) if given_cells is None else given_cells
            out[..., :9] = np.where(cells, given_hits, out[..., :9])
        out[..., 9:18] = out[..., :9] * 0.8
        return out


def test_move_shifts_the_seed_along_the_named_vectors():
    model = LinearModel()
    vectors = {"density": np.array([2.0, 0, 0, 0], np.float32), "genre:jazz": np.array([1.0, 0, 0, 0], np.float32)}
    code = model.encode(A.tensor()[None])[0][0]
    moved = generate.move(model, A, code, vectors, {"density": 1.5, "genre:jazz": 1.0})
    assert isinstance(moved, Groove) and moved.bpm == A.bpm
    assert moved.hits[:, 0].sum() == 1 + 3 + 1  # one kick in A, + 1.5 × 2, + 1 × 1
    assert generate.move(model, A, code, vectors, {}).hits[:, 0].sum() == 1
    held = generate.move(model, A, code, vectors, {"density": 1.5}, keep_pattern=True)
    np.testing.assert_array_equal(held.hits, A.hits)  # "keep the pattern"
    assert ui.hits_kept(A, moved) == "keeps 2 of 2 hits, adds 4"  # denser: every hit of the seed, and more
    sparser = generate.move(model, A, code, vectors, {"density": -0.5})
    assert ui.hits_kept(A, sparser) == "keeps 2 of 2 hits, adds 0"  # sparser: nothing new, the backbone kept


def test_a_click_on_a_performance_chooses_the_window_that_holds_that_bar():
    starts = [0, 1, 2, 3, 4, 5]  # a 9-bar performance: windows start at bars 0..5
    assert map_selection.window_start_at(starts, 3) == 3
    assert map_selection.window_start_at(starts, 8) == 5  # the last bars belong to the last window
    assert map_selection.window_start_at([2, 3], 0) == 2  # before the first window: the first
    points = [{"customdata": [7], "x": 8.1}, {"customdata": 7}, {"x": 1.0}]
    assert map_selection.selected_rows(points) == [7]


def test_a_large_selection_shows_a_spread_of_performances_with_unique_labels():
    meta = pd.DataFrame({"midi_filename": [f"file{i // 10}.mid" for i in range(200)]})  # 20 files × 10 windows
    shown = map_selection.spread_selection(list(range(200)), meta, 12)
    assert len(shown) == 12 and len({meta["midi_filename"][r] for r in shown}) == 12
    assert shown[0] == 0 and shown[-1] == 190, "from the start of the selection to its end"
    few_files = map_selection.spread_selection(list(range(30)), meta, 12)  # 3 files: each once, then more of theirs
    assert len(few_files) == 12 and {0, 10, 20} <= set(few_files) and few_files == sorted(few_files)
    assert map_selection.spread_selection([5, 3], meta, 12) == [5, 3]
    assert naming.unique_labels(["rock · d1", "jazz", "rock · d1", "rock · d1"]) == [
        "rock · d1", "jazz", "rock · d1 #2", "rock · d1 #3"]


def test_the_map_keeps_its_selection_when_only_the_colours_change():
    picked = map_selection.kept_selection(None, [3, 4], ("map", "pca"), "genre")
    # the redraw emptied the chart's selection
    recoloured = map_selection.kept_selection(picked, [], ("map", "pca"), "drummer")
    assert recoloured["rows"] == [3, 4]
    kept = map_selection.kept_selection
    assert kept(recoloured, [], ("map", "pca"), "drummer")["rows"] == [], "a click on nothing clears"
    assert kept(picked, [], ("other map", "pca"), "drummer")["rows"] == [], "another map: not kept"
    assert map_selection.kept_selection(picked, [7], ("map", "pca"), "genre")["rows"] == [7]


def test_t_sne_maps_an_even_spread_of_at_most_its_cap():
    rows = np.arange(20236) * 2
    capped = map_selection.capped_for_projection(rows, "t-SNE")
    assert len(capped) == map_selection.TSNE_MAX_WINDOWS and capped[0] == rows[0] and capped[-1] == rows[-1]
    assert np.all(np.diff(capped) > 0) and np.array_equal(capped, map_selection.capped_for_projection(rows, "t-SNE"))
    assert map_selection.capped_for_projection(rows, "PCA") is rows
    assert map_selection.capped_for_projection(rows[:100], "t-SNE") is not None
    assert len(map_selection.capped_for_projection(rows[:100], "t-SNE")) == 100


def test_a_seed_names_its_file_on_hover_and_a_generated_groove_has_none(window_set):
    seed = window_set.grooves([0])[0]
    file, _, bar = seed.source.rpartition("@bar")
    assert ui.source_file(seed) == f"File {file}, from bar {bar}"
    assert ui.source_file(dataclasses.replace(seed, source="variation")) is None
    def title_and_tooltip(svg: str) -> tuple[str, str | None]:
        root = ET.fromstring(svg)
        for group in [root, *root.iter(f"{SVG}g")]:
            for child in group:
                if child.get("class") == "drum-roll-title":
                    tooltip = group.find(f"{SVG}title") if group is not root else None
                    return "".join(child.itertext()), None if tooltip is None else tooltip.text
        raise AssertionError("no title")

    svg = plots.drum_roll_svg(seed, title="rock · drummer1", title_tooltip=ui.source_file(seed))
    assert title_and_tooltip(svg) == ("rock · drummer1", ui.source_file(seed))
    assert title_and_tooltip(plots.drum_roll_svg(seed, title="sample 1")) == ("sample 1", None)


def test_the_generate_page_names_the_prior_its_samples_come_from():
    from explorer.model.config import get_config
    from explorer.model.prior import MixturePrior
    from explorer.model.runtime import CompiledModel
    from explorer.model.vae import MusicVAE

    model = CompiledModel(MusicVAE(get_config("tiny_dist_4bar")))
    assert "N(0, I)" in ui.sampling_prior_note(model)
    model.prior = MixturePrior(np.ones(3) / 3, np.zeros((3, 16), np.float32), np.ones((3, 16), np.float32))
    assert "a 3-Gaussian mixture fitted to the codes of the training windows" in ui.sampling_prior_note(model)


def test_a_triplet_grid_gets_its_one_sentence_and_a_straight_beat_none():
    from explorer.notes.record import NoteRecord
    swung = [(beat * 480 + offbeat, 42, 90) for beat in range(8) for offbeat in (0, 320)]
    assert "triplet grid" in ui.grid_note(NoteRecord.from_midi(drum_file(swung), "swing.mid").groove())
    assert ui.grid_note(NoteRecord.from_midi(drum_machine_loop(), "loop.mid").groove()) is None
    assert ui.grid_note(A) is None  # no file behind it


def test_the_uploaders_stated_limit_is_the_one_the_reader_keeps():
    import tomllib

    from explorer.notes.midi_read import DEFAULT_LIMITS

    config = tomllib.loads((PROJECT_DIR / ".streamlit" / "config.toml").read_text())
    stated = config["server"]["maxUploadSize"]  # Streamlit shows "Limit {stated}MB per file"
    assert stated * 10**6 <= DEFAULT_LIMITS.max_bytes < (stated + 1) * 10**6


def test_a_kits_one_shots_are_static_files_named_by_their_content(monkeypatch, tmp_path):
    """The players' samples are addresses of files under data/static/ (Streamlit serves the `static` link beside the
    app, which points there), each file the kit's one-shot of its row; another kit has other addresses, and a file
    deleted under a running server is written again."""
    from explorer import files

    monkeypatch.setattr(files, "DATA_DIR", tmp_path)
    addresses = {}
    for kit in ("standard", "tr808"):
        monkeypatch.setattr(ui, "kit", lambda kit=kit: kit)
        addresses[kit] = ui.kit_samples()
        shots = rendering.one_shots(kit)
        assert list(addresses[kit]) == [str(row) for row in range(len(shots))]
        for row, address in addresses[kit].items():
            assert address.startswith(f"app/static/kits/{kit}-")
            assert (tmp_path / "static" / address.removeprefix("app/static/")).read_bytes() == shots[int(row)]
    assert not set(addresses["standard"].values()) & set(addresses["tr808"].values())
    deleted = tmp_path / "static" / addresses["tr808"]["3"].removeprefix("app/static/")
    deleted.unlink()
    assert ui.kit_samples() == addresses["tr808"] and deleted.is_file()
    assert (PROJECT_DIR / "static").resolve() == (PROJECT_DIR / "data" / "static").resolve()
