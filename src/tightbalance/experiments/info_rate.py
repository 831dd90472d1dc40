"""Information rate against balance: simulation, estimate, theory (SPEC §5, convention of §6).

``N`` units with couplings ``J = -b/N + g Z / sqrt(N)`` (Z iid standard normal, zero
diagonal; the mean part includes the diagonal, as in :mod:`tightbalance.theory.linear`),
common input ``u(t) = b (I0 + eta(t))`` with ``eta`` an exact OU path
(:func:`tightbalance.signals.sample_ou`), private noise ``sigma``, Euler–Maruyama with
step ``dt``.  All balances run in one compiled program (the balance is a batch axis)
and share the input path, the private noise and ``Z`` (common random numbers: each
estimate is an honest sample, the curve over ``b`` is smoother).  The mean coupling
is applied as the rank-one term ``-b mean(phi(h))``, so ``g = 0`` costs ``O(N)`` per
step.

Readouts: 'unit' — the mean over recorded units of the single-unit rate between
``eta`` and ``h_i``; 'population' — the rate between ``eta`` and ``m = mean_i h_i``.
Theory: :mod:`tightbalance.theory.linear` (linear) or :mod:`tightbalance.theory.response`
(relu), on the simulation grid.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from tightbalance.analysis.balance import mean_coupling
from tightbalance.analysis.information import checkpoint_info_rates, estimate_info_rate
from tightbalance.rundir import atomic_write_bytes, package_versions
from tightbalance.signals import sample_ou
from tightbalance.theory import linear
from tightbalance.theory.response import SLOPES, relu_response

__all__ = [
    "NONLINEARITIES",
    "READOUTS",
    "SLOPES",
    "InfoRateConfig",
    "SimulationRecord",
    "InfoRateResult",
    "simulate_common_input",
    "theory_rates",
    "fit_line",
    "run_info_rate_experiment",
    "write_results",
    "training_info_rates",
    "write_training_rates",
]

logger = logging.getLogger(__name__)

NONLINEARITIES = ("linear", "relu")
READOUTS = ("unit", "population")
CSV_COLUMNS = (
    "balance",
    "readout",
    "theory_bits_per_tau",
    "estimate_bits_per_tau",
    "ci_low",
    "ci_high",
    "standard_error",
    "raw_estimate_bits_per_tau",
    "theory_continuous_bits_per_tau",
)


@dataclass(frozen=True)
class InfoRateConfig:
    """Parameters of the rate-versus-balance experiment (time in units of tau)."""

    balances: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    nonlinearity: str = "linear"
    sigma: float = 1.0
    g: float = 0.0
    tau_s: float = 1.0
    signal_std: float = 0.05
    i0: float = 1.0
    n_units: int = 1000
    duration: float = 1000.0
    dt: float = 0.01
    seed: int = 0
    n_recorded_units: int = 20
    burn_in: float = 20.0
    n_blocks: int = 20
    fit_min_balance: float = 4.0
    slope: str = "auto"

    def __post_init__(self) -> None:
        if not self.balances or any(not (math.isfinite(b) and b >= 0) for b in self.balances):
            raise ValueError(f"balances must be finite numbers >= 0, got {self.balances!r}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {self.nonlinearity!r}")
        for name in ("sigma", "g", "signal_std", "i0"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("tau_s", "duration", "dt"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if self.n_units < 1:
            raise ValueError(f"n_units must be >= 1, got {self.n_units}")
        if not 1 <= self.n_recorded_units <= self.n_units:
            raise ValueError(
                f"n_recorded_units must be in [1, n_units={self.n_units}], got {self.n_recorded_units}"
            )
        if self.nonlinearity == "linear" and self.g != 0:
            raise ValueError(f"g must be 0 for the linear network (closed forms of SPEC §5.1), got {self.g}")
        if self.nonlinearity == "linear" and not self.sigma > 0:
            raise ValueError(
                f"sigma must be > 0 for the linear network (without noise R is infinite), got {self.sigma}"
            )
        if self.nonlinearity == "relu" and self.sigma == 0 and self.g == 0:
            raise ValueError("sigma or g must be > 0 for relu: without noise or chaos the rate is infinite")
        if not self.signal_std > 0:
            raise ValueError(
                f"signal_std must be > 0 (a constant input carries no information), got {self.signal_std}"
            )
        if self.slope not in SLOPES:
            raise ValueError(f"slope must be one of {SLOPES}, got {self.slope!r}")
        if self.n_blocks < 2:
            raise ValueError(
                f"n_blocks must be >= 2 for the jackknife confidence interval, got {self.n_blocks}"
            )
        if not math.isfinite(self.fit_min_balance):
            raise ValueError(f"fit_min_balance must be a finite number, got {self.fit_min_balance!r}")
        unstable = [b for b in self.balances if self.dt * (1.0 + b) >= 2.0]
        if unstable:
            raise ValueError(
                f"dt * (1 + b) must be < 2 for a stable Euler map; dt={self.dt} fails b={unstable}"
            )
        if self.duration / self.dt < 16 * self.n_blocks:
            raise ValueError(
                f"duration/dt = {self.duration / self.dt:.0f} steps is too short for n_blocks={self.n_blocks}"
            )
        if not (self.burn_in >= 0 and math.isfinite(self.burn_in)):
            raise ValueError(f"burn_in must be a finite number >= 0, got {self.burn_in!r}")

    def describe(self) -> str:
        """A one-line summary for figure titles."""
        return (
            f"{self.nonlinearity}, N={self.n_units}, sigma={self.sigma:g}, g={self.g:g}, "
            f"tau_s={self.tau_s:g}, std={self.signal_std:g}, I0={self.i0:g}, "
            f"dt={self.dt:g}, T={self.duration:g}"
        )

    @property
    def n_steps(self) -> int:
        return int(round(self.duration / self.dt))

    @property
    def n_burn_in(self) -> int:
        return int(round(self.burn_in / self.dt))


@dataclass(frozen=True)
class SimulationRecord:
    """``eta [T]`` input, ``population [T, B]`` mean of h, ``units [T, B, n]`` recorded units' h."""

    eta: np.ndarray
    population: np.ndarray
    units: np.ndarray


@dataclass(frozen=True)
class InfoRateResult:
    """One row per (balance, readout) in ``rows`` (keys ``CSV_COLUMNS``) and line fits in ``fits``."""

    config: InfoRateConfig
    rows: list[dict]
    fits: list[dict]


def _phi(nonlinearity: str):
    return jax.nn.relu if nonlinearity == "relu" else (lambda h: h)


def simulate_common_input(config: InfoRateConfig) -> SimulationRecord:
    """Simulate all balances of ``config`` in one ``lax.scan`` (float32) and record the readouts."""
    key_signal, key_noise, key_coupling = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    n_total = config.n_burn_in + config.n_steps
    eta = sample_ou(key_signal, n_total, config.dt, config.tau_s, config.signal_std)
    balances = jnp.asarray(config.balances, dtype=jnp.float32)[:, None]  # [B, 1]
    n, n_rec = config.n_units, config.n_recorded_units
    phi = _phi(config.nonlinearity)
    random_part = config.g * jax.random.normal(key_coupling, (n, n)) / math.sqrt(n)
    random_part = random_part * (1.0 - jnp.eye(n))
    use_random = config.g > 0
    dt, noise_scale = config.dt, config.sigma * math.sqrt(config.dt)

    def step(h, inputs):
        k, eta_k = inputs
        rates = phi(h)
        recurrent = -balances * jnp.mean(rates, axis=1, keepdims=True)
        if use_random:
            recurrent = recurrent + rates @ random_part.T
        xi = jax.random.normal(jax.random.fold_in(key_noise, k), (n,))
        h = h + dt * (-h + recurrent + balances * (config.i0 + eta_k)) + noise_scale * xi
        return h, (jnp.mean(h, axis=1), h[:, :n_rec])

    @jax.jit
    def run(eta_path):
        h0 = jnp.broadcast_to(balances * config.i0 / (1.0 + balances), (len(config.balances), n))
        _, (population, units) = jax.lax.scan(step, h0, (jnp.arange(n_total), eta_path))
        return population, units

    population, units = run(eta)
    keep = slice(config.n_burn_in, None)
    return SimulationRecord(
        eta=np.asarray(eta[keep], dtype=float),
        population=np.asarray(population[keep], dtype=float),
        units=np.asarray(units[keep]),
    )


@functools.lru_cache(maxsize=64)
def _relu_model(b: float, g: float, sigma: float, i0: float, slope: str):
    """The mean-field response (cached: the grid and continuous theories share the DMFT solution)."""
    return relu_response(b, g=g, sigma=sigma, i0=i0, slope=slope)


def theory_rates(config: InfoRateConfig, dt: float | None) -> dict[str, np.ndarray]:
    """Predicted rates in bits per tau for each readout and balance (``dt=None``: continuous time).

    NaN where there is no finite prediction: relu with ``sigma = 0`` (the only noise is
    the smooth chaotic field, whose spectrum falls faster than the signal's, so the
    integrand grows with frequency and the rate diverges as ``dt -> 0``; see
    :mod:`tightbalance.theory.response`), or no stationary mean-field state.
    """
    common = dict(signal_std=config.signal_std, tau_s=config.tau_s, dt=dt)
    if config.nonlinearity == "linear":
        common["sigma"] = config.sigma
        unit = [linear.unit_rate(b, n_units=config.n_units, **common) for b in config.balances]
        population = [linear.population_rate(b, n_units=config.n_units, **common) for b in config.balances]
    elif config.sigma == 0:  # smooth chaotic field only: no finite theory (docs/notes/issue-3.md)
        logger.warning(
            "no finite mean-field rate for relu with sigma=0 (g=%g): the smooth chaotic field's noise "
            "spectrum falls faster than the signal's, so the rate diverges as dt -> 0; theory set to NaN",
            config.g,
        )
        unit = population = [math.nan] * len(config.balances)
    else:
        unit, population = [], []
        for b in config.balances:
            try:
                model = _relu_model(b, config.g, config.sigma, config.i0, config.slope)
            except ValueError as error:  # no stationary state (e.g. g above divergence at b = 0)
                logger.warning("no mean-field theory at b=%g: %s", b, error)
                unit.append(math.nan)
                population.append(math.nan)
                continue
            unit.append(model.unit_rate(**common))
            population.append(model.population_rate(n_units=config.n_units, **common))
    return {"unit": np.asarray(unit), "population": np.asarray(population)}


def fit_line(balances, rates, min_balance: float) -> dict:
    """Least-squares line ``R = slope b + intercept`` over ``b >= min_balance`` with its ``R^2``.

    Non-finite rates (no theory, diverged simulation) are left out.
    """
    balances, rates = np.asarray(balances, float), np.asarray(rates, float)
    mask = (balances >= min_balance) & np.isfinite(rates)
    if mask.sum() < 2:
        return {"slope": math.nan, "intercept": math.nan, "r_squared": math.nan, "n_points": int(mask.sum())}
    fit = stats.linregress(balances[mask], rates[mask])
    return {
        "slope": float(fit.slope),
        "intercept": float(fit.intercept),
        "r_squared": float(fit.rvalue**2),
        "n_points": int(mask.sum()),
    }


def run_info_rate_experiment(config: InfoRateConfig) -> InfoRateResult:
    """Simulate, estimate both readouts at every balance, compare with theory, fit lines at large b."""
    record = simulate_common_input(config)
    theory_grid = theory_rates(config, dt=config.dt)
    theory_continuous = theory_rates(config, dt=None)
    rows = []
    for index, balance in enumerate(config.balances):
        responses = {"unit": record.units[:, index, :], "population": record.population[:, index]}
        for readout in READOUTS:
            estimate = estimate_info_rate(
                record.eta, responses[readout], dt=config.dt, n_blocks=config.n_blocks
            )
            rows.append(
                {
                    "balance": float(balance),
                    "readout": readout,
                    "theory_bits_per_tau": float(theory_grid[readout][index]),
                    "estimate_bits_per_tau": estimate.bits_per_tau,
                    "ci_low": estimate.ci_low,
                    "ci_high": estimate.ci_high,
                    "standard_error": estimate.standard_error,
                    "raw_estimate_bits_per_tau": estimate.raw_bits_per_tau,
                    "theory_continuous_bits_per_tau": float(theory_continuous[readout][index]),
                }
            )
    fits = []
    for readout in READOUTS:
        selected = [row for row in rows if row["readout"] == readout]
        for source in ("theory_bits_per_tau", "estimate_bits_per_tau", "theory_continuous_bits_per_tau"):
            fit = fit_line(
                [r["balance"] for r in selected], [r[source] for r in selected], config.fit_min_balance
            )
            fits.append({"readout": readout, "source": source.removesuffix("_bits_per_tau"), **fit})
    return InfoRateResult(config=config, rows=rows, fits=fits)


def _write_csv(path: Path, rows: list[dict], columns) -> None:
    """Write ``rows`` as CSV atomically (:func:`tightbalance.rundir.atomic_write_bytes`)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode())


def write_results(result: InfoRateResult, out_dir: Path) -> dict[str, Path]:
    """Write ``info_rate.csv``, ``info_rate_fits.csv`` and ``info_rate_config.csv`` into ``out_dir``.

    The config file holds every parameter, the seed and the package versions.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "rates": out_dir / "info_rate.csv",
        "fits": out_dir / "info_rate_fits.csv",
        "config": out_dir / "info_rate_config.csv",
    }
    _write_csv(paths["rates"], result.rows, CSV_COLUMNS)
    _write_csv(
        paths["fits"], result.fits, ("readout", "source", "slope", "intercept", "r_squared", "n_points")
    )
    config_row = {
        k: (" ".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in asdict(result.config).items()
    }
    config_row.update({f"version_{name}": version for name, version in package_versions().items()})
    _write_csv(paths["config"], [config_row], config_row.keys())
    return paths


def training_info_rates(run_dir: Path, *, n_steps: int = 20_000, seed: int = 0) -> dict:
    """Readout rate per channel (bits/tau) and balance ``b`` at every checkpoint of a run.

    The rates come from :func:`tightbalance.analysis.information.checkpoint_info_rates` with
    the run's ``config.toml`` (dt, sigma, tau_s, signal_std, I_ext, nonlinearity); every
    seed of a checkpoint gets the same key (common random numbers: the spread over seeds
    is the networks', not the input's).  The balance is
    :func:`tightbalance.analysis.balance.mean_coupling` (``-N`` times the off-diagonal
    mean of ``J``), as ``mean_coupling`` in ``metrics.csv``.

    Returns:
      dict with ``rows`` (epoch, seed, channel, rate, balance), ``epochs [E]``, and the
      mean/std over seeds ``rate_mean``, ``rate_std [E, S]`` and ``balance_mean [E]``.
    """
    from tightbalance.config import load_config
    from tightbalance.rundir import list_checkpoints, load_checkpoint

    run_dir = Path(run_dir)
    config = load_config(run_dir / "config.toml")
    paths = list_checkpoints(run_dir)
    if not paths:
        raise FileNotFoundError(f"no checkpoints in {run_dir / 'checkpoints'}")
    rows, epochs, rate_mean, rate_std, balance_mean = [], [], [], [], []
    for path in paths:
        checkpoint = load_checkpoint(path)
        stacked = checkpoint.params
        seeds = np.asarray(checkpoint.seeds).reshape(-1)
        key = jax.random.fold_in(jax.random.PRNGKey(seed), checkpoint.epoch)
        rates = checkpoint_info_rates(stacked, config, [key] * len(seeds), n_steps=n_steps)  # [K, S]
        balances = [mean_coupling(J) for J in np.asarray(stacked.J)]
        rows.extend(
            {
                "epoch": checkpoint.epoch,
                "seed": int(seed_value),
                "channel": s,
                "rate_bits_per_tau": float(rate),
                "balance": balance,
            }
            for seed_value, per_channel, balance in zip(seeds, rates, balances, strict=True)
            for s, rate in enumerate(per_channel)
        )
        epochs.append(checkpoint.epoch)
        rate_mean.append(rates.mean(axis=0))
        rate_std.append(rates.std(axis=0))
        balance_mean.append(float(np.mean(balances)))
    return {
        "rows": rows,
        "epochs": np.asarray(epochs),
        "rate_mean": np.asarray(rate_mean),
        "rate_std": np.asarray(rate_std),
        "balance_mean": np.asarray(balance_mean),
    }


def write_training_rates(table: dict, out_dir: Path) -> Path:
    """Write ``info_rate_training.csv`` (one row per epoch, seed and channel) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "info_rate_training.csv"
    _write_csv(path, table["rows"], ("epoch", "seed", "channel", "rate_bits_per_tau", "balance"))
    return path
