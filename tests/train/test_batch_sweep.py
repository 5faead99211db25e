"""The batch-size sweep trains each batch for the time asked, validates after each chunk, and reports a table."""

from __future__ import annotations

import argparse

from bench.batch_sweep import report, sweep_batch


def test_each_chunk_resumes_the_run_and_is_validated(eight_windows, tmp_path):
    points = sweep_batch("tiny_4bar", 4, minutes=0.02, every=0.01, dropout_keep=None, train_tensors=eight_windows,
                         validation_tensors=eight_windows, run_dir=tmp_path / "run")
    assert len(points) == 2
    assert 0 < points[0]["step"] < points[1]["step"], "the second chunk goes on from the first"
    assert points[0]["minutes"] >= 0.01 and points[1]["minutes"] >= 0.02
    assert points[1]["examples"] == 4 * points[1]["step"] and points[1]["windows"] == 8


def test_the_report_has_a_row_per_validation_and_a_column_per_batch():
    points = [{"batch_size": b, "minutes": m + 0.01, "step": s, "hit_f1": f}
              for b, m, s, f in ((64, 5, 100, 0.31), (64, 10, 210, 0.42), (512, 5, 12, 0.12))]
    args = argparse.Namespace(config="hierdec_4bar", batch_sizes=[64, 512], minutes=10.0, every=5.0,
                              dropout_keep=0.7)
    lines = report(points, args)
    assert "--dropout-keep 0.7" in lines[0]
    assert "| 5 | 0.310 (100) | 0.120 (12) |" in lines
    assert "| 10 | 0.420 (210) |  |" in lines
