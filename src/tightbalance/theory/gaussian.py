"""Gaussian expectations of the rate function for the mean-field theory (SPEC §6).

For ``h = mu + sqrt(var) z`` with ``z`` standard normal:

* ``gaussian_mean``        ``E[phi(h)]``
* ``gaussian_second_moment`` ``E[phi(h)^2]``
* ``gaussian_slope_mean``   ``E[phi'(h)]``
* ``gaussian_slope_square`` ``E[phi'(h)^2]``

and for a bivariate Gaussian pair ``(h1, h2)`` with means ``m1, m2``, variances
``c11, c22`` and covariance ``c12``, ``product_mean = E[phi(h1) phi(h2)]`` (the
``q(t, t')`` of SPEC §6).

For relu the one-dimensional moments are closed form,
``E[relu(mu + s z)] = s G(mu/s)`` with ``G(x) = x Phi(x) + phi(x)`` and
``E[relu(mu + s z)^2] = (mu^2 + s^2) Phi(mu/s) + mu s phi(mu/s)``.  The product
mean needs one integral: writing ``h2 = m2 + s2 z`` and
``h1 = m1 + (c12/s2) z + b1 w`` with ``b1^2 = c11 - c12^2/c22``, the ``w`` average is
the closed form above and the ``z`` integral runs over the half line ``h2 > 0``
only, so Gauss–Legendre nodes on ``[-m2/s2, Z_MAX]`` see a smooth integrand (the
kink of relu sits at the end point, where Gauss–Hermite would converge slowly).
tanh uses Gauss–Hermite in one and two dimensions; identity is exact.

All functions broadcast over their array arguments and compute in float64 (NumPy by
default; ``backend=JAX`` gives the same formulas in jax.numpy for jit-compiled solvers,
float64 inside ``jax.enable_x64``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

__all__ = [
    "SUPPORTED_NONLINEARITIES",
    "NUMPY",
    "JAX",
    "check_nonlinearity",
    "gaussian_mean",
    "gaussian_second_moment",
    "gaussian_slope_mean",
    "gaussian_slope_square",
    "product_mean",
]

SUPPORTED_NONLINEARITIES = ("relu", "tanh", "identity")

# Integration range in standard-normal units: phi(8.5) / phi(0) ~ 2e-16.
Z_MAX = 8.5
_N_LEGENDRE = 32
_N_HERMITE = 80

_legendre_x, _legendre_w = np.polynomial.legendre.leggauss(_N_LEGENDRE)
_hermite_x, _hermite_w = np.polynomial.hermite_e.hermegauss(_N_HERMITE)
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_hermite_w = _hermite_w / _SQRT_2PI  # weights of the standard normal law


def check_nonlinearity(name: str) -> str:
    """Return ``name`` if the theory supports it, else raise a ``ValueError``."""
    if name not in SUPPORTED_NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {list(SUPPORTED_NONLINEARITIES)}, got {name!r}")
    return name


@dataclass(frozen=True)
class _Backend:
    """Array module and normal CDF: NumPy/SciPy, or jax.numpy for jit-compiled solvers."""

    xp: ModuleType
    ndtr: Callable


NUMPY = _Backend(np, special.ndtr)
JAX = _Backend(jnp, jax.scipy.special.ndtr)


def _std(var, be: _Backend):
    return be.xp.sqrt(be.xp.maximum(var, 0.0))


def _relu_mean(mu, s, be: _Backend):
    """``E[relu(mu + s z)] = s G(mu/s)``, and ``relu(mu)`` where ``s = 0``."""
    xp = be.xp
    safe_s = xp.where(s > 0, s, 1.0)
    x = mu / safe_s
    smooth = safe_s * (x * be.ndtr(x) + xp.exp(-0.5 * x * x) / _SQRT_2PI)
    return xp.where(s > 0, smooth, xp.maximum(mu, 0.0))


def _relu_second_moment(mu, s, be: _Backend):
    xp = be.xp
    safe_s = xp.where(s > 0, s, 1.0)
    x = mu / safe_s
    smooth = (mu * mu + safe_s * safe_s) * be.ndtr(x) + mu * safe_s * xp.exp(-0.5 * x * x) / _SQRT_2PI
    return xp.where(s > 0, smooth, xp.maximum(mu, 0.0) ** 2)


def _relu_active_fraction(mu, s, be: _Backend):
    xp = be.xp
    safe_s = xp.where(s > 0, s, 1.0)
    return xp.where(s > 0, be.ndtr(mu / safe_s), xp.where(mu > 0, 1.0, 0.0))


def _hermite_average(function, mu, s, be: _Backend):
    """``E[function(mu + s z)]`` by Gauss–Hermite quadrature (smooth functions only)."""
    return be.xp.sum(_hermite_w * function(mu[..., None] + s[..., None] * _hermite_x), axis=-1)


def _prepare(be: _Backend, *arrays):
    return be.xp.broadcast_arrays(*(be.xp.asarray(a, dtype=float) for a in arrays))


def gaussian_mean(name: str, mu, var, backend: _Backend = NUMPY):
    """``E[phi(mu + sqrt(var) z)]``."""
    mu, var = _prepare(backend, mu, var)
    s = _std(var, backend)
    if name == "relu":
        return _relu_mean(mu, s, backend)
    if name == "tanh":
        return _hermite_average(backend.xp.tanh, mu, s, backend)
    if name == "identity":
        return mu + 0.0 * s
    raise ValueError(check_nonlinearity(name))


def gaussian_second_moment(name: str, mu, var, backend: _Backend = NUMPY):
    """``E[phi(mu + sqrt(var) z)^2]``."""
    mu, var = _prepare(backend, mu, var)
    s = _std(var, backend)
    if name == "relu":
        return _relu_second_moment(mu, s, backend)
    if name == "tanh":
        return _hermite_average(lambda h: backend.xp.tanh(h) ** 2, mu, s, backend)
    if name == "identity":
        return mu * mu + s * s
    raise ValueError(check_nonlinearity(name))


def gaussian_slope_mean(name: str, mu, var, backend: _Backend = NUMPY):
    """``E[phi'(mu + sqrt(var) z)]`` (for relu the fraction of active units)."""
    mu, var = _prepare(backend, mu, var)
    s = _std(var, backend)
    if name == "relu":
        return _relu_active_fraction(mu, s, backend)
    if name == "tanh":
        return _hermite_average(lambda h: 1.0 - backend.xp.tanh(h) ** 2, mu, s, backend)
    if name == "identity":
        return 1.0 + 0.0 * mu
    raise ValueError(check_nonlinearity(name))


def gaussian_slope_square(name: str, mu, var, backend: _Backend = NUMPY):
    """``E[phi'(mu + sqrt(var) z)^2]`` (for relu equal to the fraction of active units)."""
    mu, var = _prepare(backend, mu, var)
    s = _std(var, backend)
    if name == "relu":
        return _relu_active_fraction(mu, s, backend)
    if name == "tanh":
        return _hermite_average(lambda h: (1.0 - backend.xp.tanh(h) ** 2) ** 2, mu, s, backend)
    if name == "identity":
        return 1.0 + 0.0 * mu
    raise ValueError(check_nonlinearity(name))


def _split_pair(c11, c22, c12, be: _Backend):
    """``h2 = m2 + s2 z``, ``h1 = m1 + a z + b1 w``: return ``s2, a, b1``."""
    xp = be.xp
    s2 = _std(c22, be)
    safe_s2 = xp.where(s2 > 0, s2, 1.0)
    a = xp.where(s2 > 0, c12 / safe_s2, 0.0)
    b1 = _std(c11 - a * a, be)
    return s2, a, b1


def _relu_product_mean(m1, m2, c11, c22, c12, be: _Backend):
    xp = be.xp
    s2, a, b1 = _split_pair(c11, c22, c12, be)
    safe_s2 = xp.where(s2 > 0, s2, 1.0)
    # h2 > 0  <=>  z > -m2/s2; where s2 = 0 the whole line counts if m2 > 0, none of it otherwise.
    lower = xp.where(s2 > 0, -m2 / safe_s2, xp.where(m2 > 0, -Z_MAX, Z_MAX))
    lower = xp.clip(lower, -Z_MAX, Z_MAX)
    half_width = 0.5 * (Z_MAX - lower)
    z = lower[..., None] + half_width[..., None] * (_legendre_x + 1.0)
    h2 = m2[..., None] + s2[..., None] * z
    inner = _relu_mean(m1[..., None] + a[..., None] * z, b1[..., None], be)
    density = xp.exp(-0.5 * z * z) / _SQRT_2PI
    return half_width * xp.sum(_legendre_w * xp.maximum(h2, 0.0) * inner * density, axis=-1)


def _tanh_product_mean(m1, m2, c11, c22, c12, be: _Backend):
    xp = be.xp
    s2, a, b1 = _split_pair(c11, c22, c12, be)
    z = _hermite_x
    h2 = m2[..., None] + s2[..., None] * z  # [..., nz]
    inner_mean = m1[..., None] + a[..., None] * z  # [..., nz]
    inner = xp.sum(_hermite_w * xp.tanh(inner_mean[..., None] + b1[..., None, None] * _hermite_x), axis=-1)
    return xp.sum(_hermite_w * xp.tanh(h2) * inner, axis=-1)


def product_mean(name: str, m1, m2, c11, c22, c12, backend: _Backend = NUMPY):
    """``q = E[phi(h1) phi(h2)]`` for a bivariate Gaussian pair (SPEC §6).

    Args:
      name: nonlinearity (``relu``, ``tanh`` or ``identity``).
      m1, m2: means; c11, c22: variances; c12: covariance (arrays, broadcast together).
      backend: ``NUMPY`` (default) or ``JAX`` (inside ``jax.enable_x64`` for float64).
    """
    m1, m2, c11, c22, c12 = _prepare(backend, m1, m2, c11, c22, c12)
    if name == "relu":
        return _relu_product_mean(m1, m2, c11, c22, c12, backend)
    if name == "tanh":
        return _tanh_product_mean(m1, m2, c11, c22, c12, backend)
    if name == "identity":
        return m1 * m2 + c12
    raise ValueError(check_nonlinearity(name))
