"""The checkpoint registry: every folder `checkpoints/<name>/` holding `checkpoint.json` + `weights.npz`, and
optionally `prior.npz`, a sampling prior fitted to its training codes (explorer/model/prior.py).

`checkpoint.json` records the model config, the sha256 of `weights.npz` (and of `prior.npz`), where the weights
came from and (for trained ones) their evaluation. Weights and priors are plain `.npz` files of named arrays, read
with `allow_pickle=False`: loading a checkpoint never runs code.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import CheckpointError
from explorer.files import PROJECT_DIR, write_npz, write_text
from explorer.model.config import ModelConfig
from explorer.model.prior import PRIOR_FILE, MixturePrior, load_prior, save_prior

CHECKPOINTS_DIR = PROJECT_DIR / "checkpoints"
DEFAULT_CHECKPOINT = "gmd_hierdec_dist_4bar"
DRUMIFY_CHECKPOINT = "gmd_multitask_4bar"  # the multi-task model (explorer/model/conditions.py) that reads taps
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "checkpoint.json"


@dataclass(frozen=True)
class CheckpointInfo:
    name: str
    directory: Path
    config: dict
    sha256: str
    source: str
    metrics: dict
    prior: dict  # the fitted prior's record ({} for N(0, I)): its file's sha256, components, and how it was fitted
    data: dict  # where its training windows came from when not GMD: a folder's name, file count, file-list hash

    @property
    def sampling_prior(self) -> str:
        """Where its samples' codes come from: 'fitted' (a mixture in prior.npz) or 'N(0, I)' (Magenta's)."""
        return "fitted" if self.prior else "N(0, I)"

    @property
    def heads(self) -> str:
        """Its velocity and offset heads: 'magenta' (one deterministic value per cell, as Magenta's GrooVAE; every
        imported checkpoint) or 'distributions' (a distribution per hit; explorer/model/vae.py)."""
        return "distributions" if self.config.get("velocity_bins", 0) else "magenta"

    @property
    def label(self) -> str:
        f1 = self.metrics.get("hit_f1")
        heads = "per-hit distributions" if self.heads == "distributions" else "Magenta heads"
        prior = ", fitted prior" if self.prior else ""
        return f"{self.name} ({self.config.get('name', '?')}, {heads}{prior}" + (
            f", unrefined test hit F1 {f1:.2f})" if f1 else ")")  # from mu: seeds play from refined codes


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_info(directory: Path) -> CheckpointInfo:
    manifest = directory / MANIFEST_FILE
    try:
        data = json.loads(manifest.read_text())
        return CheckpointInfo(name=directory.name, directory=directory, config=dict(data["config"]),
                              sha256=str(data["sha256"]), source=str(data.get("source", "")),
                              metrics=dict(data.get("metrics", {})), prior=dict(data.get("prior") or {}),
                              data=dict(data.get("data") or {}))
    except FileNotFoundError:
        raise CheckpointError(f"'{directory}' is not a checkpoint: it has no {MANIFEST_FILE}.") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"The checkpoint manifest {manifest} is damaged ({error}).") from None


def list_checkpoints(root: Path = CHECKPOINTS_DIR) -> list[CheckpointInfo]:
    """Every readable checkpoint under `root`, the default first."""
    found = []
    for manifest in sorted(Path(root).glob(f"*/{MANIFEST_FILE}")):
        try:
            found.append(read_info(manifest.parent))
        except CheckpointError:
            continue  # a damaged folder must not hide the others; loading it by name says what is wrong
    return sorted(found, key=lambda info: (info.name != DEFAULT_CHECKPOINT, info.name))


def resolve(name_or_dir: str | Path | None, root: Path = CHECKPOINTS_DIR) -> Path:
    """A registry name or a folder path → the checkpoint folder."""
    name_or_dir = name_or_dir or DEFAULT_CHECKPOINT
    candidate = Path(name_or_dir)
    if (candidate / MANIFEST_FILE).exists():
        return candidate
    if (Path(root) / str(name_or_dir) / MANIFEST_FILE).exists() and "/" not in str(name_or_dir):
        return Path(root) / str(name_or_dir)
    known = ", ".join(info.name for info in list_checkpoints(root)) or "none"
    raise CheckpointError(f"No checkpoint '{name_or_dir}'. Known checkpoints: {known}.")


def save_checkpoint(weights: dict[str, np.ndarray], config: dict, directory: Path, source: str,
                    metrics: dict | None = None, prior: MixturePrior | None = None,
                    prior_record: dict | None = None, data: dict | None = None) -> CheckpointInfo:
    """Writes weights.npz (and prior.npz) then checkpoint.json (the manifest last: a folder without it is not a
    checkpoint). `prior_record`: how the prior was fitted, kept in the manifest beside its sha256. `data`: where the
    training windows came from, when not GMD (a folder's name, file count and file-list hash)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / WEIGHTS_FILE
    write_npz(weights_path, {k: np.asarray(v, np.float32) for k, v in weights.items()})
    manifest = {"config": config, "sha256": sha256_of(weights_path), "source": source, "metrics": metrics or {}}
    if data:
        manifest["data"] = data
    if prior is not None:
        save_prior(prior, directory / PRIOR_FILE)
        manifest["prior"] = {**(prior_record or {}), "components": prior.components,
                             "sha256": sha256_of(directory / PRIOR_FILE)}
    else:
        (directory / PRIOR_FILE).unlink(missing_ok=True)
    write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return read_info(directory)


def read_weights(info: CheckpointInfo) -> dict[str, np.ndarray]:
    path = info.directory / WEIGHTS_FILE
    if not path.exists():
        raise CheckpointError(f"Checkpoint '{info.name}' has no {WEIGHTS_FILE}.")
    if sha256_of(path) != info.sha256:
        raise CheckpointError(f"Checkpoint '{info.name}' is corrupt: {WEIGHTS_FILE} does not match its sha256.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"Checkpoint '{info.name}' cannot be read ({error}).") from None


def read_prior(info: CheckpointInfo, z_size: int) -> MixturePrior | None:
    """Its fitted prior, checked against the manifest's sha256; None when it samples N(0, I)."""
    if not info.prior:
        return None
    path = info.directory / PRIOR_FILE
    if not path.exists():
        raise CheckpointError(f"Checkpoint '{info.name}' has no {PRIOR_FILE}, which its manifest names.")
    if sha256_of(path) != info.prior.get("sha256"):
        raise CheckpointError(f"Checkpoint '{info.name}' is corrupt: {PRIOR_FILE} does not match its sha256.")
    return load_prior(path, z_size)


_loaded: dict[tuple[str, str, str], object] = {}
_load_lock = threading.Lock()


def load_model(name_or_dir: str | Path | None = None, root: Path = CHECKPOINTS_DIR):
    """The checkpoint as a `CompiledModel` with its sampling prior, loaded once per process (keyed by folder and
    sha256s)."""
    from explorer.model.runtime import CompiledModel  # TensorFlow: only when a model is loaded
    from explorer.model.vae import MusicVAE

    info = read_info(resolve(name_or_dir, root))
    key = (str(info.directory.resolve()), info.sha256, info.prior.get("sha256", ""))
    with _load_lock:
        if key not in _loaded:
            try:
                config = ModelConfig.from_dict(info.config)
            except TypeError as error:
                raise CheckpointError(f"Checkpoint '{info.name}' has an unusable config ({error}).") from None
            model = MusicVAE(config)
            try:
                model.load_weights_dict(read_weights(info))
            except ValueError as error:
                raise CheckpointError(f"Checkpoint '{info.name}' does not fit its config: {error}") from None
            _loaded[key] = CompiledModel(model, info, cache_encodings=True, prior=read_prior(info, config.z_size))
        return _loaded[key]
