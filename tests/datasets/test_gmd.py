"""The GMD data layer: on the real dataset (GROOVE_DIR), on tiny copies of a few of its files, on a mocked network."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from explorer import files
from explorer.cli.main import main
from explorer.datasets import gmd
from explorer.errors import DatasetError
from explorer.notes.midi_read import midi_to_grooves

# Measured on GMD v1.0.0 with hop 1 bar (see docs/DATA.md).
WINDOWS_PER_SPLIT = {"train": 16_249, "validation": 2_015, "test": 1_972}

SHORT_FILL = "drummer7/session2/60_soul-motown_148_fill_4-4.mid"  # 0.7 s: tiled to fill one window
MINI_FILES = {  # a few real GMD files: midi_filename -> windows at hop 1
    "drummer3/session1/10_rock_105_beat_4-4.mid": 4,
    SHORT_FILL: 1,
    "drummer1/session2/4_jazz_120_beat_3-4.mid": 0,  # 3/4: never windowed
    "drummer7/session2/102_pop_132_beat_4-4.mid": 4,
    "drummer3/session2/11_rock_100_beat_4-4.mid": 1,
}
BROKEN = "drummer0/session1/1_rock_100_beat_4-4.mid"  # written by the tests: not MIDI at all


@pytest.fixture(scope="session")
def info(groove_dir) -> pd.DataFrame:
    return gmd.load_info(groove_dir)


@pytest.fixture(scope="session")
def windows(groove_dir) -> gmd.WindowSet:
    """All windows, built once per session (or read from data/cache/)."""
    return gmd.load_windows(root=groove_dir)


def _write_mini(groove_dir: Path, target: Path, with_broken: bool = True) -> Path:
    """A GMD-shaped folder holding MINI_FILES (and a broken 4/4 file) with their info.csv rows."""
    with open(groove_dir / "info.csv", newline="") as source:
        reader = csv.DictReader(source)
        rows = [row for row in reader if row["midi_filename"] in MINI_FILES]
        fields = reader.fieldnames
    for row in rows:
        (target / row["midi_filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(groove_dir / row["midi_filename"], target / row["midi_filename"])
    if with_broken:
        rows.append({**rows[0], "drummer": "drummer0", "session": "drummer0/session1", "id": "drummer0/session1/1",
                     "style": "rock", "time_signature": "4-4", "midi_filename": BROKEN, "split": "train"})
        (target / BROKEN).parent.mkdir(parents=True, exist_ok=True)
        (target / BROKEN).write_bytes(b"this is not a MIDI file")
    with open(target / "info.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fields)
        writer.writeheader()
        writer.writerows(rows)
    return target


@pytest.fixture
def mini_root(groove_dir, tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(files, "DATA_DIR", tmp_path / "data")
    return _write_mini(groove_dir, tmp_path / "mini")


# --- info.csv ----------------------------------------------------------------------------------


def test_load_info_counts_the_real_dataset(info):
    assert len(info) == 1150
    assert info["split"].value_counts().to_dict() == {"train": 897, "validation": 124, "test": 129}
    assert info["genre"].nunique() == 18
    assert info["drummer"].nunique() == 10
    assert (info["time_signature"] == "4-4").sum() == 1138


def test_load_info_types_columns_and_derives_genre(info):
    assert list(info.columns) == ["drummer", "session", "id", "style", "genre", "substyle", "bpm", "beat_type",
                                  "time_signature", "midi_filename", "audio_filename", "duration", "split"]
    assert info["bpm"].dtype == np.int64 and info["duration"].dtype == np.float64
    assert isinstance(info["beat_type"].dtype, pd.CategoricalDtype)
    assert list(info["split"].cat.categories) == ["train", "validation", "test"]
    first = info.iloc[0]
    assert (first["style"], first["genre"], first["substyle"]) == ("funk/groove1", "funk", "groove1")
    plain = info[~info["style"].str.contains("/")]
    assert len(plain) > 0 and (plain["substyle"] == "").all() and (plain["genre"] == plain["style"]).all()


def test_load_info_rejects_files_that_are_not_gmd(tmp_path):
    (tmp_path / "info.csv").write_text("drummer,style\ndrummer1,rock\n")
    with pytest.raises(DatasetError, match="lacks the columns"):
        gmd.load_info(tmp_path)
    header = ",".join(gmd.INFO_DTYPES)
    (tmp_path / "info.csv").write_text(f"{header}\nd1,s,i,rock,fast,beat,4-4,a.mid,a.wav,1.0,train\n")
    with pytest.raises(DatasetError, match="wrong type"):
        gmd.load_info(tmp_path)
    (tmp_path / "info.csv").write_text(f"{header}\nd1,s,i,rock,100,beat,4-4,a.mid,a.wav,1.0,holdout\n")
    with pytest.raises(DatasetError, match="split"):
        gmd.load_info(tmp_path)


# --- filters and summary -----------------------------------------------------------------------


def test_load_performance_reads_a_whole_take_and_only_gmd_names(groove_dir, info, windows):
    name = "drummer1/session1/1_funk_80_beat_4-4.mid"
    whole = gmd.load_performance(name, groove_dir)
    first = windows.grooves(int(windows.meta.index[windows.meta["midi_filename"] == name][0]))[0]
    assert whole.bpm == pytest.approx(80.0) and whole.bars > 4
    np.testing.assert_allclose(whole.tensor()[:64], first.tensor(), atol=1e-6)  # its first window, bar for bar
    for name in ("../info.csv", "/etc/passwd", "drummer1/nope.mid"):
        with pytest.raises(DatasetError, match="not a performance"):
            gmd.load_performance(name, groove_dir)


def test_filter_info_each_criterion(info):
    f = gmd.filter_info
    assert len(f(info, genres=["funk"])) == len(f(info, genres="funk")) == 160
    assert len(f(info, drummers=["drummer1"])) == 494
    ranged = f(info, bpm=(100, 120))
    assert len(ranged) == 415 and ranged["bpm"].min() == 100 and ranged["bpm"].max() == 120  # both ends included
    assert len(f(info, beat_types=["fill"])) == 647
    assert len(f(info, time_signatures=["3-4", "6-8"])) == 10
    assert len(f(info, splits=["test"])) == 129
    long = f(info, duration=(60, 120))
    assert len(long) == 80 and long["duration"].between(60, 120).all()
    assert len(f(info, text="GROOVE")) == len(f(info, text="groove")) == 40
    assert f(info) is not info and len(f(info)) == 1150


def test_filter_info_combined_criteria_intersect(info):
    both = gmd.filter_info(info, genres=["rock", "funk"], drummers=["drummer1", "drummer7"], bpm=(90, 130),
                               beat_types=["beat"], splits=["train"], duration=(10, 300))
    assert len(both) == 34
    assert set(both["genre"]) <= {"rock", "funk"} and set(both["drummer"]) <= {"drummer1", "drummer7"}
    assert (both["beat_type"] == "beat").all() and (both["split"] == "train").all()
    fills = gmd.filter_info(info, genres=["rock"], text="HalfTime", beat_types=["fill"])
    assert len(fills) == 36 and fills["style"].str.lower().str.contains("halftime").all()
    assert gmd.filter_info(info, genres=["no such genre"]).empty


def test_summary_counts_rows_and_windows(info, windows):
    result = gmd.summary(info, windows=windows)
    assert result["rows"] == 1150
    assert result["splits"] == {"train": 897, "validation": 124, "test": 129}
    assert len(result["genres"]) == 18 and sum(result["genres"].values()) == 1150
    assert list(result["drummers"])[-1] == "drummer10" and result["drummers"]["drummer1"] == 494
    assert result["beat_types"] == {"beat": 503, "fill": 647}
    assert result["windows_per_split"] == WINDOWS_PER_SPLIT
    jazz = gmd.summary(gmd.filter_info(info, genres=["jazz"]), windows=windows)
    assert jazz["rows"] == 101 and jazz["windows_per_split"] == {"train": 2049, "validation": 90, "test": 60}


def test_window_counts_per_split(groove_dir, windows):
    assert gmd.window_counts(root=groove_dir) == WINDOWS_PER_SPLIT


def test_cli_info_prints_counts(groove_dir, windows, monkeypatch, capsys):
    monkeypatch.setenv("GROOVE_DIR", str(groove_dir))
    assert main(["info", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"] == 1150 and printed["windows_per_split"] == WINDOWS_PER_SPLIT
    assert main(["info"]) == 0
    assert "splits: train 897, validation 124, test 129" in capsys.readouterr().out


# --- windows on the real dataset ---------------------------------------------------------------


def test_windows_of_the_real_dataset(windows, info):
    assert windows.tensors.shape == (sum(WINDOWS_PER_SPLIT.values()), 64, 27)
    assert windows.tensors.dtype == np.float32 and windows.bpm.dtype == np.float32
    assert windows.meta["split"].value_counts().to_dict() == WINDOWS_PER_SPLIT
    assert list(windows.meta.columns) == list(gmd.META_COLUMNS)
    assert windows.skipped == ()
    assert set(windows.meta["time_signature"]) == {"4-4"}
    assert windows.meta["midi_filename"].nunique() == 1138  # every 4/4 file yields at least one window
    assert windows.tensors[:, :, :9].reshape(len(windows), -1).any(axis=1).all()  # no empty window
    assert np.allclose(windows.bpm, windows.meta["bpm"], atol=0.5)  # the MIDI tempo is info.csv's bpm


@pytest.mark.parametrize("position", [0, 5000, -1])
def test_window_round_trips_to_midi_to_grooves(windows, groove_dir, position):
    index = position % len(windows)
    row = windows.meta.iloc[index]
    expected = midi_to_grooves(groove_dir / row["midi_filename"], name=row["midi_filename"])
    match = [g for g in expected if g.source == f"{row['midi_filename']}@bar{row['start_bar'] + 1}"]
    assert len(match) == 1
    (groove,) = windows.grooves([index])
    assert groove.source == match[0].source
    assert np.array_equal(groove.tensor(), match[0].tensor())
    assert np.array_equal(windows.tensors[index], match[0].tensor())
    assert groove.bpm == pytest.approx(match[0].bpm, rel=1e-6)  # stored as float32


def test_short_file_is_tiled_into_one_window(windows, groove_dir):
    rows = windows.meta.index[windows.meta["midi_filename"] == SHORT_FILL]
    assert len(rows) == 1
    groove = windows.grooves(int(rows[0]))[0]
    bar = groove.hits[:16]
    assert bar.any() and all(np.array_equal(groove.hits[k * 16:(k + 1) * 16], bar) for k in range(4))


def test_load_windows_selects_splits(windows, groove_dir):
    validation = gmd.load_windows("validation", root=groove_dir)
    assert len(validation) == WINDOWS_PER_SPLIT["validation"]
    assert np.array_equal(validation.tensors, windows.tensors[(windows.meta["split"] == "validation").to_numpy()])
    both = gmd.load_windows(["test", "validation"], root=groove_dir)
    assert list(both.meta["split"].unique()) == ["test", "validation"]
    with pytest.raises(DatasetError, match="Unknown split 'training'"):
        gmd.load_windows("training", root=groove_dir)
    with pytest.raises(DatasetError, match="No split"):
        gmd.load_windows([], root=groove_dir)


# --- windows and cache on a tiny copy ----------------------------------------------------------


def test_mini_windows_skip_broken_and_other_meters(mini_root):
    calls = []
    result = gmd.load_windows(root=mini_root, progress=lambda done, total: calls.append((done, total)))
    per_file = result.meta.groupby("midi_filename").size().to_dict()
    assert per_file == {name: n for name, n in MINI_FILES.items() if n}
    assert len(result.skipped) == 1 and result.skipped[0][0] == BROKEN and "not a MIDI file" in result.skipped[0][1]
    assert calls[-1] == (5, 5)  # the 4 real 4/4 files and the broken one, counted across all splits
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert (result.meta["start_bar"].to_numpy() >= 0).all()


def test_hop_two_bars_starts_on_even_bars(mini_root):
    hop2 = gmd.load_windows("train", root=mini_root, hop_bars=2)
    long = hop2.meta[hop2.meta["midi_filename"] == "drummer3/session1/10_rock_105_beat_4-4.mid"]
    assert list(long["start_bar"]) == [0, 2]
    with pytest.raises(ValueError):
        gmd.load_windows(root=mini_root, hop_bars=0)


def _cache_files(split: str = "train") -> list[Path]:
    return sorted((files.DATA_DIR / "cache").glob(f"gmd-windows-{split}-hop1-*.npz"))


def test_cache_is_reused(mini_root, monkeypatch):
    first = gmd.load_windows(root=mini_root)
    assert len(_cache_files()) == 1

    def no_build(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(gmd, "_build_windows", no_build)
    again = gmd.load_windows(root=mini_root)
    assert np.array_equal(again.tensors, first.tensors) and np.array_equal(again.bpm, first.bpm)
    pd.testing.assert_frame_equal(again.meta, first.meta)
    assert again.skipped == first.skipped


def test_corrupt_cache_is_rebuilt(mini_root):
    first = gmd.load_windows("train", root=mini_root)
    (path,) = _cache_files()
    path.write_bytes(path.read_bytes()[:200])  # truncated, as by a crash mid-write of an older version
    rebuilt = gmd.load_windows("train", root=mini_root)
    assert np.array_equal(rebuilt.tensors, first.tensors)
    assert _cache_files() == [path] and np.load(path)["tensors"].shape == first.tensors.shape
    assert not list(path.parent.glob(".*"))  # no temporary files left


def test_changed_file_makes_cache_stale(mini_root):
    before = gmd.load_windows("train", root=mini_root)
    old_cache = _cache_files()
    shutil.copyfile(mini_root / SHORT_FILL, mini_root / "drummer3/session1/10_rock_105_beat_4-4.mid")
    after = gmd.load_windows("train", root=mini_root)
    assert len(after) == len(before) - 3  # the 4-window beat now holds the 1-bar fill
    assert len(_cache_files()) == 1 and _cache_files() != old_cache


# --- locating the dataset ----------------------------------------------------------------------


def test_gmd_root_prefers_groove_dir(groove_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GROOVE_DIR", str(groove_dir))
    assert gmd.gmd_root(download=False) == groove_dir
    monkeypatch.setenv("GROOVE_DIR", str(tmp_path))
    with pytest.raises(DatasetError, match="GROOVE_DIR"):
        gmd.gmd_root(download=False)


def test_gmd_root_without_dataset_or_download(monkeypatch, tmp_path):
    monkeypatch.setenv("GROOVE_DIR", "")
    monkeypatch.setattr(files, "DATA_DIR", tmp_path)
    with pytest.raises(DatasetError, match="GROOVE_DIR") as caught:
        gmd.gmd_root(download=False)
    assert gmd.GMD_URL in str(caught.value)
    (tmp_path / "groove").mkdir()
    (tmp_path / "groove" / "info.csv").write_text("x")
    assert gmd.gmd_root(download=False) == tmp_path / "groove"


# --- download, with only the network mocked ----------------------------------------------------


class FakeResponse:
    def __init__(self, payload: bytes, status: int = 200, fail_after: int | None = None):
        self.payload, self.status, self.fail_after = payload, status, fail_after
        self.headers = {"content-length": str(len(payload))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        if self.status >= 400:
            raise requests.HTTPError(f"{self.status} error")

    def iter_content(self, chunk_size: int = 1):
        for start in range(0, len(self.payload), 4096):
            if self.fail_after is not None and start >= self.fail_after:
                raise requests.ConnectionError("connection reset")
            yield self.payload[start:start + 4096]


def _serve(monkeypatch, response: FakeResponse | Exception) -> list[str]:
    requested = []

    def fake_get(url, **kwargs):
        requested.append(url)
        if isinstance(response, Exception):
            raise response
        return response

    monkeypatch.setattr(requests, "get", fake_get)
    return requested


@pytest.fixture
def gmd_zip(groove_dir, tmp_path) -> bytes:
    """A small zip laid out like the official one: everything under groove/."""
    mini = _write_mini(groove_dir, tmp_path / "zip-source", with_broken=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for path in sorted(mini.rglob("*")):
            zipped.write(path, "groove/" + path.relative_to(mini).as_posix())
    return buffer.getvalue()


def _zip_with(entries: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
        if link:
            member = zipfile.ZipInfo(link)
            member.external_attr = (stat.S_IFLNK | 0o777) << 16
            zipped.writestr(member, "/etc/passwd")
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_unpacks(monkeypatch, tmp_path, gmd_zip, groove_dir):
    requested = _serve(monkeypatch, FakeResponse(gmd_zip))
    target = tmp_path / "data" / "groove"
    calls = []
    root = gmd.download_gmd(target, url="https://example.invalid/gmd.zip", sha256=_sha(gmd_zip),
                                progress=lambda done, total: calls.append((done, total)))
    assert root == target and requested == ["https://example.invalid/gmd.zip"]
    assert calls[-1] == (len(gmd_zip), len(gmd_zip))
    info = gmd.load_info(root)
    assert sorted(info["midi_filename"]) == sorted(MINI_FILES)
    assert (root / SHORT_FILL).read_bytes() == (groove_dir / SHORT_FILL).read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["groove"]  # no temporary files left


def test_gmd_root_downloads_when_absent(monkeypatch, tmp_path, gmd_zip):
    monkeypatch.setenv("GROOVE_DIR", "")
    monkeypatch.setattr(files, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(gmd, "GMD_SHA256", _sha(gmd_zip))
    requested = _serve(monkeypatch, FakeResponse(gmd_zip))
    assert gmd.gmd_root() == tmp_path / "data" / "groove"
    assert requested == [gmd.GMD_URL]
    assert gmd.gmd_root() == tmp_path / "data" / "groove" and len(requested) == 1  # found, not fetched again


def _assert_nothing_left(target: Path):
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_download_with_wrong_hash_is_refused(monkeypatch, tmp_path, gmd_zip):
    _serve(monkeypatch, FakeResponse(gmd_zip))
    target = tmp_path / "data" / "groove"
    with pytest.raises(DatasetError, match="sha256"):
        gmd.download_gmd(target, sha256="0" * 64)
    _assert_nothing_left(target)


@pytest.mark.parametrize("entries, link", [
    ({"groove/info.csv": b"x", "../evil": b"boom"}, None),
    ({"groove/info.csv": b"x", "/abs": b"boom"}, None),
    ({"groove/info.csv": b"x", "groove/../../evil": b"boom"}, None),
    ({"groove/info.csv": b"x"}, "groove/link"),
])
def test_unsafe_archives_are_refused(monkeypatch, tmp_path, entries, link):
    payload = _zip_with(entries, link)
    _serve(monkeypatch, FakeResponse(payload))
    target = tmp_path / "data" / "groove"
    with pytest.raises(DatasetError, match="nothing was unpacked"):
        gmd.download_gmd(target, sha256=_sha(payload))
    _assert_nothing_left(target)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "data" / "evil").exists()


def test_archive_without_info_csv_is_refused(monkeypatch, tmp_path):
    payload = _zip_with({"something/else.txt": b"hello"})
    _serve(monkeypatch, FakeResponse(payload))
    target = tmp_path / "data" / "groove"
    with pytest.raises(DatasetError, match=r"info\.csv"):
        gmd.download_gmd(target, sha256=_sha(payload))
    _assert_nothing_left(target)


@pytest.mark.parametrize("response", [
    requests.ConnectionError("no route to host"),
    FakeResponse(b"", status=404),
    FakeResponse(b"x" * 20_000, fail_after=8192),  # cut off mid-download
])
def test_network_failures_explain_what_to_do(monkeypatch, tmp_path, response):
    _serve(monkeypatch, response)
    target = tmp_path / "data" / "groove"
    with pytest.raises(DatasetError) as caught:
        gmd.download_gmd(target)
    message = str(caught.value)
    assert "GROOVE_DIR" in message and gmd.GMD_URL in message and str(target / "info.csv") in message
    _assert_nothing_left(target)


def test_a_performance_in_another_meter_can_be_seen_and_heard(groove_dir):
    """The model reads 4/4 only, but the Dataset page still shows and plays a 3/4 or 5/4 performance."""
    from explorer.audio import rendering

    info = gmd.load_info(groove_dir)
    row = info[info["time_signature"] == "3-4"].iloc[0]
    played = gmd.load_played_notes(row["midi_filename"], groove_dir)
    assert played.meter == (3, 4) and played.bpm == pytest.approx(row["bpm"], rel=0.01)
    assert played.bar_seconds == pytest.approx(3 * 60 / played.bpm)
    assert played.seconds == pytest.approx(row["duration"], abs=2.0) and len(played.starts) > 100
    assert np.all(np.diff(played.starts) >= 0) and set(np.unique(played.classes)) <= set(range(9))
    wav = rendering.render_played(played, renderer="builtin", channels=1)
    assert wav[:4] == b"RIFF" and len(wav) > 2 * rendering.SAMPLE_RATE * played.seconds
    with pytest.raises(DatasetError):
        gmd.load_played_notes("../../etc/passwd", groove_dir)
