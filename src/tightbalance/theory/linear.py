"""Information rate of the linear network: closed forms and a numerical integral (SPEC §5.1).

Convention (SPEC §6): ``N`` linear units (``phi`` = identity, ``g = 0``), all couplings
``J_ij = -b/N`` (diagonal included), common input ``u(t) = b (I0 + eta(t))`` with
``eta`` an OU process of variance ``var = signal_std**2`` and time constant ``tau_s``,
private white noise of intensity ``sigma**2``, ``tau = 1``::

    h_i' = -h_i - b m + u + sigma xi_i,        m = (1/N) sum_j h_j
    m'   = -(1 + b) m + u + sigma xi_bar,      xi_bar = (1/N) sum_j xi_j

Writing ``G_r(w) = 1/(r + i w)``, one unit is ``h_i = G_{1+b} (u + sigma xi_bar)
+ G_1 sigma (xi_i - xi_bar)``: the population average of the private noises is fed
back through ``-b`` (and so filtered like the signal), the rest is filtered by the
unit alone.  ``xi_bar`` (intensity 1/N) and ``xi_i - xi_bar`` (intensity 1 - 1/N)
are uncorrelated, hence

    SNR_unit(w) = b^2 S_eta(w) |G_{1+b}|^2 / (sigma^2 [|G_{1+b}|^2 / N + (1 - 1/N) |G_1|^2])
                = K (1 + w^2) / ((1 + w^2 tau_s^2) (w^2 + a^2)),
    a^2 = (1 - 1/N)(1 + b)^2 + 1/N,          K = 2 var tau_s b^2 / sigma^2,

and for the population mean ``SNR_pop(w) = N b^2 S_eta(w) / sigma^2 = N K / (1 + w^2 tau_s^2)``
(signal and noise share the filter ``G_{1+b}``).  ``1 + SNR`` is a ratio of
polynomials in ``x = w^2`` with equal leading coefficients; factoring both and using
``∫ ln((w^2 + p^2)/(w^2 + q^2)) dw = 2 pi (p - q)`` gives

    R = (1/4 pi) ∫ ln(1 + SNR(w)) dw = (1/2) (sum_k sqrt(p_k) - sum_k sqrt(q_k))   [nats / tau]

with ``-p_k`` (``-q_k``) the roots of the numerator (denominator).  In particular
``R_pop = (sqrt(1 + N K) - 1) / (2 tau_s)``.

On a time grid (Euler–Maruyama, step ``dt``) the same formulas hold with the Euler
map transfer ``G_r(w) = dt / (1 - (1 - r dt) e^{-i w dt})`` and the sampled OU
spectrum :func:`tightbalance.signals.ou_spectrum_sampled`, integrated over
``|w| <= pi/dt``.  The population rate on the grid is again closed form (Jensen's
formula ``∫ ln|1 - rho e^{-i theta}|^2 d theta = 0`` for ``|rho| < 1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate

from tightbalance.signals import ar1_coefficient, ou_spectrum, ou_spectrum_sampled

__all__ = [
    "BITS_PER_NAT",
    "convert_rate",
    "info_rate_numerical",
    "rate_from_rational_snr",
    "snr_constant",
    "transfer",
    "unit_snr",
    "population_snr",
    "unit_rate",
    "population_rate",
    "unit_rate_small_b",
    "population_rate_small_b",
    "unit_slope_large_b",
    "population_slope_large_b",
]

BITS_PER_NAT = 1.0 / math.log(2.0)
_UNITS = ("bits", "nats")
Spectrum = Callable[[np.ndarray], np.ndarray]


def convert_rate(rate_nats, unit: str):
    """A rate in nats per tau expressed in ``unit`` ('bits' or 'nats')."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {_UNITS}, got {unit!r}")
    return rate_nats * BITS_PER_NAT if unit == "bits" else rate_nats


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _check_model(b: float, sigma: float, signal_std: float, tau_s: float, n_units: float) -> None:
    _check_positive("b", b, allow_zero=True)
    _check_positive("sigma", sigma)
    _check_positive("signal_std", signal_std, allow_zero=True)
    _check_positive("tau_s", tau_s)
    if not (n_units >= 1):
        raise ValueError(f"n_units must be >= 1 (math.inf for the mean-field limit), got {n_units!r}")


def _check_dt(dt: float | None) -> None:
    if dt is not None:
        _check_positive("dt", dt)


def info_rate_numerical(
    snr: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    transfer: Spectrum | None = None,
    signal_spectrum: Spectrum | None = None,
    noise_spectrum: Spectrum | None = None,
    dt: float | None = None,
    unit: str = "bits",
    breakpoints: tuple[float, ...] = tuple(np.geomspace(1e-2, 1e3, 11)),
) -> float:
    """``R = (1/4 pi) ∫ ln(1 + SNR(w)) dw`` by adaptive quadrature (SPEC §5).

    Give either ``snr(w)`` or the three spectra, ``SNR = |transfer|^2 signal / noise``.
    The SNR must be even in ``w`` (real processes).  ``dt=None`` integrates over the
    whole real line (continuous time); a grid step ``dt`` integrates over
    ``|w| <= pi/dt`` (pass the discrete-time transfer and sampled spectra then).

    Args:
      breakpoints: frequencies splitting the half line for the quadrature (features
        of the integrand at several scales are resolved piecewise).

    Returns:
      The rate per unit time tau, in ``unit``.
    """
    _check_dt(dt)
    if snr is None:
        if transfer is None or signal_spectrum is None or noise_spectrum is None:
            raise ValueError("give snr, or all of transfer, signal_spectrum and noise_spectrum")

        def snr(w):
            return np.abs(transfer(w)) ** 2 * signal_spectrum(w) / noise_spectrum(w)

    def integrand(w: float) -> float:
        return float(np.log1p(snr(np.asarray(w, dtype=float))))

    upper = math.inf if dt is None else math.pi / dt
    edges = [0.0, *[w for w in breakpoints if w < upper], upper]
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        value, _ = integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-10, limit=400)
        total += value
    # (1/4 pi) ∫_{-W}^{W} = (1/2 pi) ∫_0^W for an even integrand.
    return convert_rate(total / (2.0 * math.pi), unit)


def rate_from_rational_snr(numerator, denominator, unit: str = "bits") -> float:
    """Closed-form rate when ``1 + SNR(w) = P(w^2) / Q(w^2)`` (SPEC §5.1).

    Args:
      numerator, denominator: coefficients of ``P`` and ``Q`` in ``x = w^2``, highest
        power first (``numpy.polyval`` order); equal degree and leading coefficient
        (``SNR -> 0`` as ``w -> inf``), all roots off the positive real axis.

    Returns:
      ``(1/2) (sum sqrt(p_k) - sum sqrt(q_k))`` with ``P(x) ∝ prod (x + p_k)``, in ``unit``.
    """
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    if numerator.shape != denominator.shape or not np.isclose(numerator[0], denominator[0]):
        raise ValueError("numerator and denominator must have equal degree and leading coefficient")
    # sqrt of -root on the principal branch: Re > 0, so ∫ ln((w^2+p^2)/(w^2+q^2)) = 2 pi (p - q).
    p = np.sqrt(-np.roots(numerator).astype(complex))
    q = np.sqrt(-np.roots(denominator).astype(complex))
    return convert_rate(0.5 * float(np.real(p.sum() - q.sum())), unit)


def snr_constant(b: float, *, sigma: float, signal_std: float, tau_s: float) -> float:
    """``K = 2 var tau_s b^2 / sigma^2``: the zero-frequency SNR of the input against the noise."""
    return 2.0 * signal_std**2 * tau_s * b**2 / sigma**2


def transfer(omega, rate: float, dt: float | None = None):
    """``G_r(w)``: response of ``x' = -r x + input``; ``1/(r + i w)``, or the Euler map on a grid.

    On the grid ``x[k] = (1 - r dt) x[k-1] + dt input[k]``, so
    ``G_r = dt / (1 - (1 - r dt) e^{-i w dt})``.
    """
    omega = np.asarray(omega, dtype=float)
    if dt is None:
        return 1.0 / (rate + 1j * omega)
    return dt / (1.0 - (1.0 - rate * dt) * np.exp(-1j * omega * dt))


def _input_spectrum(omega, signal_std: float, tau_s: float, dt: float | None):
    var = signal_std**2
    return ou_spectrum(omega, tau_s, var) if dt is None else ou_spectrum_sampled(omega, dt, tau_s, var)


def unit_snr(
    omega,
    b: float,
    *,
    sigma: float,
    signal_std: float,
    tau_s: float,
    n_units: float = math.inf,
    dt: float | None = None,
):
    """SNR of one unit's ``h_i`` about the input ``eta`` (module docstring), continuous or on a grid."""
    _check_model(b, sigma, signal_std, tau_s, n_units)
    _check_dt(dt)
    mean_mode = np.abs(transfer(omega, 1.0 + b, dt)) ** 2
    private = np.abs(transfer(omega, 1.0, dt)) ** 2
    noise = sigma**2 * (mean_mode / n_units + (1.0 - 1.0 / n_units) * private)
    return b**2 * _input_spectrum(omega, signal_std, tau_s, dt) * mean_mode / noise


def population_snr(
    omega,
    b: float,
    *,
    sigma: float,
    signal_std: float,
    tau_s: float,
    n_units: float,
    dt: float | None = None,
):
    """SNR of the population mean ``m``: ``N b^2 S_eta(w) / sigma^2`` (same filter for signal and noise)."""
    _check_model(b, sigma, signal_std, tau_s, n_units)
    _check_dt(dt)
    return n_units * b**2 * _input_spectrum(omega, signal_std, tau_s, dt) / sigma**2


def unit_rate(
    b: float,
    *,
    sigma: float,
    signal_std: float,
    tau_s: float,
    n_units: float = math.inf,
    dt: float | None = None,
    unit: str = "bits",
) -> float:
    """Rate between ``eta`` and one unit's ``h_i`` (exact for finite ``N``).

    Continuous time (``dt=None``): closed form from
    ``1 + SNR = [(1 + tau_s^2 x)(x + a^2) + K (1 + x)] / [(1 + tau_s^2 x)(x + a^2)]``,
    ``x = w^2``.  With ``dt``: the Euler-map SNR integrated over ``|w| <= pi/dt``.
    """
    _check_model(b, sigma, signal_std, tau_s, n_units)
    _check_dt(dt)
    if dt is not None:
        snr = lambda w: unit_snr(  # noqa: E731
            w, b, sigma=sigma, signal_std=signal_std, tau_s=tau_s, n_units=n_units, dt=dt
        )
        return info_rate_numerical(snr, dt=dt, unit=unit)
    big_k = snr_constant(b, sigma=sigma, signal_std=signal_std, tau_s=tau_s)
    a2 = (1.0 - 1.0 / n_units) * (1.0 + b) ** 2 + 1.0 / n_units
    denominator = np.polymul([tau_s**2, 1.0], [1.0, a2])
    numerator = np.polyadd(denominator, [big_k, big_k])
    return rate_from_rational_snr(numerator, denominator, unit)


def population_rate(
    b: float,
    *,
    sigma: float,
    signal_std: float,
    tau_s: float,
    n_units: float,
    dt: float | None = None,
    unit: str = "bits",
) -> float:
    """Rate between ``eta`` and the population mean ``m`` of ``N`` units.

    Continuous time: ``(sqrt(1 + N K) - 1) / (2 tau_s)``.  On a grid the SNR is
    ``c / |1 - a e^{-i theta}|^2`` (``theta = w dt``, ``a = e^{-dt/tau_s}``,
    ``c = N b^2 dt var (1 - a^2) / sigma^2``); writing ``|1 - a e^{-i theta}|^2 + c =
    kappa |1 - (a/kappa) e^{-i theta}|^2`` with ``kappa + a^2/kappa = 1 + a^2 + c``,
    Jensen's formula gives ``R = ln(kappa) / (2 dt)``.
    """
    _check_model(b, sigma, signal_std, tau_s, n_units)
    _check_dt(dt)
    if math.isinf(n_units):
        raise ValueError("n_units must be finite for the population rate, got inf")
    if dt is None:
        big_k = snr_constant(b, sigma=sigma, signal_std=signal_std, tau_s=tau_s)
        return convert_rate((math.sqrt(1.0 + n_units * big_k) - 1.0) / (2.0 * tau_s), unit)
    a = ar1_coefficient(dt, tau_s)
    c = n_units * b**2 * dt * signal_std**2 * (1.0 - a * a) / sigma**2
    s = 1.0 + a * a + c
    kappa = 0.5 * (s + math.sqrt(s * s - 4.0 * a * a))
    return convert_rate(math.log(kappa) / (2.0 * dt), unit)


def unit_rate_small_b(
    b: float, *, sigma: float, signal_std: float, unit: str = "bits", n_units: float = math.inf
) -> float:
    """Leading order for ``K -> 0``: ``R ≈ (1/4 pi) ∫ SNR dw = var b^2 / (2 sigma^2)`` (``a -> 1``).

    Quadratic in ``b``; accurate while ``b << 1`` (``a`` stays near 1) and ``K << 1``.
    ``n_units`` only enters through ``a``, which is 1 at ``b = 0`` for every ``N``.
    """
    del n_units  # a(b=0) = 1 for any N
    return convert_rate(signal_std**2 * b**2 / (2.0 * sigma**2), unit)


def population_rate_small_b(
    b: float, *, sigma: float, signal_std: float, n_units: float, unit: str = "bits"
) -> float:
    """Leading order for ``N K -> 0``: ``R ≈ N var b^2 / (2 sigma^2)``."""
    return convert_rate(n_units * signal_std**2 * b**2 / (2.0 * sigma**2), unit)


def unit_slope_large_b(
    *, sigma: float, signal_std: float, tau_s: float, n_units: float = math.inf, unit: str = "bits"
) -> float:
    """``lim R_unit / b = (1/2) (sqrt(alpha + rho) - sqrt(alpha))`` as ``b -> inf``.

    ``rho = 2 var / (tau_s sigma^2)``, ``alpha = 1 - 1/N``: rescaling ``w = b v`` the SNR
    tends to ``(rho) / (v^2 + alpha)`` — the band widens in proportion to ``b`` while the
    SNR inside it stays fixed, so ``R`` grows linearly in ``b``.
    """
    rho = 2.0 * signal_std**2 / (tau_s * sigma**2)
    alpha = 1.0 - 1.0 / n_units
    return convert_rate(0.5 * (math.sqrt(alpha + rho) - math.sqrt(alpha)), unit)


def population_slope_large_b(
    *, sigma: float, signal_std: float, tau_s: float, n_units: float, unit: str = "bits"
) -> float:
    """``lim R_pop / b = (1/2) sqrt(N rho)``, ``rho = 2 var / (tau_s sigma^2)``."""
    rho = 2.0 * signal_std**2 / (tau_s * sigma**2)
    return convert_rate(0.5 * math.sqrt(n_units * rho), unit)
