"""What the app and the CLI do with a model: encode, decode, sample, vary, interpolate, blend.

Every function takes a loaded model (`checkpoints.load_model()`) and `Groove`s, returns `Groove`s, and is
deterministic for a given seed. Seeds are played from their codes refined by gradient steps (explorer/model/refine.py),
where Magenta decodes the encoder's `mu`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from explorer.model.prior import standard_normal
from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.grid import STEPS_PER_QUARTER
from explorer.notes.groove import Groove

Progress = Callable[[int, int], None]


def _stack(grooves: Sequence[Groove], steps: int) -> np.ndarray:
    for groove in grooves:
        if groove.steps != steps:
            raise ValueError(f"the model takes {steps}-step grooves; '{groove.source}' has {groove.steps}")
    return np.stack([g.tensor() for g in grooves]).astype(np.float32)


def cut_windows(groove: Groove, steps: int) -> tuple[np.ndarray, list[int]]:
    """A groove of any length cut into the model's windows [W, steps, 27] and each window's first step: back to back,
    the last one ending where the groove ends (overlapping the one before); a groove shorter than a window repeated
    to fill it. `paste_windows` puts the model's answers back together."""
    tensor = groove.tensor()
    if len(tensor) < steps:
        tensor = np.tile(tensor, (-(-steps // len(tensor)), 1))[:steps]
    starts = list(range(0, len(tensor) - steps + 1, steps))
    if starts[-1] + steps < len(tensor):
        starts.append(len(tensor) - steps)
    return np.stack([tensor[s:s + steps] for s in starts]), starts


def paste_windows(windows: np.ndarray, starts: Sequence[int], length: int) -> np.ndarray:
    """`cut_windows` undone: the windows [W, steps, F] at their starts, a later one's steps replacing the overlap,
    cut to `length` steps."""
    steps = windows.shape[1]
    whole = np.zeros((max(length, steps), windows.shape[2]), np.float32)
    for window, start in zip(windows, starts, strict=True):
        whole[start:start + steps] = window
    return whole[:length]


def encode_tensors(model, tensors: np.ndarray, batch_size: int = 512,
                   progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of many windows, in batches (for the latent map of the whole dataset)."""
    mus, sigmas = [], []
    for start in range(0, len(tensors), batch_size):
        mu, sigma = model.encode(tensors[start:start + batch_size])
        mus.append(mu)
        sigmas.append(sigma)
        if progress:
            progress(min(start + batch_size, len(tensors)), len(tensors))
    z_size = model.config.z_size
    return (np.concatenate(mus) if mus else np.zeros((0, z_size), np.float32),
            np.concatenate(sigmas) if sigmas else np.zeros((0, z_size), np.float32))


def encode(model, grooves: Sequence[Groove], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, mu, sigma), each [len(grooves), z_size]; z = mu + sigma · ε with ε drawn from `seed`."""
    mu, sigma = model.encode(_stack(grooves, model.config.steps))
    epsilon = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
    return mu + sigma * epsilon, mu, sigma


def seed_codes(model, grooves: Sequence[Groove]) -> np.ndarray:
    """The codes [len(grooves), 2, z + detail size] that seeds are played from: each seed's hits code and heads
    code, its mu with the details refined for each (explorer/model/refine.py), so that a seed comes back as the seed."""

    return model.refiner().codes(_stack(grooves, model.config.steps))


def decode(model, z: np.ndarray, temperature: float = 0.0, seed: int = 0, bpm: float | Sequence[float] = 120.0,
           source: str = "decoded") -> list[Groove]:
    """One groove per code [N, z] (or with a seed's details), or per seed's codes [N, 2, z + detail size]
    (`seed_codes`; the hits from the hits code, played by the heads code). T = 0 plays every hit the model gives
    over 50 %."""
    from explorer.model.refine import decode_codes  # TensorFlow: the tools import without it

    z = np.asarray(z, np.float32)
    z = z[None] if z.ndim == 1 else z
    tensors = decode_codes(model, z, temperature, seed)
    tempos = np.broadcast_to(np.asarray(bpm, dtype=float), (len(z),))
    return [Groove.from_tensor(tensor, float(tempo), f"{source} {i + 1}")
            for i, (tensor, tempo) in enumerate(zip(tensors, tempos, strict=True))]


def prior_z(model, n: int, seed: int = 0) -> np.ndarray:
    """n draws of z from the model's sampling prior: its fitted mixture, else N(0, I) (explorer/model/prior.py)."""
    if model.prior is not None:
        return model.prior.sample(n, seed)
    return standard_normal(n, model.config.z_size, seed)


def sample(model, n: int, temperature: float = 1.0, seed: int = 0, bpm: float = 120.0) -> list[Groove]:
    """n grooves from the model's sampling prior."""
    return decode(model, prior_z(model, n, seed), temperature, seed, bpm, source="sample")


def sample_tensors(model, n: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """The tensors [n, steps, 27] of `sample`'s grooves, without making Grooves of them (for statistics)."""
    return model.decode(prior_z(model, n, seed), temperature, seed)


def onto_seed(answer: Groove, seed: Groove) -> Groove:
    """The model's answer to a seed with the seed's own file behind it, where it has one (`NoteRecord.answered`, at
    the answer's tempo): a side-stick the model hears as a snare comes back a side-stick, a flam a flam."""
    if seed.notes is None or seed.notes.tempo_changes or answer.steps != seed.steps:
        return answer
    record = seed.notes if seed.notes.bpm == answer.bpm else seed.notes.at_tempo(answer.bpm)
    return dataclasses.replace(answer, notes=record.answered(answer))


def reconstruct(model, grooves: Sequence[Groove], temperature: float = 0.0, seed: int = 0) -> list[Groove]:
    """Each groove through the model (decoding its refined code), at its own tempo, onto its own notes."""
    answers = decode(model, seed_codes(model, grooves), temperature, seed, [g.bpm for g in grooves],
                     source="reconstruction")
    return [onto_seed(answer, groove) for answer, groove in zip(answers, grooves, strict=True)]


def variations(model, groove: Groove, n: int, amount: float = 0.3, temperature: float = 0.0,
               seed: int = 0) -> list[Groove]:
    """n grooves near the seed: (1 − amount) · code + amount · z' for each of the seed's codes, z' drawn from the
    sampling prior with no details (so the seed's details fade as z moves away). amount 0 → the reconstruction,
    1 → a sample. Each onto the seed's notes."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError("amount must lie in [0, 1]")
    z = (1.0 - amount) * seed_codes(model, [groove]) + amount * model.join_codes(prior_z(model, n, seed))[:, None]
    return [onto_seed(answer, groove) for answer in decode(model, z, temperature, seed, groove.bpm, source="variation")]


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation (Magenta's choice for latent paths) of vectors along the last axis (a seed's codes
    each on its own arc); falls back to lerp for parallel vectors."""
    a_unit = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b_unit = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(a_unit * b_unit, axis=-1, keepdims=True), -1.0, 1.0))
    parallel = np.sin(omega) < 1e-6
    arc = (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.where(parallel, 1.0, np.sin(omega))
    return np.where(parallel, (1.0 - t) * a + t * b, arc)


def latent_path(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp",
                arc_size: int | None = None) -> np.ndarray:
    """`steps` points from a to b, both ends included. With `arc_size`, slerp takes only the first `arc_size`
    values along its arc (z) and the rest straight (a seed's details, which are no point on a sphere)."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    if method not in ("slerp", "lerp"):
        raise ValueError("method must be 'slerp' or 'lerp'")
    ts = np.linspace(0.0, 1.0, steps)
    straight = [(1.0 - t) * a + t * b for t in ts]
    if method == "lerp":
        return np.stack(straight).astype(np.float32)
    arc = arc_size or a.shape[-1]
    return np.stack([np.concatenate([slerp(a[..., :arc], b[..., :arc], t), line[..., arc:]], axis=-1)
                     for t, line in zip(ts, straight, strict=True)]).astype(np.float32)


def interpolate(model, a: Groove, b: Groove, steps: int = 8, method: str = "slerp", temperature: float = 0.0,
                seed: int = 0) -> list[Groove]:
    """From a to b through the model's latent space: the first and last steps are the seeds as played, the steps
    between decode the paths from a's refined codes to b's, each onto the notes of the seed it lies nearer; the
    tempo glides from a's to b's."""
    codes = seed_codes(model, [a, b])
    tempos = np.linspace(a.bpm, b.bpm, steps)
    path = latent_path(codes[0], codes[1], steps, method, arc_size=model.config.z_size)
    between = decode(model, path[1:-1], temperature, seed, tempos[1:-1], source="interpolation") if steps > 2 else []
    return [a, *(onto_seed(g, a if 2 * (i + 1) <= steps - 1 else b) for i, g in enumerate(between)), b]


def blend(model, corners: Sequence[Groove], rows: int = 4, cols: int = 4, temperature: float = 0.0,
          seed: int = 0) -> list[list[Groove]]:
    """A rows × cols grid of bilinear blends of four corners (top-left, top-right, bottom-left, bottom-right): the
    corner cells are the corner grooves as played, the others onto the notes of their nearest corner."""
    if len(corners) != 4:
        raise ValueError("blend takes exactly four corner grooves")
    if rows < 2 or cols < 2:
        raise ValueError("a blend grid needs at least 2 rows and 2 columns")
    codes = seed_codes(model, corners)
    bpm = np.array([g.bpm for g in corners])
    zs, tempos, nearest_corners = [], [], []
    for r in np.linspace(0.0, 1.0, rows):
        for c in np.linspace(0.0, 1.0, cols):
            weights = np.array([(1 - r) * (1 - c), (1 - r) * c, r * (1 - c), r * c])
            zs.append(np.tensordot(weights, codes, axes=1))
            tempos.append(float(weights @ bpm))
            nearest_corners.append(int(np.argmax(weights)))
    decoded = decode(model, np.stack(zs), temperature, seed, tempos, source="blend")
    grooves = [onto_seed(groove, corners[nearest]) for groove, nearest in zip(decoded, nearest_corners, strict=True)]
    for index, corner in zip((0, cols - 1, (rows - 1) * cols, rows * cols - 1), corners, strict=True):
        grooves[index] = corner  # the corners are the seeds as played; the model plays the blends between
    return [grooves[i * cols:(i + 1) * cols] for i in range(rows)]


def apply_vector(z: np.ndarray, vector: np.ndarray, amount: float) -> np.ndarray:
    """Moves z along an attribute vector: z + amount · vector. A seed's code (z and its details) moves its z, under
    the same details."""
    z, vector = np.asarray(z, np.float32), np.asarray(vector, np.float32)
    moved = z.copy()
    moved[..., :vector.shape[-1]] += np.float32(amount) * vector
    return moved


def move(model, seed: Groove, code: np.ndarray, vectors: dict[str, np.ndarray], amounts: dict[str, float],
         keep_pattern: bool = False) -> Groove:
    """A seed's codes (`generate.seed_codes`, [2, z]) moved by amount × vector for each named attribute vector,
    decoded at T 0 and at the seed's tempo, onto the seed's notes (`generate.onto_seed`). With `keep_pattern` the
    seed's hits are held by constrained decoding: only the dynamics and the timing move. Otherwise a move towards
    "density" plays as a drummer plays busier or simpler: denser keeps every hit of the seed and adds to them;
    sparser only leaves hits out, never the backbone (kick and snare on the beat)."""
    from explorer.model.refine import decode_codes  # TensorFlow: the tools import without it

    z = np.asarray(code, np.float32)
    for name, amount in amounts.items():
        z = apply_vector(z, vectors[name], amount)
    hits = seed.hits.astype(np.float32)[None]
    density = amounts.get("density", 0.0)
    if keep_pattern:
        played = decode_codes(model, z[None], given_hits=hits)
    elif density > 0:
        played = decode_codes(model, z[None], given_hits=hits, given_cells=hits > 0.5)
    elif density < 0:
        played = decode_codes(model, z[None], given_hits=hits, given_cells=backbone(seed)[None], allowed=hits > 0.5)
    else:
        played = decode_codes(model, z[None])
    return onto_seed(Groove.from_tensor(played[0], seed.bpm, "moved"), seed)


def backbone(groove: Groove) -> np.ndarray:
    """[steps, 9] the groove's kick and snare hits on the beat (quarter notes): what a drummer keeps simplest."""
    cells = np.zeros(groove.hits.shape, bool)
    on_beat = np.arange(groove.steps) % STEPS_PER_QUARTER == 0
    for drum in ("kick", "snare"):
        index = DRUM_CLASSES.index(drum)
        cells[:, index] = (groove.hits[:, index] > 0.5) & on_beat
    return cells


def kept_hits(seed: Groove, moved: Groove) -> tuple[int, int, int]:
    """(the seed's hits the move kept, the seed's hits, the hits it added)."""
    seed_hits, moved_hits = seed.hits > 0.5, moved.hits > 0.5
    return int((seed_hits & moved_hits).sum()), int(seed_hits.sum()), int((moved_hits & ~seed_hits).sum())
