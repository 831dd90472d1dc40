"""Dynamic mean-field theory (DMFT) of random rate networks (SPEC §6), stationary part.

Network (SPEC §2, §6): ``J_ij = J0/N + g Z_ij/sqrt(N)`` with ``J0 = -b``, common input
``u = b I0``, private white noise ``sigma``, ``tau = 1``.  For ``N -> inf`` each unit is
``h_i(t) = m + delta_i(t)`` with Gaussian ``delta`` of autocorrelation ``c(tau)``::

    0 = -m + J0 nu + u,                nu = E[phi(m + sqrt(c0) z)]
    c''(tau) = c(tau) - g^2 q(c(tau)),  tau > 0,   c'(0+) = -sigma^2 / 2
    q(c) = E[phi(h1) phi(h2)],          var h1 = var h2 = c0, cov(h1, h2) = c

(the stationary form of ``(d/dt+1)(d/dt'+1) c = g^2 q + sigma^2 delta(t-t')``; the noise
gives the jump of ``c'`` at ``tau = 0``).

Method ("particle in a potential", Sompolinsky, Crisanti & Sommers 1988): the equation
for ``c`` is Newtonian motion in ``V(c) = -c^2/2 + g^2 int q dc`` (Price's theorem), so
the kinetic energy ``K(c) = c'^2/2 = V(c_inf) - V(c)`` is known in closed form once the
plateau ``c_inf = g^2 q(c_inf)`` (a maximum of V) is known::

    K(c) = (c - c_inf) [ (c + c_inf)/2 - g^2 mean_{[c_inf, c]} q ]

The total variance ``c0`` is the root of ``K(c0) = sigma^4 / 8`` (the particle leaves
``c0`` with speed ``sigma^2/2`` and comes to rest on the plateau); each trial ``c0``
re-solves the mean ``m`` and the plateau.  ``c(tau)`` then follows from the
first-order equation ``c' = -sqrt(2 K(c))``, for which the plateau is an attracting
fixed point, so the integration is stable to any ``tau_max`` (shooting on the
second-order equation is not: the plateau is a saddle there).

``g = 0`` gives ``c = (sigma^2/2) e^{-|tau|}``; ``sigma = 0`` below the chaos
threshold gives the static fixed point ``c(tau) = c0 = g^2 E[phi^2]``; above it the
chaotic solution with ``c'(0) = 0``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, optimize, special

from tightbalance.network import init_random_balanced, simulate_streaming
from tightbalance.network import nonlinearity as rate_function
from tightbalance.signals import sample_ou
from tightbalance.theory.gaussian import (
    JAX,
    check_nonlinearity,
    gaussian_mean,
    gaussian_second_moment,
    gaussian_slope_mean,
    gaussian_slope_square,
    product_mean,
)

__all__ = [
    "StationaryDMFT",
    "stationary_dmft",
    "stationary_moments",
    "chaos_threshold",
    "TimeResolvedDMFT",
    "time_resolved_dmft",
    "INPUT_KINDS",
    "input_path",
    "PopulationRecord",
    "simulate_population",
    "population_autocorrelation",
    "cosine_transform",
]

_legendre_x, _legendre_w = np.polynomial.legendre.leggauss(64)
_RTOL = 1e-12
# Offsets (c0 - c)/c0 of the plateau search grid on [-c0, c0]: uniform, plus a geometric
# refinement towards c0, where the plateau sits just above the chaos threshold
# (c0 - c_inf ~ 1e-4 c0 at g = 1.42 for relu, b = 4, I0 = 1).
_PLATEAU_OFFSETS = np.unique(
    np.concatenate([np.linspace(0.0, 2.0, 257), np.geomspace(1e-12, 2.0 / 256, 200)])
)


def _check_finite(name: str, value: float, minimum: float | None = None) -> float:
    value = float(value)
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        allowed = "a finite number" + ("" if minimum is None else f" >= {minimum:g}")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def _check_model(b: float, g: float, sigma: float, i0: float, nonlinearity: str) -> None:
    _check_finite("b", b, 0.0)
    _check_finite("g", g, 0.0)
    _check_finite("sigma", sigma, 0.0)
    _check_finite("i0", i0)
    check_nonlinearity(nonlinearity)


def self_consistent_mean(nonlinearity: str, u: float, j0: float, c0: float) -> float:
    """The mean input ``m`` solving ``m = u + J0 E[phi(m + sqrt(c0) z)]`` (``J0 <= 0``).

    With ``J0 <= 0`` and ``phi`` increasing the left minus right side is increasing in
    ``m``, and ``[u + J0 nu(u), u]`` brackets the unique root.
    """

    def residual(m: float) -> float:
        return m - u - j0 * float(gaussian_mean(nonlinearity, m, c0))

    upper = u
    lower = u + j0 * float(gaussian_mean(nonlinearity, u, c0))
    if lower == upper:
        return upper
    return optimize.brentq(residual, lower, upper, xtol=1e-15, rtol=_RTOL)


def _q_stationary(nonlinearity: str, m: float, c0: float, c):
    return product_mean(nonlinearity, m, m, c0, c0, c)


def _mean_q(nonlinearity: str, m: float, c0: float, lower, upper):
    """Mean of ``q(c)`` over ``[lower, upper]`` (Gauss–Legendre, vectorised in ``upper``)."""
    lower = np.asarray(lower, dtype=float)[..., None]
    upper = np.asarray(upper, dtype=float)[..., None]
    c = lower + 0.5 * (upper - lower) * (_legendre_x + 1.0)
    return 0.5 * np.sum(_legendre_w * _q_stationary(nonlinearity, m, c0, c), axis=-1)


def _plateau(nonlinearity: str, g: float, m: float, c0: float) -> float | None:
    """The plateau: the first maximum of ``V`` below ``c0``, or ``None`` if there is none.

    ``V'(c) = f(c) = g^2 q(c) - c``; a maximum is a root where, going down from ``c0``,
    ``f`` turns from negative to non-negative.  ``None`` means the particle leaving ``c0``
    at rest never stops (it overshoots every hill in ``[-c0, c0]``).
    """
    if g == 0.0:
        return 0.0
    if c0 <= 0.0:
        return c0
    grid = c0 - c0 * _PLATEAU_OFFSETS
    f = g * g * _q_stationary(nonlinearity, m, c0, grid) - grid
    negative = f < 0.0
    if not negative[0]:
        below = np.flatnonzero(negative)
        if below.size == 0:
            return None
        negative[: below[0]] = True  # skip the initial region where f >= 0 (c''(0) < 0)
    crossing = np.flatnonzero(negative[:-1] & ~negative[1:])
    if crossing.size == 0:
        return None
    k = crossing[0]

    def residual(c: float) -> float:
        return g * g * float(_q_stationary(nonlinearity, m, c0, c)) - c

    return optimize.brentq(residual, grid[k + 1], grid[k], xtol=1e-15, rtol=_RTOL)


def _kinetic_energy(nonlinearity: str, g: float, m: float, c0: float, c_inf: float, c):
    """``K(c) = c'^2/2 = (c - c_inf)[(c + c_inf)/2 - g^2 mean q]`` (written to avoid cancellation)."""
    c = np.asarray(c, dtype=float)
    return (c - c_inf) * (0.5 * (c + c_inf) - g * g * _mean_q(nonlinearity, m, c0, c_inf, c))


def _divergence_error(g: float, nonlinearity: str) -> ValueError:
    return ValueError(f"no stationary solution: the activity diverges for g={g!r} with {nonlinearity!r}")


def _static_fixed_point(nonlinearity: str, u: float, j0: float, g: float) -> tuple[float, float]:
    """Noise-free fixed point: ``c0 = g^2 E[phi(h)^2]``, ``m`` self-consistent.  Returns ``(m, c0)``."""
    if g == 0.0:
        return self_consistent_mean(nonlinearity, u, j0, 0.0), 0.0

    def residual(c0: float) -> float:
        m = self_consistent_mean(nonlinearity, u, j0, c0)
        return c0 - g * g * float(gaussian_second_moment(nonlinearity, m, c0))

    upper = max(1.0, u * u)
    while residual(upper) < 0.0:
        upper *= 4.0
        if upper > 1e12:
            raise _divergence_error(g, nonlinearity)
    if residual(0.0) >= 0.0:
        c0 = 0.0
    else:
        c0 = optimize.brentq(residual, 0.0, upper, xtol=1e-15, rtol=_RTOL)
    return self_consistent_mean(nonlinearity, u, j0, c0), c0


@dataclass(frozen=True)
class _Moments:
    m: float
    c0: float
    c_inf: float | None


def _moments(nonlinearity: str, u: float, j0: float, g: float, sigma: float) -> _Moments:
    """Solve ``K(c0) = sigma^4 / 8`` for the total variance (static fixed point if stable and noise-free).

    ``K(c0)`` is read as ``-inf`` where no plateau exists (the particle overshoots).
    The root is the first change of sign from negative to positive of
    ``K(c0) - sigma^4/8`` on a geometric scan of ``c0``, refined by Brent's method:
    below it the particle released at ``c0`` overshoots, above it it turns back.
    """
    m_fp, c_fp = _static_fixed_point(nonlinearity, u, j0, g)
    if sigma == 0.0 and g * g * float(gaussian_slope_square(nonlinearity, m_fp, c_fp)) <= 1.0:
        return _Moments(m_fp, c_fp, c_fp)
    if g == 0.0:
        c0 = sigma * sigma / 2.0
        return _Moments(self_consistent_mean(nonlinearity, u, j0, c0), c0, 0.0)

    def state(c0: float) -> _Moments:
        m = self_consistent_mean(nonlinearity, u, j0, c0)
        return _Moments(m, c0, _plateau(nonlinearity, g, m, c0))

    def residual(c0: float) -> float:
        s = state(c0)
        if s.c_inf is None:
            return -math.inf
        return float(_kinetic_energy(nonlinearity, g, s.m, c0, s.c_inf, c0)) - sigma**4 / 8.0

    reference = max(c_fp, sigma * sigma / 2.0, 1e-8)
    lower = 1e-4 * reference
    previous = residual(lower)
    while True:
        upper = lower * 2.0**0.25
        current = residual(upper)
        if previous < 0.0 <= current:
            break
        if upper > 1e8 * reference:
            raise _divergence_error(g, nonlinearity)
        lower, previous = upper, current
    for _ in range(200):  # bisect until the lower end has a plateau (a finite residual)
        if previous > -math.inf:
            break
        middle = 0.5 * (lower + upper)
        value = residual(middle)
        if value >= 0.0:
            upper = middle
        else:
            lower, previous = middle, value
    else:
        raise ValueError(f"no stationary solution with a plateau found (g={g!r}, sigma={sigma!r})")
    c0 = optimize.brentq(residual, lower, upper, xtol=1e-15, rtol=_RTOL)
    s = state(c0)
    if s.c_inf is None or abs(residual(c0)) > 1e-8 * max(c0 * c0, sigma**4):
        raise ValueError(f"stationary DMFT did not converge (g={g!r}, sigma={sigma!r}): residual jumps")
    return s


def stationary_moments(b: float, g: float, sigma: float, i0: float, nonlinearity: str = "relu"):
    """``(mu0, nu0, c0, c_static)`` of the stationary DMFT, without the time course."""
    _check_model(b, g, sigma, i0, nonlinearity)
    s = _moments(nonlinearity, b * i0, -b, g, sigma)
    return s.m, float(gaussian_mean(nonlinearity, s.m, s.c0)), s.c0, s.c_inf


def _lag_grid(tau_max: float, dtau: float) -> np.ndarray:
    n = int(round(tau_max / dtau))
    return np.arange(n + 1) * dtau


def _autocorrelation_curve(nonlinearity, g, sigma, s: _Moments, tau: np.ndarray) -> np.ndarray:
    """``c(tau)`` from ``c' = -sqrt(2 K(c))`` (Taylor start ``c0 + c''(0) tau^2/2`` if ``sigma = 0``)."""
    if s.c0 == s.c_inf:
        return np.full_like(tau, s.c0)
    if g == 0.0:
        return s.c0 * np.exp(-tau)

    def speed(_, c):
        k = _kinetic_energy(nonlinearity, g, s.m, s.c0, s.c_inf, np.minimum(c, s.c0))
        return -np.sqrt(2.0 * np.maximum(k, 0.0))

    start, c_start = 0.0, s.c0
    if sigma == 0.0:
        curvature = s.c0 - g * g * float(_q_stationary(nonlinearity, s.m, s.c0, s.c0))
        start = min(1e-3, tau[1])
        c_start = s.c0 + 0.5 * curvature * start * start
    span = s.c0 - s.c_inf
    solution = integrate.solve_ivp(
        speed,
        (start, tau[-1]),
        [c_start],
        method="DOP853",
        rtol=1e-10,
        atol=1e-13 * span,
        dense_output=True,
    )
    if not solution.success:
        raise RuntimeError(f"DMFT autocorrelation integration failed: {solution.message}")
    c = solution.sol(np.maximum(tau, start))[0]
    early = tau < start
    c[early] = s.c0 + (c_start - s.c0) * (tau[early] / start) ** 2
    return c


def cosine_transform(f: np.ndarray, tau: np.ndarray, omega: np.ndarray, decay: float) -> np.ndarray:
    """``2 int_0^inf f(tau) cos(omega tau) dtau`` for ``f`` linear between grid points.

    Exact for the piecewise-linear interpolant (no aliasing at high ``omega``), plus an
    exponential tail ``f(T) e^{-decay (tau - T)}`` beyond the last lag ``T``.
    """
    slopes = np.diff(f) / np.diff(tau)
    mid = 0.5 * (tau[1:] + tau[:-1])
    half = 0.5 * np.diff(tau)
    out = np.empty_like(omega)
    for start in range(0, omega.size, 128):
        w = omega[start : start + 128, None]
        # int over segment j = [f sin(w tau)/w]_j + s_j (cos(w b) - cos(w a))/w^2, the first term telescopes.
        sin_mid_over_w = mid * np.sinc(w * mid / np.pi)
        sin_half_over_w = half * np.sinc(w * half / np.pi)
        cos_part = -2.0 * np.sum(slopes * sin_mid_over_w * sin_half_over_w, axis=-1)
        end = f[-1] * tau[-1] * np.sinc(w[:, 0] * tau[-1] / np.pi)
        out[start : start + 128] = end + cos_part
    tail = f[-1] * np.real(np.exp(1j * omega * tau[-1]) / (decay - 1j * omega))
    return 2.0 * (out + tail)


@dataclass(frozen=True)
class StationaryDMFT:
    """Stationary solution of the DMFT (SPEC §6) for ``J0 = -b``, ``u = b I0``.

    Attributes:
      b, g, sigma, i0, nonlinearity: model (SPEC §6 convention).
      mu0: mean input current ``m``.
      nu0: population mean rate ``E[phi(h)]``.
      c0: total variance ``c(0)`` of a unit's fluctuation ``delta`` (across units and time).
      c_static: quenched plateau ``c(tau -> inf)``.
      fraction_active: ``P(h > 0)``.
      rate_slope: ``d nu0 / d mu0`` along stationary solutions (varying ``I0``), the
        ``nu'`` of the mean-mode susceptibility ``chi = b / (1 + b nu' + i w)`` (SPEC §5.2);
        it includes the change of the variance with the mean.
      decay_rate: rate ``k = sqrt(1 - g^2 dq/dc)`` at which ``c`` approaches the plateau.
      tau: lags ``0 .. tau_max``.
      c: autocorrelation ``c(tau)``, plateau included.
    """

    b: float
    g: float
    sigma: float
    i0: float
    nonlinearity: str
    mu0: float
    nu0: float
    c0: float
    c_static: float
    fraction_active: float
    rate_slope: float
    decay_rate: float
    tau: np.ndarray
    c: np.ndarray

    @property
    def u0(self) -> float:
        """Common input ``b I0``."""
        return self.b * self.i0

    def autocorrelation(self, lag) -> np.ndarray:
        """``c(|lag|)`` interpolated; beyond ``tau_max`` the exponential approach to the plateau."""
        lag = np.abs(np.asarray(lag, dtype=float))
        inside = np.interp(lag, self.tau, self.c)
        tau_max = self.tau[-1]
        beyond = self.c_static + (self.c[-1] - self.c_static) * np.exp(
            -self.decay_rate * np.maximum(lag - tau_max, 0.0)
        )
        return np.where(lag <= tau_max, inside, beyond)

    def noise_spectrum(self, omega) -> np.ndarray:
        """Two-sided power spectrum of the temporal part ``c(tau) - c_static``.

        ``S(w) = int (c(tau) - c_static) e^{-i w tau} dtau``.  From the DMFT equation,
        ``(1 + w^2) S(w) = sigma^2 + g^2 S_q(w)`` with ``S_q`` the transform of
        ``q(tau) - q_inf``; ``S_q`` is computed numerically (piecewise-linear exact
        transform plus exponential tail), the ``sigma^2/(1+w^2)`` part exactly.
        ``g = 0`` gives ``sigma^2 / (1 + w^2)``.
        """
        omega = np.asarray(omega, dtype=float)
        flat = omega.ravel()
        spectrum_q = np.zeros_like(flat)
        if self.g > 0.0 and self.c0 > self.c_static:
            q = _q_stationary(self.nonlinearity, self.mu0, self.c0, self.c)
            q_inf = float(_q_stationary(self.nonlinearity, self.mu0, self.c0, self.c_static))
            spectrum_q = cosine_transform(q - q_inf, self.tau, flat, self.decay_rate)
        spectrum = (self.sigma**2 + self.g**2 * spectrum_q) / (1.0 + flat**2)
        # a power spectrum is >= 0; quadrature round-off (~1e-8 of S(0)) is clipped
        return np.maximum(spectrum, 0.0).reshape(omega.shape)


def _decay_rate(nonlinearity: str, g: float, s: _Moments) -> float:
    """``sqrt(1 - g^2 q'(c_inf))``: linearisation of ``c'' = c - g^2 q(c)`` at the plateau."""
    if g == 0.0:
        return 1.0
    step = 1e-5 * max(s.c0, 1e-12)
    lo, hi = max(s.c_inf - step, -s.c0), min(s.c_inf + step, s.c0)
    if hi <= lo:
        return 1.0
    q = _q_stationary(nonlinearity, s.m, s.c0, np.array([lo, hi]))
    slope = (q[1] - q[0]) / (hi - lo)
    return math.sqrt(max(1.0 - g * g * slope, 0.0))


def _rate_slope(nonlinearity: str, b: float, g: float, sigma: float, i0: float) -> float:
    """``d nu0 / d mu0`` by central differences in ``I0`` along stationary solutions.

    ``b = 0``: the input is ``u = 0`` whatever ``I0``, so there is no such path; for ``g = 0`` the
    variance ``sigma^2/2`` does not depend on the mean and ``d nu / d mu = E[phi'(h)]``,
    ``h ~ N(0, sigma^2/2)``; for ``g > 0`` it is undefined (NaN).
    """
    if b == 0.0:
        m = 0.0
        return float(gaussian_slope_mean(nonlinearity, m, sigma * sigma / 2.0)) if g == 0.0 else math.nan
    delta = 1e-4 * max(abs(i0), 1.0)
    values = []
    for sign in (-1.0, 1.0):
        s = _moments(nonlinearity, b * (i0 + sign * delta), -b, g, sigma)
        values.append((s.m, float(gaussian_mean(nonlinearity, s.m, s.c0))))
    (m_lo, nu_lo), (m_hi, nu_hi) = values
    return (nu_hi - nu_lo) / (m_hi - m_lo)


def stationary_dmft(
    b: float,
    g: float,
    sigma: float,
    i0: float,
    nonlinearity: str = "relu",
    *,
    tau_max: float = 40.0,
    dtau: float = 0.01,
) -> StationaryDMFT:
    """Stationary DMFT solution (SPEC §6): mean, variance, plateau and ``c(tau)``.

    Args:
      b: balance (mean coupling ``-b/N``, input ``u = b I0``), ``>= 0``.
      g: disorder strength, ``>= 0``.
      sigma: private white-noise amplitude, ``>= 0``.
      i0: constant input level ``I0``.
      nonlinearity: ``relu``, ``tanh`` or ``identity``.
      tau_max: largest lag of the tabulated ``c(tau)``.
      dtau: lag spacing.

    Raises:
      ValueError: invalid parameters, or no stationary solution (activity diverges).
    """
    _check_model(b, g, sigma, i0, nonlinearity)
    _check_finite("tau_max", tau_max, 0.0)
    _check_finite("dtau", dtau, 0.0)
    if not (0.0 < dtau < tau_max):
        raise ValueError(f"dtau must lie in (0, tau_max={tau_max!r}), got {dtau!r}")
    s = _moments(nonlinearity, b * i0, -b, g, sigma)
    tau = _lag_grid(tau_max, dtau)
    c = _autocorrelation_curve(nonlinearity, g, sigma, s, tau)
    std = math.sqrt(s.c0)
    fraction_active = float(special.ndtr(s.m / std)) if std > 0 else float(s.m > 0)
    return StationaryDMFT(
        b=float(b),
        g=float(g),
        sigma=float(sigma),
        i0=float(i0),
        nonlinearity=nonlinearity,
        mu0=s.m,
        nu0=float(gaussian_mean(nonlinearity, s.m, s.c0)),
        c0=s.c0,
        c_static=s.c_inf,
        fraction_active=fraction_active,
        rate_slope=_rate_slope(nonlinearity, b, g, sigma, i0),
        decay_rate=_decay_rate(nonlinearity, g, s),
        tau=tau,
        c=c,
    )


def chaos_threshold(b: float, i0: float, sigma: float = 0.0, nonlinearity: str = "relu") -> float:
    """Critical ``g`` where ``g^2 E[phi'(h)^2] = 1`` on the self-consistent stationary state.

    ``sigma = 0``: the static fixed point ``c0 = g^2 E[phi^2]`` loses stability there
    (Sompolinsky et al. 1988; for relu with ``I0 > 0`` homogeneity makes it ``sqrt(2)``
    for every ``b``), and the largest Lyapunov exponent ``-1 + g sqrt(E[phi'^2])`` crosses
    zero exactly there.  ``sigma > 0``: the same spectral-radius criterion evaluated on the
    noise-driven stationary state (its variance ``c0`` includes the noise).  This is NOT
    where the largest Lyapunov exponent crosses zero: with noise ``q'(tau)`` is not constant,
    the ground state of the tangent problem lies above ``-g^2 q'(0)``, and the exponent is
    still negative at the returned ``g`` (b = 4, I0 = 1, sigma = 0.5: -0.048).  It is a lower
    bound of the chaos threshold; the threshold itself (the root of the DMFT exponent) is
    :func:`tightbalance.theory.lyapunov.dmft_chaos_threshold`.
    """
    _check_model(b, 0.0, sigma, i0, nonlinearity)

    def criterion(g: float) -> float:
        if sigma > 0.0:
            s = _moments(nonlinearity, b * i0, -b, g, sigma)
            m, c0 = s.m, s.c0
        else:
            m, c0 = _static_fixed_point(nonlinearity, b * i0, -b, g)
        return g * g * float(gaussian_slope_square(nonlinearity, m, c0)) - 1.0

    step = 0.05
    lower = 0.0
    while True:
        upper = lower + step
        try:
            above = criterion(upper) >= 0.0
        except ValueError as error:
            raise ValueError(
                f"no chaos threshold for b={b!r}, i0={i0!r}, sigma={sigma!r}: "
                f"the activity diverges at g={upper:.2f} before the state loses stability"
            ) from error
        if above:
            break
        if upper > 50.0:
            raise ValueError(f"no chaos threshold below g = 50 for b={b!r}, i0={i0!r}, sigma={sigma!r}")
        lower = upper
    return optimize.brentq(criterion, lower, upper, xtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Time-resolved DMFT for a given input path (SPEC §6).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeResolvedDMFT:
    """Time-resolved DMFT on the grid ``t_k = k dt`` (SPEC §6).

    Attributes:
      t: times ``k dt``, ``k = 0 .. K`` (``[K+1]``); ``t_0`` is the stationary start.
      u: input ``u[k]`` acting during step ``k -> k+1`` (``[K]``).
      m: mean input current ``m(t_k)``.
      nu: population rate ``nu(t_k) = E[phi(m + sqrt(c(t,t)) z)]``.
      c_tt: equal-time variance ``c(t_k, t_k)``.
      c_band: ``c(t_k, t_k - n dt)`` for ``n = 0 .. bandwidth`` (``[K+1, L+1]``), or ``None``.
      dt, b, g, sigma, nonlinearity, bandwidth: the model and the band width in steps.
    """

    t: np.ndarray
    u: np.ndarray
    m: np.ndarray
    nu: np.ndarray
    c_tt: np.ndarray
    c_band: np.ndarray | None
    dt: float
    b: float
    g: float
    sigma: float
    nonlinearity: str
    bandwidth: int


def _linear_recurrence(a: float, start, source):
    """``y_{j+1} = a y_j + source_j`` from ``y_0 = start``; returns ``y_1 .. y_n`` (associative scan)."""

    def combine(left, right):
        return left[0] * right[0], right[0] * left[1] + right[1]

    decay, offset = jax.lax.associative_scan(combine, (jnp.full_like(source, a), source))
    return decay * start + offset


@functools.lru_cache(maxsize=16)
def _band_solver(nonlinearity: str, lags: int, keep_band: bool):
    """A jit-compiled scan of the two-time recursion over the steps of the input.

    Euler discretisation of ``(d/dt+1)(d/dt'+1) c = g^2 q + sigma^2 delta`` with
    ``a = 1 - dt`` (exact for the Euler–Maruyama network of SPEC §2 at ``N -> inf``)::

        c(k+1, l)   = a c(k, l) + psi(k, l)
        psi(k, l+1) = a psi(k, l) + dt^2 g^2 q(k, l) + sigma^2 dt [l = k]
        m(k+1)      = a m(k) + dt (-b nu(k) + u(k))

    ``psi(k, l) = dt E[r(k) delta(l)]`` is the correlation of the drive at ``k`` with the
    state at ``l``; the row ``c(k+1, .)`` needs only the row ``c(k, .)`` and the history of
    ``m`` and ``c(t, t)``.  Beyond the band of ``L`` lags the source is held at its edge
    value ``q(k, k-L)`` (the plateau carried to infinite lag), which gives the start
    ``psi(k, k+1-L) = dt g^2 q(k, k-L)`` (a geometric sum, ``sum_j a^j dt = 1``).
    Carry: ``(row, m_history, c_tt_history)`` with the history indexed ``L + 1 + k``; the
    model ``(g, sigma, dt, b)`` is a traced argument, so one compilation serves all models.
    """
    offset = lags + 1

    def step(model, carry, inputs):
        g, sigma, dt, b = model
        a = 1.0 - dt
        row, m_hist, c_hist = carry
        k, u_k = inputs
        i = offset + k
        m_i, c_i = m_hist[i], c_hist[i]
        m_past = jax.lax.dynamic_slice(m_hist, (i - lags,), (lags + 1,))[::-1]  # lags 0..L
        c_past = jax.lax.dynamic_slice(c_hist, (i - lags,), (lags + 1,))[::-1]
        nu = gaussian_mean(nonlinearity, m_i, c_i, JAX)
        q_row = product_mean(nonlinearity, m_i, m_past, c_i, c_past, row, JAX)
        source = dt * dt * g * g * q_row[-2::-1]  # l = k+1-L .. k  (lags L-1 .. 0)
        source = source.at[-1].add(sigma * sigma * dt)
        psi_start = dt * g * g * q_row[-1]
        psi = jnp.concatenate([psi_start[None], _linear_recurrence(a, psi_start, source)])  # l = k+1-L .. k+1
        shifted = a * row[:-1] + psi[-2::-1]  # c(k+1, k+1-n), n = 1..L
        new_row = jnp.concatenate([(a * shifted[0] + psi[-1])[None], shifted])
        m_hist = m_hist.at[i + 1].set(a * m_i + dt * (-b * nu + u_k))
        c_hist = c_hist.at[i + 1].set(new_row[0])
        return (new_row, m_hist, c_hist), (nu, new_row if keep_band else jnp.zeros(0))

    @jax.jit
    def solve(model, row, m_hist, c_hist, drive):
        steps = (jnp.arange(drive.size), drive)
        (row, m_hist, c_hist), (nu, rows) = jax.lax.scan(
            functools.partial(step, model), (row, m_hist, c_hist), steps
        )
        last = offset + drive.size
        nu_last = gaussian_mean(nonlinearity, m_hist[last], c_hist[last], JAX)
        return m_hist, c_hist, jnp.concatenate([nu, nu_last[None]]), rows

    return solve


def time_resolved_dmft(
    u,
    dt: float,
    b: float,
    g: float,
    sigma: float,
    nonlinearity: str = "relu",
    *,
    bandwidth: float = 10.0,
    warmup: float = 20.0,
    keep_band: bool = False,
) -> TimeResolvedDMFT:
    """Solve the DMFT of SPEC §6 forward in time for the input path ``u`` (``u[k]`` on ``[k dt, (k+1) dt)``).

    The mean follows ``m(k+1) = a m(k) + dt (-b nu(k) + u(k))``, ``a = 1 - dt``; the
    two-time correlation is advanced row by row on a band of lags ``|t - t'| <= bandwidth``
    (see :func:`_band_step`), the plateau carried beyond the band edge.  This is the
    ``N -> inf`` limit of the Euler–Maruyama network at the same ``dt``, so it is
    compared with simulations at that ``dt`` without time-step bias.

    The start is the stationary state for ``u[0]``: the continuous-time solution of
    :func:`stationary_dmft` is relaxed for ``warmup`` under the constant input ``u[0]`` to
    the stationary state of the discrete scheme (the lead-in is not returned).

    Args:
      u: input path ``[K]`` (``u = b (I0 + A x(t))`` in SPEC §6 convention).
      dt: time step (units of tau), in ``(0, 1)``.
      b, g, sigma, nonlinearity: model as in :func:`stationary_dmft`.
      bandwidth: largest lag kept (units of tau); rounded to a whole number of steps.
      warmup: lead-in under ``u[0]`` (units of tau).
      keep_band: also return the band ``c(t, t - n dt)`` (memory ``K x L``).
    """
    u = np.asarray(u, dtype=float)
    if u.ndim != 1 or u.size < 1 or not np.all(np.isfinite(u)):
        raise ValueError(f"u must be a non-empty 1-D array of finite numbers, got shape {u.shape}")
    _check_model(b, g, sigma, 0.0, nonlinearity)
    _check_finite("dt", dt, 0.0)
    if not 0.0 < dt < 1.0:
        raise ValueError(f"dt must lie in (0, 1) (units of tau), got {dt!r}")
    _check_finite("bandwidth", bandwidth, 0.0)
    _check_finite("warmup", warmup, 0.0)
    lags = int(round(bandwidth / dt))
    if lags < 2:
        raise ValueError(f"bandwidth must cover at least 2 steps of dt={dt!r}, got {bandwidth!r}")

    start = _moments(nonlinearity, float(u[0]), -b, g, sigma)
    c_start = _autocorrelation_curve(nonlinearity, g, sigma, start, _lag_grid(lags * dt, dt))
    n_warm = int(round(warmup / dt))
    drive = np.concatenate([np.full(n_warm, u[0]), u])
    n_steps = drive.size
    offset = lags + 1  # a stationary prehistory of L + 1 points precedes the first step
    solve = _band_solver(nonlinearity, lags, keep_band)
    with jax.enable_x64(True):
        m, c_tt, nu, rows = solve(
            jnp.asarray([g, sigma, dt, b], dtype=jnp.float64),
            jnp.asarray(c_start),
            jnp.full(offset + n_steps + 1, start.m),
            jnp.full(offset + n_steps + 1, start.c0),
            jnp.asarray(drive),
        )
        m, c_tt, nu = (np.asarray(x, dtype=float) for x in (m, c_tt, nu))
        band = np.asarray(rows, dtype=float) if keep_band else None
    if band is not None:
        first = band[n_warm - 1] if n_warm > 0 else c_start
        band = np.concatenate([first[None], band[n_warm:]])
    keep = slice(offset + n_warm, offset + n_steps + 1)
    return TimeResolvedDMFT(
        t=dt * np.arange(u.size + 1),
        u=u,
        m=m[keep],
        nu=nu[n_warm:],
        c_tt=c_tt[keep],
        c_band=band,
        dt=float(dt),
        b=float(b),
        g=float(g),
        sigma=float(sigma),
        nonlinearity=nonlinearity,
        bandwidth=lags,
    )


INPUT_KINDS = ("ou", "sine", "step")


def input_path(
    kind: str,
    n_steps: int,
    dt: float,
    *,
    b: float,
    i0: float,
    amplitude: float,
    tau_s: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """Common input ``u(t_k) = b (I0 + A x(t_k))``, ``t_k = k dt`` (SPEC §6 convention).

    ``kind``: ``ou`` — an exact OU realisation of unit variance and correlation time
    ``tau_s`` (:func:`tightbalance.signals.sample_ou`, key from ``seed``); ``sine`` —
    ``x = sin(t / tau_s)`` (period ``2 pi tau_s``); ``step`` — ``x = 0`` before
    ``t = n_steps dt / 4`` and 1 after.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"input kind must be one of {list(INPUT_KINDS)}, got {kind!r}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    _check_finite("tau_s", tau_s, 0.0)
    t = dt * np.arange(n_steps)
    if kind == "ou":
        x = np.asarray(sample_ou(jax.random.PRNGKey(seed), n_steps, dt, tau_s, 1.0), dtype=float)
    elif kind == "sine":
        if tau_s <= 0.0:
            raise ValueError(f"tau_s must be > 0 for a sine input, got {tau_s!r}")
        x = np.sin(t / tau_s)
    else:
        x = (t >= n_steps * dt / 4).astype(float)
    return b * (i0 + amplitude * x)


# ---------------------------------------------------------------------------------------------
# Finite networks driven by a common input, for comparison with the theory (SPEC §6).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopulationRecord:
    """Population statistics of simulated networks, one row per realisation of ``J``.

    Attributes:
      t: times ``k dt``, ``k = 0 .. K`` (``t_0``: the state after the burn-in), ``[K+1]``.
      u: the common input, ``u[k]`` acting during step ``k -> k+1``, ``[K]``.
      m: population mean of ``h``, ``[R, K+1]``.
      nu: population mean rate, ``[R, K+1]``.
      c_tt: across-unit variance of ``h`` about the population mean, ``[R, K+1]``.
      h_units: ``h`` of the first ``record_units`` units, ``[R, K+1, record_units]``.
    """

    t: np.ndarray
    u: np.ndarray
    m: np.ndarray
    nu: np.ndarray
    c_tt: np.ndarray
    h_units: np.ndarray


def simulate_population(
    u,
    dt: float,
    b: float,
    g: float,
    sigma: float,
    *,
    n_units: int,
    n_realisations: int,
    seed: int = 0,
    nonlinearity: str = "relu",
    burn_in: float = 20.0,
    record_units: int = 0,
) -> PopulationRecord:
    """Euler–Maruyama simulation (SPEC §2, float32 JAX) of ``J = -b/N + g Z/sqrt(N)``.

    Every unit receives the common input ``u[k]`` during step ``k``; before the record the
    network relaxes for ``burn_in`` under the constant input ``u[0]`` from
    ``h = u[0]/(1+b)`` plus unit-variance noise.  Each realisation draws its own ``J``
    and noise from ``seed``.  The record is aligned with :func:`time_resolved_dmft`.
    """
    u = np.asarray(u, dtype=float)
    if u.ndim != 1 or u.size < 1:
        raise ValueError(f"u must be a non-empty 1-D array, got shape {u.shape}")
    _check_model(b, g, sigma, 0.0, nonlinearity)
    _check_finite("dt", dt, 0.0)
    if dt <= 0.0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    if n_units < 2 or n_realisations < 1:
        raise ValueError(f"need n_units >= 2 and n_realisations >= 1, got {n_units}, {n_realisations}")
    if not 0 <= record_units <= n_units:
        raise ValueError(f"record_units must lie in [0, n_units={n_units}], got {record_units}")
    phi = rate_function(nonlinearity)
    n_burn = max(int(round(burn_in / dt)), 1)
    signals = jnp.asarray(u, dtype=jnp.float32)[:, None, None]
    constant = jnp.full((n_burn, 1, 1), u[0], dtype=jnp.float32)

    def record(h):
        h = h[:, 0]
        return jnp.mean(h), jnp.mean(phi(h)), jnp.var(h), h[:record_units]

    @jax.jit
    def run(params, key):
        k_start, k_burn, k_run = jax.random.split(key, 3)
        h0 = u[0] / (1.0 + b) + jax.random.normal(k_start, (n_units, 1))
        h_burn, _ = simulate_streaming(
            params, h0, constant, k_burn, dt=dt, sigma=sigma, nonlinearity=nonlinearity,
            record=lambda h: jnp.zeros((), h.dtype),
        )  # fmt: skip
        _, recorded = simulate_streaming(
            params, h_burn, signals, k_run, dt=dt, sigma=sigma, nonlinearity=nonlinearity, record=record
        )
        first = record(h_burn)
        return [jnp.concatenate([x0[None], x]) for x0, x in zip(first, recorded, strict=True)]

    rows = []
    for key in jax.random.split(jax.random.PRNGKey(seed), n_realisations):
        k_net, k_run = jax.random.split(key)
        params = init_random_balanced(k_net, n_units, 1, g=g, gbar=-b, ws_mean=1.0, ws_std=0.0)
        rows.append([np.asarray(x, dtype=float) for x in run(params, k_run)])
    m, nu, c_tt, h_units = (np.stack(column) for column in zip(*rows, strict=True))
    return PopulationRecord(t=dt * np.arange(u.size + 1), u=u, m=m, nu=nu, c_tt=c_tt, h_units=h_units)


def population_autocorrelation(record: PopulationRecord, max_lag: int) -> np.ndarray:
    """``c(n dt)``, ``n = 0 .. max_lag``: mean over realisations, times and recorded units of
    ``(h_i(t) - m(t)) (h_i(t + n dt) - m(t + n dt))`` (plateau included; stationary input)."""
    delta = record.h_units - record.m[..., None]
    n_times = delta.shape[1]
    if not 0 <= max_lag < n_times or delta.shape[2] == 0:
        raise ValueError(f"max_lag must lie in [0, {n_times - 1}] with recorded units, got {max_lag}")
    return np.array([np.mean(delta[:, n:] * delta[:, : n_times - n]) for n in range(max_lag + 1)])
