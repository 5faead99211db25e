"""What every session shares (explorer/app/resources.py): the model warmed up once per server, in the background."""

from __future__ import annotations

import numpy as np

from explorer.app import resources
from explorer.model.batching import XLA_BATCH_SIZES


def test_warm_up_loads_the_default_model_once_in_the_background(monkeypatch):
    from explorer.model import checkpoints

    monkeypatch.setattr(resources, "_warm_up_thread", None)
    monkeypatch.setattr(checkpoints, "_loaded", {})  # as in a new server process
    called = []
    load = checkpoints.load_model
    monkeypatch.setattr(checkpoints, "load_model", lambda name=None: called.append(name) or load(name))
    thread = resources.warm_up_in_background(delay=0.0)
    assert thread is not None and resources.warm_up_in_background() is None  # one warm-up per process
    thread.join(timeout=300)
    info = checkpoints.read_info(checkpoints.resolve(None))
    assert called == [None]
    assert list(checkpoints._loaded) == [(str(info.directory.resolve()), info.sha256, info.prior["sha256"])]
    # every XLA program traced (and run, hence compiled) before a user's first click
    model = next(iter(checkpoints._loaded.values()))
    assert sorted(resources.WARM_UP_BATCH_SIZES) == sorted(XLA_BATCH_SIZES)
    assert model._encode_xla.experimental_get_tracing_count() == len(XLA_BATCH_SIZES)
    assert model._decode_xla.experimental_get_tracing_count() == len(XLA_BATCH_SIZES)
    assert model._decode_pairs_xla.experimental_get_tracing_count() == len(XLA_BATCH_SIZES)  # seeds' two codes
    # and the seeds' refinement for one seed and for two to four, which a click then runs without tracing again

    refine = model.refiner()._xla
    assert refine.experimental_get_tracing_count() == len(resources.REFINE_WARM_UP_BATCH_SIZES)
    windows = np.zeros((3, 64, 27), np.float32)
    windows[:, ::4, 0] = 1.0
    model.refiner().codes(windows[:1])
    model.refiner().codes(windows)
    assert refine.experimental_get_tracing_count() == len(resources.REFINE_WARM_UP_BATCH_SIZES)
