"""One worker of tests/system/test_multiworker.py's two-worker run, started as its own process with TF_CONFIG set:

    python -m tests.system.multiworker_worker RUN_DIR TRACE_FILE STEPS [--resume] [--stall-after N]

It trains the tiny preset on fixed synthetic windows with MultiWorkerMirroredStrategy and appends, after every
step, what this worker trained on and the weights it then holds (hashes) to TRACE_FILE. With --stall-after N it
stops answering after N steps (sleeps), as a worker on a machine that died would.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
import tensorflow as tf

from explorer.errors import TrainingError
from explorer.train.options import TrainOptions
from explorer.train.trainer import Trainer


def windows(count: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    hits = (rng.random((count, 64, 9)) < 0.2).astype(np.float32)
    return np.concatenate([hits, hits * rng.uniform(0.2, 1.0, hits.shape), hits * rng.uniform(-0.5, 0.5, hits.shape)],
                          axis=-1).astype(np.float32)


class TracingTrainer(Trainer):
    def __init__(self, trace: str, stall_after: int | None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        step, strategy = self._train_step, self.strategy
        worker = strategy.cluster_resolver.task_id

        def traced(x, seed):
            if stall_after is not None and self.step >= stall_after:
                time.sleep(3600)  # a machine gone silent: the others' next all-reduce waits for it in vain
            results = step(x, seed)
            local = np.concatenate([np.asarray(v) for v in strategy.experimental_local_results(x)])
            weights = hashlib.sha1(b"".join(np.asarray(w).tobytes() for w in self.model.weights_dict().values()))
            with open(trace, "a") as handle:
                handle.write(json.dumps({"worker": worker, "step": self.step + 1,
                                         "batch": hashlib.sha1(local.tobytes()).hexdigest(),
                                         "weights": weights.hexdigest()}) + "\n")
            return results

        self._train_step = traced


def main(argv: list[str]) -> int:
    run_dir, trace, steps = argv[0], argv[1], int(argv[2])
    stall_after = int(argv[argv.index("--stall-after") + 1]) if "--stall-after" in argv else None
    data = windows()
    options = TrainOptions(config="tiny_4bar", steps=steps, batch_size=16, strategy="multiworker", log_every=1,
                           checkpoint_every=2, validation_windows=8, validate_every_epochs=10**6,
                           collective_timeout=20.0, precision="float32")
    try:
        trainer = TracingTrainer(trace, stall_after, options, run_dir, data, data[:8], resume="--resume" in argv)
        print(json.dumps(trainer.run()))
    except TrainingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    raise SystemExit(main(sys.argv[1:]))
