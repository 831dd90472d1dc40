"""Mean-field linear response and information rate of the nonlinear network (SPEC §5.2).

Convention (SPEC §6): mean coupling ``-b/N``, random part ``g Z/sqrt(N)``, input
``u(t) = b (I0 + eta(t))``, private noise ``sigma``, ``tau = 1``.  The stationary state
comes from :func:`tightbalance.theory.meanfield.stationary_dmft`.

Mean mode.  Linearising ``m' = -m - b nu(m, c) + u`` about the stationary state,

    chi(w) = b / (1 + b nu'_eff + i w),

with ``nu'_eff`` either
* 'adiabatic': ``d nu0 / d mu0`` along stationary solutions (the DMFT ``rate_slope``;
  includes the change of the field variance with the mean, SPEC §5.2), exact for slow
  inputs; or
* 'local': ``E[phi'(h)]`` (the fraction of active units for relu) at frozen variance,
  the response to inputs faster than the variance can follow.
For ``g = 0`` the two coincide.  Above the relu chaos threshold the adiabatic slope is
negative (``mu0 < 0`` and homogeneity give ``d nu0/d mu0 = nu0/mu0``) and
``1 + b nu'`` can change sign, which a dynamic response cannot do; there 'auto' (the
default) takes the local slope.

Noise of one unit.  ``h_i = m(t) + delta_i(t)`` with ``delta`` the DMFT fluctuation; its
temporal part has spectrum ``S_delta(w) = (sigma^2 + g^2 S_q(w)) / (1 + w^2)``
(:meth:`StationaryDMFT.noise_spectrum`: the private noise, and for ``g > 0`` the chaotic
recurrent field, as noise).  The quenched part (plateau ``c_static``) is a constant per
unit and carries no noise.

Noise of the population mean (leading order in ``1/N``).  Decompose each rate
``phi(h_j) = nu + E[phi'] delta_j + r_j`` (``r_j`` uncorrelated with ``delta_j`` by
Stein's lemma).  The population mean of ``h`` then receives, besides the signal
``b eta``, the noise ``sigma xi_bar - b r_bar + (g/N) sum_j zeta_j phi_j`` (``zeta_j``
the column sums of ``Z/sqrt(N)``), all through the same filter as the signal, so

    SNR_pop(w) = N b^2 S_eta(w) / (sigma^2 + b^2 S_r(w) + g^2 S_q(w)),
    S_r = S_q - E[phi']^2 S_delta,

``S_q`` the spectrum of the temporal part of ``q(tau) = E[phi(h(t)) phi(h(t+tau))]``.
The rectification noise ``b^2 S_r`` enters like the signal, so for relu the
population rate saturates at large ``b`` where the linear network's grows linearly.

Smooth chaos (``sigma = 0``).  Then ``S_delta = g^2 S_q / (1 + w^2)``; the relu kinks
make ``S_q ~ 1/w^4``, so ``S_delta ~ 1/w^6`` while the signal ``|chi|^2 S_eta ~ 1/w^4``:
the SNR grows like ``w^2`` and the rate diverges (like ``(1/dt) ln(1/dt)`` on a grid).
The methods then warn; the values they return are set by the numerical floor of the
tabulated spectra, not by the physics.

On a time grid (step ``dt``) the filters are the Euler maps of
:func:`tightbalance.theory.linear.transfer`, the input spectrum the sampled OU
spectrum, and the integral runs over ``|w| <= pi/dt``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import integrate

from tightbalance.signals import ou_spectrum, ou_spectrum_sampled
from tightbalance.theory import linear
from tightbalance.theory.gaussian import gaussian_slope_mean, product_mean
from tightbalance.theory.meanfield import StationaryDMFT, cosine_transform, stationary_dmft

__all__ = ["SLOPES", "MeanFieldResponse", "relu_response"]

SLOPES = ("auto", "adiabatic", "local")
_W_SPLIT = 20.0  # rad/tau: uniform grid below, geometric above
# Spectra below this fraction of their zero-frequency value are numerical noise of the
# tabulated DMFT solution (double precision, piecewise-linear transform); they are
# floored there.  This matters only for sigma = 0 (smooth chaotic field), see
# docs/notes/issue-3.md.
_RELATIVE_NOISE_FLOOR = 1e-12


@dataclass(frozen=True)
class MeanFieldResponse:
    """Linear response of the mean mode and noise spectra of the stationary DMFT state (SPEC §5.2).

    Attributes:
      dmft: the stationary solution.
      slope: 'adiabatic' or 'local' (resolved from 'auto'), see the module docstring.
      rate_slope: the ``nu'_eff`` used in ``chi``.
    """

    dmft: StationaryDMFT
    slope: str
    rate_slope: float

    @property
    def b(self) -> float:
        return self.dmft.b

    @property
    def relaxation_rate(self) -> float:
        """``1 + b nu'_eff``: the rate at which the population mean follows the input."""
        return 1.0 + self.b * self.rate_slope

    def susceptibility(self, omega, dt: float | None = None):
        """``chi(w) = b G_{1 + b nu'}(w)`` (continuous, or the Euler map on a grid)."""
        return self.b * linear.transfer(omega, self.relaxation_rate, dt)

    @cached_property
    def _phi_products(self) -> tuple[np.ndarray, float]:
        """``q(tau) - q_inf`` on the DMFT lag grid."""
        d = self.dmft
        q = product_mean(d.nonlinearity, d.mu0, d.mu0, d.c0, d.c0, d.c)
        q_inf = float(product_mean(d.nonlinearity, d.mu0, d.mu0, d.c0, d.c0, d.c_static))
        return q - q_inf, q_inf

    @cached_property
    def local_slope(self) -> float:
        """``E[phi'(h)]`` in the stationary state (fraction active for relu)."""
        return float(gaussian_slope_mean(self.dmft.nonlinearity, self.dmft.mu0, self.dmft.c0))

    def rate_spectrum(self, omega) -> np.ndarray:
        """``S_q(w)``: spectrum of the temporal fluctuations of one unit's rate ``phi(h)``."""
        omega = np.asarray(omega, dtype=float)
        flat = cosine_transform(self._phi_products[0], self.dmft.tau, omega.ravel(), self.dmft.decay_rate)
        return flat.reshape(omega.shape)

    @cached_property
    def _noise_floor(self) -> float:
        return _RELATIVE_NOISE_FLOOR * float(self.dmft.noise_spectrum(np.zeros(1))[0])

    def unit_noise_spectrum(self, omega, dt: float | None = None) -> np.ndarray:
        """Noise of one unit's ``h``: ``(sigma^2 + g^2 S_q) |G_1|^2`` (continuous: ``S_delta``)."""
        omega = np.asarray(omega, dtype=float)
        continuous = np.maximum(self.dmft.noise_spectrum(omega), self._noise_floor / (1.0 + omega**2))
        if dt is None:
            return continuous
        drive = continuous * (1.0 + omega**2)  # sigma^2 + g^2 S_q
        return drive * np.abs(linear.transfer(omega, 1.0, dt)) ** 2

    def population_noise_drive(self, omega) -> np.ndarray:
        """``sigma^2 + b^2 S_r(w) + g^2 S_q(w)``: noise entering the population mean, times ``N``."""
        omega = np.asarray(omega, dtype=float)
        d = self.dmft
        s_q = self.rate_spectrum(omega).reshape(omega.shape)
        s_delta = d.noise_spectrum(omega)
        residual = np.maximum(s_q - self.local_slope**2 * s_delta, 0.0)
        drive = d.sigma**2 + self.b**2 * residual + d.g**2 * s_q
        return np.maximum(drive, self._drive_floor)

    @cached_property
    def _drive_floor(self) -> float:
        d = self.dmft
        at_zero = d.sigma**2 + (self.b**2 + d.g**2) * float(self.rate_spectrum(np.zeros(1))[0])
        return _RELATIVE_NOISE_FLOOR * at_zero

    def unit_snr(self, omega, *, signal_std: float, tau_s: float, dt: float | None = None):
        var = signal_std**2
        spectrum = (
            ou_spectrum(omega, tau_s, var) if dt is None else ou_spectrum_sampled(omega, dt, tau_s, var)
        )
        gain = np.abs(self.susceptibility(omega, dt)) ** 2
        return gain * spectrum / self.unit_noise_spectrum(omega, dt)

    def population_snr(
        self, omega, *, signal_std: float, tau_s: float, n_units: float, dt: float | None = None
    ):
        var = signal_std**2
        spectrum = (
            ou_spectrum(omega, tau_s, var) if dt is None else ou_spectrum_sampled(omega, dt, tau_s, var)
        )
        return n_units * self.b**2 * spectrum / self.population_noise_drive(omega)

    def _grid(self, dt: float | None) -> np.ndarray:
        """Frequencies of the rate integral: uniform below ``_W_SPLIT``, geometric above, up to ``W``."""
        lag_step = self.dmft.tau[1] - self.dmft.tau[0]
        w_max = math.pi / dt if dt is not None else math.pi / (2.0 * lag_step)
        low = np.linspace(0.0, min(_W_SPLIT, w_max), 801)
        high = np.geomspace(_W_SPLIT, w_max, 600) if w_max > _W_SPLIT else np.empty(0)
        return np.unique(np.concatenate([low, high]))

    def unit_rate(
        self, *, signal_std: float, tau_s: float, dt: float | None = None, unit: str = "bits"
    ) -> float:
        """Rate between ``eta`` and one unit's ``h`` (``N -> inf``)."""
        _warn_if_smooth_chaos(self)
        omega = self._grid(dt)
        return _integrate_rate(
            omega, self.unit_snr(omega, signal_std=signal_std, tau_s=tau_s, dt=dt), dt, unit
        )

    def population_rate(
        self, *, signal_std: float, tau_s: float, n_units: float, dt: float | None = None, unit: str = "bits"
    ) -> float:
        """Rate between ``eta`` and the population mean of ``h`` (leading order in ``1/N``)."""
        _warn_if_smooth_chaos(self)
        omega = self._grid(dt)
        snr = self.population_snr(omega, signal_std=signal_std, tau_s=tau_s, n_units=n_units, dt=dt)
        return _integrate_rate(omega, snr, dt, unit)


def _warn_if_smooth_chaos(response: MeanFieldResponse) -> None:
    if response.dmft.sigma == 0.0:
        warnings.warn(
            "sigma = 0: the only noise is the smooth chaotic field; the rate diverges as dt -> 0 and the "
            "value returned is set by the numerical floor of the spectra",
            RuntimeWarning,
            stacklevel=3,
        )


def _integrate_rate(omega: np.ndarray, snr: np.ndarray, dt: float | None, unit: str) -> float:
    """``(1/2 pi) ∫_0^W ln(1 + SNR) dw`` by Simpson's rule on ``omega`` (``W = omega[-1]``).

    On a time grid ``W = pi/dt``.  In continuous time the tabulated DMFT spectra are
    trusted up to ``W = pi / (2 dtau)`` (half the lag grid's Nyquist frequency) and the
    tail beyond is added assuming ``SNR ∝ 1/w^2`` there: ``∫_W^inf ln(1+SNR) ≈ SNR(W) W``.
    """
    total = integrate.simpson(np.log1p(snr), x=omega)
    if dt is None:
        total += snr[-1] * omega[-1]
    return linear.convert_rate(total / (2.0 * math.pi), unit)


def relu_response(
    b: float, *, g: float, sigma: float, i0: float, slope: str = "auto", nonlinearity: str = "relu"
) -> MeanFieldResponse:
    """Mean-field response of the relu network at balance ``b`` (SPEC §5.2, §6 convention).

    Args:
      slope: 'adiabatic', 'local' or 'auto' (adiabatic unless ``1 + b nu'_adiabatic <= 0``
        or the slope is undefined, then local).
    """
    if slope not in SLOPES:
        raise ValueError(f"slope must be one of {SLOPES}, got {slope!r}")
    dmft = stationary_dmft(b, g, sigma, i0, nonlinearity)
    local = float(gaussian_slope_mean(nonlinearity, dmft.mu0, dmft.c0))
    adiabatic = dmft.rate_slope
    usable = math.isfinite(adiabatic) and 1.0 + b * adiabatic > 0.0
    if slope == "adiabatic" and not usable:
        raise ValueError(
            f"the adiabatic slope nu'={adiabatic!r} gives 1 + b nu' <= 0 at b={b}, g={g}: use slope='local'"
        )
    chosen = "adiabatic" if slope == "adiabatic" or (slope == "auto" and usable) else "local"
    return MeanFieldResponse(
        dmft=dmft, slope=chosen, rate_slope=adiabatic if chosen == "adiabatic" else local
    )
