"""Inference in padded batches: a small batch runs as an XLA program compiled for the next of a few sizes (compiled
once each), a large one as a plain graph. Shared by the runtime and the refinement."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

XLA_BATCH_SIZES = (1, 4, 8, 16)


def run_padded(xla, graph, batches: tuple[np.ndarray, ...], *scalars, sizes=None):
        """Calls `xla` on the batches padded to the next of the XLA batch `sizes` (default `XLA_BATCH_SIZES`), or
        `graph` when they are larger; the scalars follow them unpadded."""
        count = len(batches[0])
        size = next((size for size in sizes or XLA_BATCH_SIZES if size >= count), None)
        if size is None:
            outputs = graph(*batches, *scalars)
        else:
            outputs = xla(*(np.concatenate([batch, np.zeros((size - count, *batch.shape[1:]), batch.dtype)])
                            for batch in batches), *scalars)
        return tf.nest.map_structure(lambda output: output.numpy()[:count], outputs)
