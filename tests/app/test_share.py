"""The page address keeps the Dataset filters and the basket's GMD seeds: round trip, and stale or hostile links."""

from __future__ import annotations

import pandas as pd

from explorer.app import share

INFO = pd.DataFrame({"genre": ["funk", "rock", "jazz"], "drummer": ["drummer1", "drummer2", "drummer10"],
                     "beat_type": ["beat", "fill", "beat"], "split": ["train", "test", "validation"],
                     "time_signature": ["4-4", "3-4", "4-4"]})
META = pd.DataFrame({"midi_filename": ["d1/a.mid"] * 3 + ["d2/b.mid"] * 2, "start_bar": [0, 1, 2, 0, 1]})
RANGES = {"keep_bpm": (50, 290), "keep_duration": (0.0, 340.0)}
GMD_FILES = frozenset(META["midi_filename"])


def test_filters_and_seeds_round_trip_through_the_address():
    widgets = {"keep_genres": ["funk", "rock"], "keep_drummers": ["drummer10"], "keep_bpm": (90, 120),
               "keep_duration": (0.0, 60.0), "keep_text": "swing", "keep_beat_types": [], "keep_meters": None}
    sources = ["d1/a.mid@bar2", "uploaded groove", "sample 1", "d2/b.mid@bar1", "my_loop.mid@bar1"]
    query = share.to_query(widgets, sources, GMD_FILES)
    assert query == {"genre": "funk,rock", "drummer": "drummer10", "bpm": "90-120", "duration": "0-60",
                     "style": "swing", "seeds": "d1/a.mid:2,d2/b.mid:1", "unsaved": "3"}
    restored, rows = share.from_query(query, INFO, META, RANGES)
    assert restored == {"keep_genres": ["funk", "rock"], "keep_drummers": ["drummer10"], "keep_bpm": (90, 120),
                        "keep_duration": (0.0, 60.0), "keep_text": "swing"}
    assert rows == [1, 3]  # META rows of the two GMD windows, in basket order; the others cannot be linked


def test_a_stale_or_hand_edited_address_restores_only_what_exists():
    query = {"genre": "funk,polka", "drummer": "nobody", "bpm": "10-1000", "duration": "abc",
             "seeds": "d1/a.mid:3,d1/a.mid:3,d9/x.mid:1,d2/b.mid:99,junk,d2/b.mid:two", "meter": "3-4"}
    restored, rows = share.from_query(query, INFO, META, RANGES)
    assert restored == {"keep_genres": ["funk"], "keep_bpm": (50, 290), "keep_meters": ["3-4"]}
    assert rows == [2]
    assert share.from_query({}, INFO, META, RANGES) == ({}, [])
    many = ",".join(["d1/a.mid:1"] * 1000)
    assert share.seed_rows(many, META) == [0]


def test_seeds_the_address_cannot_keep_are_counted_so_that_a_reload_can_say_so():
    gmd = "drummer1/session1/1_funk_80_beat_4-4.mid"
    query = share.to_query({}, [f"{gmd}@bar3", "my_loop · 92 bpm · 2 bars", "sample 1 · random seed 0",
                                "rock.mid@bar1"], {gmd})  # the last, an upload's window: named like GMD's
    assert query[share.SEEDS] == f"{gmd}:3"
    assert share.left_out(query) == 3 and share.named_seeds(query) == 1
    assert share.named_seeds({share.SEEDS: "d1/a.mid:3,d1/a.mid:3,d9/x.mid:1"}) == 2  # a reload counts d9 as lost
    assert share.left_out({}) == 0 and share.left_out({share.LEFT_OUT: "x"}) == 0
    assert share.left_out({share.LEFT_OUT: "999"}) == share.MAX_SEEDS


def test_the_step_grids_beat_rides_in_the_address_beside_the_rest():
    query = share.to_query({}, ["drummer1/a.mid@bar3"], {"drummer1/a.mid"}, grid="100.50.1.AAAA")
    assert query == {"grid": "100.50.1.AAAA", "seeds": "drummer1/a.mid:3"}
    assert share.GRID not in share.to_query({}, [], (), grid=None)
