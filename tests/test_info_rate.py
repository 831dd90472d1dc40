"""Rate-versus-balance experiment, relu mean-field response and the ``info-rate`` CLI (SPEC §5)."""

from __future__ import annotations

import csv
import math

import jax
import numpy as np
import pytest

from tightbalance.cli import main
from tightbalance.config import TrainConfig, save_config
from tightbalance.experiments import info_rate as experiment
from tightbalance.network import init_random_balanced
from tightbalance.rundir import save_checkpoint
from tightbalance.theory import linear
from tightbalance.theory.response import relu_response

SIGNAL = dict(signal_std=0.1, tau_s=1.0)


def test_relu_response_without_disorder_is_the_linear_closed_form_with_slope():
    """g = 0: chi = b/(1 + b Phi + i w), noise sigma^2/(1 + w^2).

    That is the rational closed form of SPEC §5.1 with ``a = 1 + b Phi``.
    """
    b, sigma = 8.0, 1.0
    model = relu_response(b, g=0.0, sigma=sigma, i0=1.0)
    assert model.slope == "adiabatic"
    assert model.rate_slope == pytest.approx(
        model.dmft.fraction_active, rel=1e-6
    )  # no variance change at g=0
    a = 1.0 + b * model.rate_slope
    big_k = linear.snr_constant(b, sigma=sigma, **SIGNAL)
    denominator = np.polymul([1.0, 1.0], [1.0, a * a])
    closed = linear.rate_from_rational_snr(np.polyadd(denominator, [big_k, big_k]), denominator)
    # The grid stops at pi/(2 dtau) with an SNR ~ 1/w^2 tail: agreement to 1e-3.
    assert model.unit_rate(**SIGNAL) == pytest.approx(closed, rel=1e-3)


def test_relu_with_all_units_active_is_linear():
    """Far above threshold (I0 = 6, fraction active ~ 1) relu is the identity: rates equal the linear ones."""
    model = relu_response(4.0, g=0.0, sigma=1.0, i0=6.0)
    assert model.dmft.fraction_active > 1 - 1e-6
    for dt in (None, 0.01):
        unit = linear.unit_rate(4.0, sigma=1.0, dt=dt, **SIGNAL)
        population = linear.population_rate(4.0, sigma=1.0, n_units=1000, dt=dt, **SIGNAL)
        assert model.unit_rate(dt=dt, **SIGNAL) == pytest.approx(unit, rel=2e-3)
        assert model.population_rate(n_units=1000, dt=dt, **SIGNAL) == pytest.approx(population, rel=2e-3)


def test_relu_rectification_noise_lowers_population_rate():
    model = relu_response(16.0, g=0.0, sigma=1.0, i0=1.0)
    linear_like = model.dmft.sigma**2
    drive = model.population_noise_drive(np.array([0.0, 1.0]))
    assert np.all(drive > linear_like)  # b^2 S_r adds to the private noise


def test_relu_slope_choice_above_chaos_threshold():
    # sigma = 0, g above sqrt(2): mu0 < 0 and the adiabatic slope nu0/mu0 < 0 makes 1 + b nu' < 0.
    with pytest.raises(ValueError, match="slope='local'"):
        relu_response(4.0, g=1.6, sigma=0.0, i0=1.0, slope="adiabatic")
    model = relu_response(4.0, g=1.6, sigma=0.0, i0=1.0)
    assert model.slope == "local"
    assert model.rate_slope == pytest.approx(model.dmft.fraction_active, rel=1e-9)
    with pytest.raises(ValueError, match="slope must be"):
        relu_response(4.0, g=0.5, sigma=1.0, i0=1.0, slope="steep")
    # Smooth chaos only: the rate diverges as dt -> 0; the library warns, the experiment reports NaN.
    with pytest.warns(RuntimeWarning, match="smooth chaotic field"):
        model.unit_rate(signal_std=0.05, tau_s=1.0, dt=0.02)
    config = experiment.InfoRateConfig(balances=(4.0,), nonlinearity="relu", g=1.6, sigma=0.0)
    assert all(np.isnan(v).all() for v in experiment.theory_rates(config, dt=config.dt).values())


def test_fit_line():
    fit = experiment.fit_line([0, 4, 8, 16], [5.0, 1.0, 2.0, 4.0], 4.0)
    assert fit["slope"] == pytest.approx(0.25) and fit["r_squared"] == pytest.approx(1.0)
    assert math.isnan(experiment.fit_line([0, 1], [0, 1], 4.0)["slope"])


@pytest.mark.slow
def test_linear_experiment_estimates_agree_with_theory():
    config = experiment.InfoRateConfig(
        balances=(0.0, 4.0, 16.0), n_units=200, duration=400.0, dt=0.01, signal_std=0.1, n_recorded_units=20
    )
    result = experiment.run_info_rate_experiment(config)
    for row in result.rows:
        se = (row["ci_high"] - row["ci_low"]) / (2 * 2.093)  # t(19) quantile of the 95% interval
        # 3 SE; the population readout also gets 2% for the multitaper smoothing at high coherence.
        tolerance = 3 * se + (0.02 * row["theory_bits_per_tau"] if row["readout"] == "population" else 0.0)
        assert abs(row["estimate_bits_per_tau"] - row["theory_bits_per_tau"]) < tolerance, row
    population = {
        r["balance"]: r["estimate_bits_per_tau"] for r in result.rows if r["readout"] == "population"
    }
    assert population[0.0] < population[4.0] < population[16.0]


@pytest.mark.slow
def test_relu_experiment_population_agrees_with_mean_field():
    config = experiment.InfoRateConfig(
        balances=(2.0, 8.0),
        nonlinearity="relu",
        n_units=400,
        duration=300.0,
        dt=0.01,
        signal_std=0.1,
        n_recorded_units=10,
    )
    result = experiment.run_info_rate_experiment(config)
    for row in (r for r in result.rows if r["readout"] == "population"):
        se = (row["ci_high"] - row["ci_low"]) / (2 * 2.093)
        # 3 SE plus 5% for the leading-order (1/N) rectification-noise theory.
        assert (
            abs(row["estimate_bits_per_tau"] - row["theory_bits_per_tau"])
            < 3 * se + 0.05 * row["theory_bits_per_tau"]
        ), row


def test_config_validation():
    with pytest.raises(ValueError, match="balances"):
        experiment.InfoRateConfig(balances=(-1.0,))
    with pytest.raises(ValueError, match="nonlinearity"):
        experiment.InfoRateConfig(nonlinearity="tanh")
    with pytest.raises(ValueError, match="g must be 0"):
        experiment.InfoRateConfig(g=0.5)
    with pytest.raises(ValueError, match="stable Euler"):
        experiment.InfoRateConfig(balances=(100.0,), dt=0.05)
    with pytest.raises(ValueError, match="n_recorded_units"):
        experiment.InfoRateConfig(n_units=10, n_recorded_units=20)
    with pytest.raises(ValueError, match="too short"):
        experiment.InfoRateConfig(duration=1.0)


@pytest.mark.slow
def test_cli_balance_sweep_writes_csv_and_figure(tmp_path, capsys):
    code = main(
        [
            "info-rate",
            "--balance",
            "0",
            "4",
            "--n-units",
            "50",
            "--duration",
            "100",
            "--dt",
            "0.02",
            "--signal-std",
            "0.1",
            "--n-recorded-units",
            "5",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    with open(tmp_path / "info_rate.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["readout"] for r in rows] == ["unit", "population", "unit", "population"]
    assert set(experiment.CSV_COLUMNS) == set(rows[0])
    assert float(rows[3]["theory_bits_per_tau"]) == pytest.approx(
        linear.population_rate(4.0, sigma=1.0, signal_std=0.1, tau_s=1.0, n_units=50, dt=0.02), rel=1e-9
    )
    assert (tmp_path / "info_rate.png").stat().st_size > 10_000
    assert (tmp_path / "info_rate_fits.csv").exists()
    assert main(["info-rate", "--balance", "1", "--g", "0.5", "--out", str(tmp_path)]) == 2  # g needs relu
    assert "g must be 0" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_training_run(tmp_path):
    """``--run``: one rate per checkpoint, seed and channel, from a run directory with two checkpoints."""
    config = TrainConfig(n_units=20, n_inputs=2, dt=0.2)
    save_config(config, tmp_path / "config.toml")
    for epoch, gbar in ((0, -1.0), (1000, -4.0)):
        nets = [init_random_balanced(jax.random.PRNGKey(s), 20, 2, g=0.03, gbar=gbar) for s in range(2)]
        stacked = jax.tree.map(lambda *x: np.stack(x), *nets)
        save_checkpoint(
            tmp_path,
            epoch=epoch,
            state=stacked,
            key_data=np.zeros((2, 2), np.uint32),
            seeds=np.array([1, 2]),
            j_init_mean=np.full(2, -1.0 / 20),
            wall_s=0.0,
        )
    assert main(["info-rate", "--run", str(tmp_path), "--info-steps", "4000"]) == 0
    with open(tmp_path / "figures" / "info_rate_training.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 2  # epochs x seeds x channels
    balances = {int(r["epoch"]): float(r["balance"]) for r in rows}
    assert balances[0] == pytest.approx(1.0 * 19 / 20, rel=0.2) and balances[1000] == pytest.approx(
        4 * 19 / 20, rel=0.2
    )
    assert all(np.isfinite(float(r["rate_bits_per_tau"])) for r in rows)
    assert (tmp_path / "figures" / "info_rate_training.png").exists()
