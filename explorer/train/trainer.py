"""Training on the GMD train split, with validation, atomic checkpoints and exact resume.

A run directory holds:
- `config.json`   the model config and the training arguments;
- `state.npz`     everything needed to resume (weights, optimizer slots, step), replaced atomically;
- `weights.npz`   the latest weights alone (what a checkpoint ships);
- `best.npz`      the weights with the best validation hit F1 so far;
- `metrics.jsonl` one line per logged training step and per validation.

Every file is replaced atomically (`explorer.files`), so a run killed at any moment holds only
complete files; a resumed run first drops the records logged after its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from explorer.analysis.evaluate import evaluate
from explorer.errors import TrainingError
from explorer.files import leftovers, write_npz, write_text
from explorer.model.checkpoints import read_info, read_weights, resolve
from explorer.model.conditions import random_tasks
from explorer.model.config import ModelConfig, get_config
from explorer.model.precision import training_dtype
from explorer.model.runtime import CompiledModel
from explorer.model.surgery import warm_start
from explorer.model.vae import MusicVAE
from explorer.notes.drums import NUM_CLASSES
from explorer.train.augment import augment
from explorer.train.data import training_data
from explorer.train.options import RESUMED_AS_STARTED, TrainOptions


class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """Magenta's schedule: (lr − min) · decay^step + min."""

    def __init__(self, initial: float, decay: float, minimum: float):
        self.initial, self.decay, self.minimum = initial, decay, minimum

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return (self.initial - self.minimum) * tf.pow(self.decay, step) + self.minimum

    def get_config(self):
        return {"initial": self.initial, "decay": self.decay, "minimum": self.minimum}


def make_strategy(name: str, collective_timeout: float = 120.0) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=[d.name for d in tf.config.list_logical_devices("CPU")]
                                              if not tf.config.list_logical_devices("GPU") else None)
    if name == "multiworker":  # hosts come from TF_CONFIG, as tf.distribute documents
        # A step whose all-reduce waits longer than the timeout fails instead of hanging (a worker died).
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"unknown strategy '{name}' (default, mirrored, multiworker)")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, but in a multi-worker run only the chief (the task of
    type "chief", else worker 0), as tf.distribute's multi-worker guide has it; the other workers train alike."""
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


# Errors a collective step raises when another worker is gone (its all-reduce times out or is refused).
WORKER_LOST = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.CancelledError)


def _hit_f1(targets, logits):
    true_hits = targets[..., :NUM_CLASSES] > 0.5
    predicted = logits[..., :NUM_CLASSES] > 0.0
    tp = tf.reduce_sum(tf.cast(true_hits & predicted, tf.float32))
    false = tf.reduce_sum(tf.cast(true_hits != predicted, tf.float32))
    return 2 * tp / tf.maximum(2 * tp + false, 1.0)


class Trainer:
    def __init__(self, options: TrainOptions, out_dir: Path, train_tensors: np.ndarray,
                 validation_tensors: np.ndarray, resume: bool = False, data: dict | None = None,
                 train_performances: np.ndarray | None = None, validation_performances: np.ndarray | None = None):
        """`data`: where the training windows came from, recorded in config.json and by `export_run` in the
        checkpoint (a folder's name, file count and file-list hash). `train_performances`, `validation_performances`:
        each window's performance (any labels), needed by `windows_per_performance`."""
        self.options = options
        self.out_dir = Path(out_dir)
        self.strategy = make_strategy(options.strategy, options.collective_timeout)
        self.is_chief = is_chief(self.strategy)
        if self.is_chief:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for leftover in leftovers(self.out_dir):  # of writes a kill cut short
                leftover.unlink()
        base = get_config(options.config)
        overrides = (("batch_size", options.batch_size), ("dropout_keep", options.dropout_keep),
                     ("learning_rate", options.learning_rate), ("free_bits", options.free_bits),
                     ("beta", options.beta), ("hit_weight", options.hit_weight))
        changes = {k: v for k, v in overrides if v is not None}
        self.config: ModelConfig = dataclasses.replace(base, **changes)
        self.train_tensors = np.asarray(train_tensors, np.float32)
        self._performances = None  # each performance's window indices, when an epoch is capped by performance
        rng = np.random.default_rng(1234)
        subset = rng.permutation(len(validation_tensors))
        if options.windows_per_performance:
            if train_performances is None or validation_performances is None:
                raise TrainingError("windows_per_performance needs each window's performance.")
            self._performances = _groups(train_performances)
            subset = _capped(_groups(validation_performances), options.windows_per_performance, rng)
        self.epoch_size = (len(self.train_tensors) if self._performances is None else
                           sum(min(len(g), options.windows_per_performance) for g in self._performances))
        self.validation_tensors = np.asarray(validation_tensors, np.float32)[
            np.sort(subset[:options.validation_windows])]
        if self.epoch_size < self.config.batch_size:  # no whole batch: an epoch would never take a step
            raise TrainingError(f"An epoch holds {self.epoch_size:,} training windows, fewer than one batch "
                                f"({self.config.batch_size}): pass --batch-size {self.epoch_size} or less, or "
                                "add files.")
        self.compute_dtype = training_dtype(options.precision)  # may change on resume: a new machine's CPU
        with self.strategy.scope():
            keras.utils.set_random_seed(options.seed)
            self.model = MusicVAE(self.config)
            self.optimizer = keras.optimizers.Adam(
                learning_rate=LearningRate(self.config.learning_rate, self.config.decay_rate,
                                           self.config.min_learning_rate),
                global_clipnorm=self.config.clip_norm)
            self.optimizer.build(self.model.trainable_variables)
        self.step = 0
        self.best_f1 = -1.0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        if resume and (self.out_dir / "state.npz").exists():
            self._restore()
        elif (self.out_dir / "state.npz").exists():
            raise FileExistsError(f"{self.out_dir} already holds a run; pass --resume to continue it")
        elif options.init_from:
            self._initialise_from(options.init_from)
        record = {"model": self.config.to_dict(), "training": dataclasses.asdict(options)}
        if data:
            record["data"] = data
        if self.is_chief:
            self._forget_metrics_after(self.step)
            write_text(self.out_dir / "config.json", json.dumps(record, indent=2))
        self._train_step = self._make_train_step()
        self._inference = CompiledModel(self.model)  # reads the live weights: traced once, reused

    # state

    def _initialise_from(self, name_or_dir: str) -> None:
        """Weights of a committed checkpoint: how training goes on on a new machine, where runs/ is gone."""
        info = read_info(resolve(name_or_dir))
        if info.config.get("name") == self.config.name:
            self.model.load_weights_dict(read_weights(info))
            return
        # Another preset: its weights start this one only where the layouts agree (all but the heads).
        try:
            warm_start(self.model, read_weights(info))
        except ValueError:
            raise TrainingError(f"Checkpoint '{info.name}' is a {info.config.get('name')}, whose weights cannot "
                                f"start a {self.config.name}: choose a checkpoint of that preset with --init-from, or "
                                "--init-from none to train from scratch.") from None

    def _restore(self) -> None:
        """The run's state, after checking that it is resumed with the model config and the training options it
        started with (RESUMED_AS_STARTED; the command line is not read back from config.json)."""
        started = json.loads((self.out_dir / "config.json").read_text())
        now = self.config.to_dict()
        changed = [f"{k} {v} (now {now.get(k)})" for k, v in started["model"].items() if now.get(k) != v]
        options = json.loads(json.dumps(dataclasses.asdict(self.options)))  # as config.json holds them
        # an option a run's config.json lacks (it began before the option existed) had its default then
        defaults = json.loads(json.dumps(dataclasses.asdict(TrainOptions())))
        was = {k: started["training"].get(k, defaults[k]) for k in RESUMED_AS_STARTED}
        changed += [f"{k} {was[k]} (now {options[k]})" for k in RESUMED_AS_STARTED if was[k] != options[k]]
        if changed:
            listed = ", ".join(changed)
            raise ValueError(f"{self.out_dir} was started with {listed}: resume it with the flags it started with.")
        with np.load(self.out_dir / "state.npz", allow_pickle=False) as state:
            self.model.load_weights_dict({k[len("model/"):]: state[k] for k in state.files if k.startswith("model/")})
            for index, variable in enumerate(self.optimizer.variables):
                variable.assign(state[f"optimizer/{index:04d}"])
            self.step = int(state["step"])
            self.best_f1 = float(state["best_f1"])
            self.elapsed = float(state["elapsed"])

    def save(self) -> None:
        if not self.is_chief:
            return
        weights = self.model.weights_dict()
        state = {f"model/{k}": v for k, v in weights.items()}
        state.update({f"optimizer/{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(self.optimizer.variables)})
        state.update(step=np.int64(self.step), best_f1=np.float64(self.best_f1), elapsed=np.float64(self.elapsed))
        write_npz(self.out_dir / "state.npz", state)
        write_npz(self.out_dir / "weights.npz", weights)

    def _forget_metrics_after(self, step: int) -> None:
        """Drop the records a killed session logged after its last checkpoint (the resumed run logs them again),
        and a last line the kill cut short."""
        path = self.out_dir / "metrics.jsonl"
        if not path.exists():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line + "\n")
            except (ValueError, KeyError, TypeError):
                continue
        write_text(path, "".join(kept))

    def _log(self, record: dict) -> None:
        if not self.is_chief:
            return
        with open(self.out_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")

    # data

    def _epoch_windows(self, epoch: int) -> np.ndarray:
        """The training windows of an epoch, drawn by (seed, epoch) when capped per performance."""
        if self._performances is None:
            return self.train_tensors
        rng = np.random.default_rng([self.options.seed, epoch])
        return self.train_tensors[np.sort(_capped(self._performances, self.options.windows_per_performance, rng))]

    @property
    def batches_per_epoch(self) -> int:
        return max(1, self.epoch_size // self.config.batch_size)

    def _epoch_dataset(self, epoch: int, skip_batches: int):
        """One epoch in an order fixed by (seed, epoch), so a resumed run sees the batches it would have seen."""
        batch = self.config.batch_size
        windows = self._epoch_windows(epoch)
        dataset = (tf.data.Dataset.from_tensor_slices(windows)
                   .shuffle(len(windows), seed=self.options.seed * 100003 + epoch, reshuffle_each_iteration=False)
                   .batch(batch, drop_remainder=True)
                   .skip(skip_batches)
                   .prefetch(2))
        return self.strategy.experimental_distribute_dataset(dataset)

    # steps

    def _make_train_step(self):
        model, optimizer, strategy = self.model, self.optimizer, self.strategy
        global_batch = self.config.batch_size
        augmentations = tuple(self.options.augment)
        compute_dtype = tf.as_dtype(self.compute_dtype)

        def replica_step(x, seed):
            # Each replica draws its own noise: fold its id into the step's seed.
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            seed = tf.random.experimental.stateless_fold_in(seed, replica)
            if augmentations:  # salted apart from the model's noise, which uses the seed itself
                x = augment(x, tf.random.experimental.stateless_fold_in(seed, -1), augmentations)
            # A multi-task model's encoder sees one transformation of each window (explorer/model/conditions.py).
            encoder_input = (random_tasks(x, tf.random.experimental.stateless_fold_in(seed, -2))[0]
                             if model.config.task_channels else None)
            with tf.GradientTape() as tape:
                per_example, reconstruction, kl, logits = model.losses_for(x, seed, compute_dtype, encoder_input)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            return (loss, tf.nn.compute_average_loss(reconstruction, global_batch_size=global_batch),
                    tf.nn.compute_average_loss(kl, global_batch_size=global_batch),
                    _hit_f1(x, logits) / strategy.num_replicas_in_sync)

        @tf.function
        def train_step(x, seed):
            results = strategy.run(replica_step, args=(x, seed))
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

        return train_step

    def validate(self) -> dict:
        metrics = evaluate(self._inference, self.validation_tensors)
        metrics.pop("per_class")
        return metrics

    def run(self) -> dict:
        options = self.options
        target = options.steps if options.steps is not None else float("inf")
        budget = options.time_budget_minutes * 60 if options.time_budget_minutes else float("inf")
        started = time.time()
        elapsed_at_start = self.elapsed
        last_save = self.step
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread:
            # `kill` (or the end of a session) stops a run as Ctrl-C does, saving first; a run in the background of
            # a non-interactive shell ignores SIGINT. The process's own handler comes back after the run.
            previous_handler = signal.signal(signal.SIGTERM, signal.default_int_handler)
        bar = tqdm(total=None if target == float("inf") else target, initial=self.step, unit="step",
                   dynamic_ncols=True, mininterval=2.0)
        window_start, window_examples = time.time(), 0
        finished_reason = "steps"
        try:
            while self.step < target and finished_reason == "steps":
                epoch, position = divmod(self.step, self.batches_per_epoch)
                for x in self._epoch_dataset(epoch, position):
                    seed = tf.constant([options.seed, self.step], tf.int64)
                    loss, reconstruction, kl, f1 = (float(v) for v in self._train_step(x, seed))
                    self.step += 1
                    self.elapsed = elapsed_at_start + time.time() - started
                    window_examples += self.config.batch_size
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.1f}", kl=f"{kl:.1f}", f1=f"{f1:.3f}", refresh=False)
                    if self.step % options.log_every == 0:
                        rate = window_examples / max(time.time() - window_start, 1e-9)
                        self._log({"step": self.step, "loss": loss, "reconstruction": reconstruction, "kl": kl,
                                   "hit_f1_teacher_forced": f1, "examples_per_second": rate,
                                   "learning_rate": float(self.optimizer.learning_rate),
                                   "elapsed_seconds": self.elapsed, "precision": self.compute_dtype})
                        window_start, window_examples = time.time(), 0
                    # Validate before any stop, so a run stopped at an epoch's end (by --steps, a budget or a
                    # kill after the save) is never left unvalidated there; the validation saves too.
                    if (self.step % self.batches_per_epoch == 0
                            and (epoch + 1) % options.validate_every_epochs == 0):
                        self._end_of_epoch()
                        last_save = self.step
                    elif self.step - last_save >= options.checkpoint_every:
                        self.save()
                        last_save = self.step
                    if self.step >= target:
                        break
                    if time.time() - started > budget:
                        finished_reason = "time budget"
                        break
        except KeyboardInterrupt:
            finished_reason = "interrupted"
        except WORKER_LOST as error:
            finished_reason = "worker lost"  # TF's runtime after an aborted all-reduce asks for a restart: no save
            raise TrainingError(
                f"A worker stopped answering at step {self.step} ({type(error).__name__}: a step waited over "
                f"{options.collective_timeout:g} s for it). The run is stopped; its last checkpoint in "
                f"{self.out_dir} is kept: start every worker again with --resume.") from None
        finally:
            bar.close()
            if finished_reason != "worker lost":
                self.save()
            if main_thread:
                signal.signal(signal.SIGTERM, previous_handler)
        return {"step": self.step, "elapsed_seconds": self.elapsed, "stopped_by": finished_reason}

    def _end_of_epoch(self) -> None:
        metrics = self.validate()
        metrics.update(step=self.step, elapsed_seconds=self.elapsed, split="validation")
        self._log(metrics)
        tqdm.write(f"step {self.step}: validation hit F1 {metrics['hit_f1']:.3f}, velocity MAE "
                   f"{metrics['velocity_mae']:.3f}, offset MAE {metrics['offset_mae']:.3f}, "
                   f"KL {metrics['mean_kl']:.1f}")
        if metrics["hit_f1"] > self.best_f1:
            self.best_f1 = metrics["hit_f1"]
            if self.is_chief:
                write_npz(self.out_dir / "best.npz", self.model.weights_dict())
        self.save()


def _groups(labels) -> list[np.ndarray]:
    """The window indices of each label (a performance), in the labels' sorted order."""
    _, inverse = np.unique(np.asarray(labels), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.cumsum(np.bincount(inverse))[:-1])


def _capped(groups: list[np.ndarray], cap: int, rng: np.random.Generator) -> np.ndarray:
    """At most `cap` indices of each group, drawn without replacement, shuffled together."""
    chosen = np.concatenate([rng.choice(g, min(cap, len(g)), replace=False) for g in groups])
    return rng.permutation(chosen)


def train(options: TrainOptions, out_dir: Path, resume: bool = False) -> dict:
    data = training_data(options)
    training = data.training
    preset_batch = get_config(options.config).batch_size
    if options.midi_dir and options.batch_size is None and len(training) < preset_batch:
        batch = 2 ** int(np.log2(max(len(training), 1)))  # a small folder: the largest power of two it fills
        print(f"{len(training)} training windows: batch {batch} instead of the preset's {preset_batch}.")
        options = dataclasses.replace(options, batch_size=batch)
    trainer = Trainer(options, out_dir, training, data.validation, resume=resume, data=data.source,
                      train_performances=data.training_performances,
                      validation_performances=data.validation_performances)
    print(f"{trainer.config.name}: {trainer.model.parameter_count():,} parameters, {len(training):,} training "
          f"windows ({trainer.epoch_size:,} an epoch), batch {trainer.config.batch_size}, {trainer.compute_dtype} "
          f"matmuls, starting at step {trainer.step}")
    return trainer.run()


