"""Where sampled grooves' codes come from: N(0, I), or a Gaussian mixture fitted to real grooves' codes.

MusicVAE samples z ~ N(0, I), the prior its KL term pulls towards. With free bits the pull is loose: the codes of
real grooves (their posteriors' draws mu + sigma · ε, the "aggregate posterior") spread unlike N(0, I), with
variances per direction from ~0.3 to ~3. N(0, I) draws then land where few real grooves were encoded, and there the
decoder plays busier bars that repeat less than a drummer's. A checkpoint may therefore carry a fitted prior: a
mixture of diagonal Gaussians fitted to the codes of its training windows (ex-post density estimation, as in Ghosh
et al. 2020, "From variational to deterministic autoencoders"), in `prior.npz` beside its weights. Checkpoints
without one (every Magenta import) sample N(0, I), as Magenta does.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import CheckpointError
from explorer.files import write_npz

PRIOR_FILE = "prior.npz"
PRIOR_SALT = 3  # a fitted prior's component choices apart from the other streams drawn with the same seed


@dataclass(frozen=True)
class MixturePrior:
    """A mixture of diagonal Gaussians over z: weights [K] (summing to 1), means and scales (sds) [K, z]."""

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray

    def __post_init__(self):
        components, z_size = np.shape(self.means)
        if np.shape(self.weights) != (components,) or np.shape(self.scales) != (components, z_size):
            raise ValueError(f"a mixture prior needs weights [K], means and scales [K, z]; got "
                             f"{np.shape(self.weights)}, {np.shape(self.means)}, {np.shape(self.scales)}")
        if not (np.all(np.isfinite(self.means)) and np.all(self.scales > 0) and np.all(self.weights >= 0)
                and abs(float(np.sum(self.weights)) - 1.0) < 1e-4):
            raise ValueError("a mixture prior needs finite means, positive scales and weights summing to 1")

    @property
    def z_size(self) -> int:
        return int(self.means.shape[1])

    @property
    def components(self) -> int:
        return int(self.means.shape[0])

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n draws [n, z], float32, deterministic for a seed. ε is drawn first, as N(0, I) draws it, so that a
        seed's noise is the same with and without a fitted prior."""
        epsilon = np.random.default_rng(seed).standard_normal((n, self.z_size))
        chosen = np.random.default_rng([seed, PRIOR_SALT]).choice(self.components, size=n, p=self.weights)
        return (self.means[chosen] + self.scales[chosen] * epsilon).astype(np.float32)


def standard_normal(n: int, z_size: int, seed: int = 0) -> np.ndarray:
    """n draws of z ~ N(0, I), [n, z_size], float32."""
    return np.random.default_rng(seed).standard_normal((n, z_size)).astype(np.float32)


def fit_mixture(codes: np.ndarray, components: int = 16, seed: int = 0) -> MixturePrior:
    """A `components`-Gaussian diagonal mixture fitted by EM (scikit-learn) to codes [N, z]."""
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, np.float64)
    if len(codes) < 2 * components:
        raise ValueError(f"fitting {components} components needs at least {2 * components} codes; got {len(codes)}")
    mixture = GaussianMixture(components, covariance_type="diag", random_state=seed, max_iter=300).fit(codes)
    weights = mixture.weights_ / mixture.weights_.sum()
    return MixturePrior(weights.astype(np.float64), mixture.means_.astype(np.float32),
                        np.sqrt(mixture.covariances_).astype(np.float32))


def save_prior(prior: MixturePrior, path: Path) -> None:
    write_npz(Path(path), {"weights": prior.weights, "means": prior.means, "scales": prior.scales})


def load_prior(path: Path, z_size: int) -> MixturePrior:
    """Reads a prior.npz (never unpickling) for a model with this z size; CheckpointError when unusable."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            prior = MixturePrior(archive["weights"].astype(np.float64), archive["means"], archive["scales"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"The fitted prior {path} cannot be used ({error}).") from None
    if prior.z_size != z_size:
        raise CheckpointError(f"The fitted prior {path} is over {prior.z_size}-dimensional codes; the model's z has "
                              f"{z_size}.")
    return prior
