"""Configuration: validation messages, presets, TOML round trip, overrides."""

import math

import pytest

from tightbalance.config import (
    PRESETS,
    TrainConfig,
    apply_overrides,
    load_config,
    parse_assignments,
    preset,
    read_config_table,
    save_config,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_units": 0}, "n_units must be >= 1"),
        ({"n_units": 4, "n_inputs": 5}, r"n_inputs \(S\) must satisfy 1 <= S <= n_units"),
        ({"n_inputs": 0}, "n_inputs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"dt": 0.0}, "dt must satisfy 0 < dt < 2"),
        ({"dt": 2.5}, "dt must satisfy 0 < dt < 2"),
        ({"dt": float("nan")}, "dt must be a finite number"),
        ({"sigma": float("inf")}, "sigma must be a finite number"),
        ({"n_steps": 1}, "n_steps"),
        ({"burn_in_fraction": 1.0}, "burn_in_fraction"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"tau_s": -1.0}, "tau_s must be >= 0"),
        ({"sigma": -0.1}, "sigma must be >= 0"),
        ({"relax_time": 0.0}, "relax_time must be > 0"),
        ({"gbar": 0.0}, "gbar must be non-zero"),
        ({"nonlinearity": "sigmoid"}, "nonlinearity must be one of"),
        ({"init": "orthogonal"}, "init must be one of"),
        ({"input_std": 0.2}, "exactly one of input_intensity"),
        ({"input_intensity": None}, "exactly one of input_intensity"),
        ({"epochs": -1}, "epochs must be >= 0"),
        ({"eval_every": 0}, "eval_every must be >= 1"),
        ({"n_units": 2.5}, "n_units must be an integer"),
        ({"dt": True}, "dt must be a number"),
    ],
)
def test_invalid_values_name_parameter_value_and_range(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_presets_follow_the_original_and_differ_only_in_s():
    base = preset("one-stimulus")
    assert (base.n_units, base.epochs, base.batch_size, base.n_steps, base.dt) == (100, 100_001, 10, 50, 0.2)
    assert base.signal_std == pytest.approx(0.1 / math.sqrt(0.2))  # var = I1^2/(2 tau_s)
    assert base.burn_in_steps == 9  # the original's loss covers steps T/5..T: 41 of 50
    assert base.n_steps - base.burn_in_steps == 41
    assert base.relax_steps == 500
    for name, s in (("two-stimuli", 2), ("three-stimuli", 3)):
        assert preset(name) == base.replace(n_inputs=s)
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("four-stimuli")
    assert set(PRESETS) == {"one-stimulus", "two-stimuli", "three-stimuli"}


def test_toml_round_trip_and_overrides(tmp_path):
    config = apply_overrides(preset("two-stimuli"), {"dt": "0.1", "epochs": "500", "input_std": "0.3"})
    assert config.dt == 0.1 and config.epochs == 500
    assert config.input_std == 0.3 and config.input_intensity is None and config.signal_std == 0.3
    save_config(config, tmp_path / "c.toml", extra={"run": {"seeds": [1, 2]}})
    assert load_config(tmp_path / "c.toml") == config
    assert apply_overrides(config, {"zero_diagonal": "false"}).zero_diagonal is False


def test_a_config_file_overrides_only_the_keys_it_sets(tmp_path):
    path = tmp_path / "partial.toml"
    path.write_text("[train]\ndt = 0.1\ninput_std = 0.3\n")
    assert read_config_table(path) == {"dt": 0.1, "input_std": 0.3}
    config = apply_overrides(preset("three-stimuli"), read_config_table(path))
    assert config.n_inputs == 3 and config.dt == 0.1 and config.signal_std == 0.3


def test_bad_overrides_and_files_are_reported(tmp_path):
    with pytest.raises(ValueError, match="unknown config key 'n_unit'"):
        apply_overrides(preset("one-stimulus"), {"n_unit": "3"})
    with pytest.raises(ValueError, match="dt must be a number"):
        apply_overrides(preset("one-stimulus"), {"dt": "fast"})
    with pytest.raises(ValueError, match="dt must be a finite number"):
        apply_overrides(preset("one-stimulus"), {"dt": "nan"})
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["dt0.1"])
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text("[train]\ndt = [1, 2]\n")
    with pytest.raises(ValueError, match="dt must be a number"):
        load_config(wrong_type)
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nn_units = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")
