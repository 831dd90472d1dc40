"""The command line: presets, a tiny training run through `tightbalance train`, clear errors."""

import tomllib

from tightbalance.cli import main


def test_presets_lists_the_three_experiments(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "one-stimulus" in out and "two-stimuli" in out and "three-stimuli" in out


def test_train_lays_a_config_file_over_the_preset(tmp_path, capsys):
    config_file = tmp_path / "c.toml"
    config_file.write_text("[train]\ndt = 0.1\n")
    out = tmp_path / "run"
    code = main(
        ["train", "--preset", "three-stimuli", "--config", str(config_file), "--epochs", "0", "--no-progress",
         "--set", "n_units=12", "--set", "info_rate_steps=0", "--set", "relax_time=5", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    recorded = tomllib.loads((out / "config.toml").read_text())
    assert recorded["train"]["n_inputs"] == 3 and recorded["train"]["dt"] == 0.1
    assert recorded["train"]["n_units"] == 12 and recorded["run"]["seeds"] == [1]
    assert "jax" in recorded["versions"]
    assert (out / "figures" / "training-seed-1.png").exists()


def test_invalid_values_stop_with_a_message_naming_the_parameter(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "a"), "--set", "dt=5"]) == 2
    assert "dt must satisfy 0 < dt < 2" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "b"), "--set", "n_units=0"]) == 2
    assert "n_units must be >= 1" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "c"), "--seeds", "-1", "--epochs", "0"]) == 2
    assert "seed must be >= 0, got -1" in capsys.readouterr().err
    assert main(["resume", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_the_package_is_a_regular_package_with_its_version():
    from importlib.metadata import version

    import tightbalance

    assert tightbalance.__file__ is not None  # not a namespace package: `pip install .` ships it
    assert tightbalance.__version__ == version("tightbalance")
    assert tightbalance.preset("two-stimuli").n_inputs == 2
