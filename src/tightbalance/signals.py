"""Ornstein–Uhlenbeck input signals (SPEC §1).

The process ``d eta = -(eta / tau_s) dt + sqrt(2 var / tau_s) dW`` has stationary
variance ``var``, autocorrelation ``var * exp(-|lag| / tau_s)`` and two-sided power
spectrum ``S(w) = 2 var tau_s / (1 + w^2 tau_s^2)``.

Sampling is exact on the time grid (an AR(1) recursion, no Euler error)::

    eta[k+1] = a * eta[k] + sqrt(var * (1 - a^2)) * xi[k],   a = exp(-dt / tau_s)

with ``eta[0]`` drawn from the stationary law.  ``tau_s = 0`` gives white input of
the given standard deviation at each step.  The original Julia code parameterises
the process by an intensity ``I1`` with ``var = I1^2 / (2 tau_s)``; see
:func:`std_from_intensity`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry_2x32

__all__ = [
    "standard_normal",
    "ar1_coefficient",
    "std_from_intensity",
    "sample_ou",
    "sample_signals",
    "ou_autocorrelation",
    "ou_spectrum",
    "ou_spectrum_sampled",
]


# Up to this many steps the AR(1) recursion is applied as one matrix product.
_MATRIX_FORM_MAX_STEPS = 256


def standard_normal(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Standard normal numbers of ``shape``, drawn flat: the ``jax.random.normal`` transform
    (``sqrt(2) erfinv(u)``, ``u`` uniform on ``(-1, 1)`` from 23 random mantissa bits) on
    32-bit words straight from the threefry-2x32 hash of the counters ``0 .. n - 1``.

    These are exactly the numbers ``jax.random.normal(key, (n,))`` gives with
    ``jax_threefry_partitionable = False``; the partitionable default hashes two words per
    number, which makes the epoch's noise (50 000 samples) about 1.4x slower on CPU.  Keys of
    another PRNG implementation, and other dtypes, fall back to ``jax.random.normal``.
    """
    size = math.prod(shape)
    threefry_key = str(jax.random.key_impl(key)) == "threefry2x32"
    if not (threefry_key and jnp.dtype(dtype) == jnp.float32 and 0 < size < 2**32):
        return jax.random.normal(key, (size,), dtype=dtype).reshape(shape)
    bits = threefry_2x32(jax.random.key_data(key), jax.lax.iota(jnp.uint32, size))
    mantissa = jax.lax.shift_right_logical(bits, jnp.uint32(32 - 23)) | jnp.uint32(0x3F800000)
    unit = jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0  # [0, 1)
    low = np.nextafter(np.float32(-1.0), np.float32(0.0))
    uniform = jnp.maximum(low, unit * (np.float32(1.0) - low) + low)  # [low, 1)
    return (np.float32(math.sqrt(2.0)) * jax.lax.erf_inv(uniform)).reshape(shape)


def _check_time_constants(dt: float, tau_s: float) -> None:
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    if not (math.isfinite(tau_s) and tau_s >= 0):
        raise ValueError(f"tau_s must be a finite number >= 0, got {tau_s!r}")


def ar1_coefficient(dt: float, tau_s: float) -> float:
    """``a = exp(-dt / tau_s)``, the one-step autocorrelation of the sampled process (0 if white)."""
    _check_time_constants(dt, tau_s)
    return 0.0 if tau_s == 0 else math.exp(-dt / tau_s)


def std_from_intensity(intensity: float, tau_s: float) -> float:
    """Stationary std of the original parameterisation: ``var = I1^2 / (2 tau_s)``."""
    if not (math.isfinite(tau_s) and tau_s > 0):
        raise ValueError(f"tau_s must be > 0 to convert an intensity I1 to a std, got {tau_s!r}")
    if not (math.isfinite(intensity) and intensity >= 0):
        raise ValueError(f"intensity I1 must be a finite number >= 0, got {intensity!r}")
    return intensity / math.sqrt(2.0 * tau_s)


def sample_ou(
    key: jax.Array,
    n_steps: int,
    dt: float,
    tau_s: float,
    std: float,
    shape: tuple[int, ...] = (),
    dtype=jnp.float32,
) -> jax.Array:
    """Exact zero-mean OU paths on the grid ``k * dt``, stationary from the first sample.

    Args:
      key: PRNG key.
      n_steps: number of time points ``K``.
      dt: grid step (units of tau).
      tau_s: correlation time; 0 gives white noise of std ``std`` per step.
      std: stationary standard deviation ``sqrt(var)``.
      shape: trailing shape of independent paths (e.g. ``(S, B)``).

    Returns:
      Array ``[n_steps, *shape]``.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    a = ar1_coefficient(dt, tau_s)
    xi = standard_normal(key, (n_steps, *shape), dtype=dtype)
    if a == 0.0:
        return std * xi
    if n_steps <= _MATRIX_FORM_MAX_STEPS:
        # eta = L xi with L[k, 0] = std a^k and L[k, j] = std sqrt(1 - a^2) a^(k-j) for 1 <= j <= k:
        # one small matrix product instead of a sequential loop (same law, exact).
        lag = np.subtract.outer(np.arange(n_steps), np.arange(n_steps))
        weights = np.where(lag >= 0, a ** np.maximum(lag, 0), 0.0) * math.sqrt(1.0 - a * a)
        weights[:, 0] = a ** np.arange(n_steps)
        return jnp.tensordot(jnp.asarray(std * weights, dtype=dtype), xi, axes=1)
    innovation = std * math.sqrt(1.0 - a * a)

    def step(eta, xi_k):
        eta = a * eta + innovation * xi_k
        return eta, eta

    eta0 = std * xi[0]
    _, rest = jax.lax.scan(step, eta0, xi[1:])
    return jnp.concatenate([eta0[None], rest], axis=0)


def sample_signals(
    key: jax.Array,
    n_steps: int,
    n_channels: int,
    batch_size: int,
    dt: float,
    tau_s: float,
    std: float,
    mean: float,
) -> jax.Array:
    """A batch of ``S`` independent signals ``s(t) = I_ext + eta(t)``, shape ``[T, S, B]``."""
    return mean + sample_ou(key, n_steps, dt, tau_s, std, (n_channels, batch_size))


def ou_autocorrelation(lag, tau_s: float, var: float):
    """``var * exp(-|lag| / tau_s)`` (a Kronecker delta at lag 0 when ``tau_s = 0``)."""
    lag = np.abs(np.asarray(lag, dtype=float))
    if tau_s == 0:
        return var * (lag == 0).astype(float)
    return var * np.exp(-lag / tau_s)


def ou_spectrum(omega, tau_s: float, var: float):
    """Two-sided continuous-time power spectrum ``2 var tau_s / (1 + w^2 tau_s^2)``."""
    omega = np.asarray(omega, dtype=float)
    return 2.0 * var * tau_s / (1.0 + (omega * tau_s) ** 2)


def ou_spectrum_sampled(omega, dt: float, tau_s: float, var: float):
    """Two-sided spectrum of the sampled AR(1) process, per unit time, for ``|w| <= pi/dt``.

    ``S_d(w) = dt * var * (1 - a^2) / |1 - a e^{-i w dt}|^2``; it integrates to ``var``
    over ``[-pi/dt, pi/dt]`` with measure ``dw / 2 pi`` and tends to :func:`ou_spectrum`
    as ``dt -> 0``.
    """
    omega = np.asarray(omega, dtype=float)
    a = ar1_coefficient(dt, tau_s)
    return dt * var * (1.0 - a * a) / (1.0 - 2.0 * a * np.cos(omega * dt) + a * a)
