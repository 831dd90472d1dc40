"""Rate-versus-balance experiment, relu mean-field response and the ``info-rate`` CLI (SPEC §5)."""

from __future__ import annotations

import argparse
import csv
import logging
import math

import jax
import numpy as np
import pytest

from tightbalance.cli import main
from tightbalance.commands import info_rate as command
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
    # Smooth chaos only: the rate diverges as dt -> 0; the library warns (the experiment: next test).
    with pytest.warns(RuntimeWarning, match="smooth chaotic field"):
        model.unit_rate(signal_std=0.05, tau_s=1.0, dt=0.02)


def test_theory_for_smooth_chaos_is_nan_with_a_warning(caplog):
    """relu, sigma = 0: no finite theory (the rate diverges as dt -> 0); NaN, and the log says why."""
    config = experiment.InfoRateConfig(balances=(4.0, 8.0), nonlinearity="relu", g=1.6, sigma=0.0)
    with caplog.at_level(logging.WARNING, logger=experiment.__name__):
        rates = experiment.theory_rates(config, dt=config.dt)
    assert all(np.isnan(v).all() and v.shape == (2,) for v in rates.values())
    assert "sigma=0" in caplog.text and "diverges" in caplog.text


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
        se = row["standard_error"]  # jackknife SE of the estimate
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
        se = row["standard_error"]
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
    # Errors that would otherwise surface only after the simulation.
    with pytest.raises(ValueError, match="sigma must be > 0 for the linear network"):
        experiment.InfoRateConfig(sigma=0.0)
    with pytest.raises(ValueError, match="sigma or g must be > 0"):
        experiment.InfoRateConfig(nonlinearity="relu", sigma=0.0, g=0.0)
    with pytest.raises(ValueError, match="signal_std must be > 0"):
        experiment.InfoRateConfig(signal_std=0.0)
    with pytest.raises(ValueError, match="n_blocks must be >= 2"):
        experiment.InfoRateConfig(n_blocks=1)
    with pytest.raises(ValueError, match="slope must be one of"):
        experiment.InfoRateConfig(nonlinearity="relu", slope="steep")
    with pytest.raises(ValueError, match="fit_min_balance"):
        experiment.InfoRateConfig(fit_min_balance=math.nan)


def test_cli_rejects_noise_free_linear_network_before_simulating(tmp_path, capsys):
    assert main(["info-rate", "--balance", "1", "--sigma", "0", "--out", str(tmp_path)]) == 2
    assert "sigma must be > 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing simulated, nothing written


def test_help_shows_defaults_and_plain_text(capsys):
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    info_parser = sub.choices["info-rate"]
    options = [a for a in info_parser._actions if a.option_strings and a.dest != "help"]
    assert options and all(a.help for a in options), [a.dest for a in options if not a.help]
    help_text = info_parser.format_help()
    assert "``" not in help_text
    assert "(default: 1000)" in help_text  # --n-units
    assert "(default: 0.01)" in help_text  # --dt


def test_write_results_is_atomic_and_complete(tmp_path):
    config = experiment.InfoRateConfig(balances=(1.0,))
    row = dict.fromkeys(experiment.CSV_COLUMNS, 0.5) | {"readout": "unit"}
    fit = {"readout": "unit", "source": "estimate", "slope": 1.0, "intercept": 0.0, "r_squared": 1.0}
    paths = experiment.write_results(
        experiment.InfoRateResult(config, [row], [fit | {"n_points": 2}]), tmp_path
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in paths.values()
    )  # no temp files
    with open(paths["rates"]) as handle:
        (read,) = list(csv.DictReader(handle))
    assert float(read["estimate_bits_per_tau"]) == 0.5 and read["readout"] == "unit"
    with open(paths["config"]) as handle:
        (read,) = list(csv.DictReader(handle))
    assert read["balances"] == "1.0" and int(read["n_units"]) == config.n_units


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
    written = [
        line.removeprefix("wrote ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("wrote ")
    ]
    assert sorted(written) == sorted(
        str(tmp_path / name)
        for name in ("info_rate.csv", "info_rate_fits.csv", "info_rate_config.csv", "info_rate.png")
    )
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
def test_cli_training_run(tmp_path, capsys):
    """``--run``: one rate per checkpoint, seed and channel, from a run directory with two checkpoints."""
    config = TrainConfig(n_units=20, n_inputs=2, dt=0.2)
    save_config(config, tmp_path / "config.toml")
    expected_balance = {}
    for epoch, gbar in ((0, -1.0), (1000, -4.0)):
        nets = [init_random_balanced(jax.random.PRNGKey(s), 20, 2, g=0.03, gbar=gbar) for s in range(2)]
        # b = -N x mean of the off-diagonal couplings, as mean_coupling in metrics.csv
        for seed, net in zip((1, 2), nets, strict=True):
            J = np.asarray(net.J, dtype=float)
            expected_balance[epoch, seed] = -20 * J[~np.eye(20, dtype=bool)].mean()
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
    figures = tmp_path / "figures"
    assert capsys.readouterr().out.split() == [
        "wrote",
        str(figures / "info_rate_training.csv"),
        "wrote",
        str(figures / "info_rate_training.png"),
    ]
    with open(figures / "info_rate_training.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 2  # epochs x seeds x channels
    for row in rows:
        # float32 J summed in float64 both ways: ~1e-7 relative.  The plain mean (diagonal
        # included, zero) would be (N-1)/N = 5% off.
        assert float(row["balance"]) == pytest.approx(
            expected_balance[int(row["epoch"]), int(row["seed"])], rel=1e-6
        )
    assert all(np.isfinite(float(r["rate_bits_per_tau"])) for r in rows)
    assert (figures / "info_rate_training.png").exists()
