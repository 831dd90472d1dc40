"""Training configuration: a frozen, validated dataclass, presets and TOML files.

Every field is checked on construction (``__post_init__``); an invalid value raises
``ValueError`` naming the parameter, its value and the allowed range.  Presets are
named after the experiments of the original code (SPEC §3): ``one-stimulus``,
``two-stimuli`` and ``three-stimuli``, which differ only in the number of input
channels ``n_inputs`` (S).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from tightbalance.network import NONLINEARITIES
from tightbalance.signals import std_from_intensity

__all__ = [
    "TrainConfig",
    "PRESETS",
    "preset",
    "load_config",
    "read_config_table",
    "save_config",
    "apply_overrides",
    "config_to_dict",
]

INITIALISERS = ("random-balanced", "excitatory-inhibitory")


@dataclass(frozen=True)
class TrainConfig:
    """All parameters of a training run (SPEC §2–3); defaults are the original's.

    ``info_rate_steps`` sets the length of the simulation from which the input-to-readout
    information rate is estimated at each evaluation (``info_rate_bits`` in
    ``metrics.csv``, SPEC §5); 0 switches it off.

    The OU input can be given by its stationary std (``signal_std``) or, as in the
    original code, by its intensity ``input_intensity`` (I1) with
    ``var = I1^2 / (2 tau_s)``; exactly one of the two is set.

    The initial state of each epoch is relaxed for ``relax_time`` under the constant input
    ``I_ext``; as in the original code the relaxation is noise-free unless
    ``relax_noise`` is set, in which case the training noise ``sigma`` stays on (the state
    is then a sample of the noisy stationary state rather than the noise-free one).
    """

    # network
    n_units: int = 100
    n_inputs: int = 1
    nonlinearity: str = "relu"
    init: str = "random-balanced"
    g: float = 0.032
    gbar: float = -1.0
    ws_mean: float = 1.0
    ws_std: float = 0.01
    wr_mean: float = 1.0
    wr_std: float = 0.2
    zero_diagonal: bool = True
    train_bias: bool = False
    # dynamics and input
    dt: float = 0.2
    sigma: float = 1.0
    tau_s: float = 0.1
    input_intensity: float | None = 0.1
    input_std: float | None = None
    i_ext: float = 1.0
    relax_time: float = 100.0
    relax_noise: bool = False
    # task and training
    n_steps: int = 50
    burn_in_fraction: float = 0.2
    batch_size: int = 10
    epochs: int = 100_001
    learning_rate: float = 1e-3
    lambda_act: float = 1e-4
    eval_every: int = 1000
    info_rate_steps: int = 20_000
    seed: int = 1

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.type.startswith("float") and isinstance(value, bool):
                raise ValueError(f"{field.name} must be a number, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value!r}")
        _at_least("n_units", self.n_units, 1)
        _at_least("n_inputs", self.n_inputs, 1)
        if self.n_inputs > self.n_units:
            raise ValueError(
                f"n_inputs (S) must satisfy 1 <= S <= n_units = {self.n_units}, got {self.n_inputs}"
            )
        _at_least("batch_size", self.batch_size, 1)
        _at_least("epochs", self.epochs, 0)
        _at_least("eval_every", self.eval_every, 1)
        _at_least("info_rate_steps", self.info_rate_steps, 0)
        _at_least("seed", self.seed, 0)
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {self.nonlinearity!r}"
            )
        if self.init not in INITIALISERS:
            raise ValueError(f"init must be one of {INITIALISERS}, got {self.init!r}")
        if not 0 < self.dt < 2:
            raise ValueError(
                f"dt must satisfy 0 < dt < 2 (stable Euler step of the unit leak, tau = 1), got {self.dt}"
            )
        _positive("learning_rate", self.learning_rate)
        _positive("relax_time", self.relax_time)
        _non_negative("sigma", self.sigma)
        _non_negative("tau_s", self.tau_s)
        _non_negative("lambda_act", self.lambda_act)
        _non_negative("g", self.g)
        _non_negative("ws_std", self.ws_std)
        _non_negative("wr_std", self.wr_std)
        if self.gbar == 0:
            raise ValueError("gbar must be non-zero (the target is -s/gbar), got 0")
        if not 0 <= self.burn_in_fraction < 1:
            raise ValueError(
                f"burn_in_fraction must satisfy 0 <= burn_in_fraction < 1, got {self.burn_in_fraction}"
            )
        if self.n_steps < 2 or self.burn_in_steps >= self.n_steps:
            raise ValueError(
                f"n_steps (T) must be >= 2 and larger than the burn-in of {self.burn_in_steps} steps "
                f"(burn_in_fraction = {self.burn_in_fraction}), got {self.n_steps}"
            )
        if (self.input_intensity is None) == (self.input_std is None):
            raise ValueError(
                "exactly one of input_intensity (I1, var = I1^2/(2 tau_s)) and input_std must be set, "
                f"got input_intensity={self.input_intensity!r}, input_std={self.input_std!r}"
            )
        if self.input_intensity is not None:
            if self.tau_s == 0:
                raise ValueError("input_intensity needs tau_s > 0 (var = I1^2/(2 tau_s)); use input_std")
            _non_negative("input_intensity", self.input_intensity)
        else:
            _non_negative("input_std", self.input_std)

    @property
    def signal_std(self) -> float:
        """Stationary std of the OU input fluctuation eta."""
        if self.input_std is not None:
            return float(self.input_std)
        return std_from_intensity(self.input_intensity, self.tau_s)

    @property
    def burn_in_steps(self) -> int:
        """Steps left out of the loss.

        The original counts steps from 1 and keeps steps ``t >= T/5``, i.e. steps
        T/5 ... T (41 of 50); with 0-based indices that drops the first
        ``ceil(T * burn_in_fraction) - 1``.
        """
        return max(math.ceil(self.n_steps * self.burn_in_fraction) - 1, 0)

    @property
    def relax_steps(self) -> int:
        return max(round(self.relax_time / self.dt), 1)

    @property
    def relax_sigma(self) -> float:
        """Noise amplitude during the relaxation of the initial state."""
        return self.sigma if self.relax_noise else 0.0

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _at_least(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _non_negative(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


PRESETS: dict[str, TrainConfig] = {
    "one-stimulus": TrainConfig(n_inputs=1),
    "two-stimuli": TrainConfig(n_inputs=2),
    "three-stimuli": TrainConfig(n_inputs=3),
}


def preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}") from None


_FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def _coerce(name: str, value: Any) -> Any:
    """Convert a TOML or command-line value to the field's type, with a clear error."""
    if name not in _FIELD_TYPES:
        raise ValueError(f"unknown config key {name!r}; known keys: {', '.join(sorted(_FIELD_TYPES))}")
    kind = _FIELD_TYPES[name]
    if isinstance(value, str) and "str" not in kind:
        text = value.strip()
        if text.lower() in ("none", "null", ""):
            if "None" not in kind:
                raise ValueError(f"{name} cannot be empty")
            return None
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"{name} must be true or false, got {value!r}")
            return text.lower() in ("true", "1", "yes")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        value = number
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    if value is None:
        if "None" not in kind:
            raise ValueError(f"{name} cannot be empty")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if kind == "int" and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    if kind.startswith("float"):
        value = float(value)
    return value


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A new config with ``overrides`` applied (values may be strings, as from ``--set``).

    Setting one of ``input_std``/``input_intensity`` clears the other.
    """
    changes = {name: _coerce(name, value) for name, value in overrides.items()}
    if "input_std" in changes and "input_intensity" not in changes:
        changes["input_intensity"] = None
    if "input_intensity" in changes and "input_std" not in changes:
        changes["input_std"] = None
    return config.replace(**changes)


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` -> dict, with a clear error for malformed items."""
    parsed = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        parsed[key.strip()] = value
    return parsed


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Field values, with ``None`` left out (TOML has no null)."""
    return {k: v for k, v in dataclasses.asdict(config).items() if v is not None}


def save_config(config: TrainConfig, path: Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``[train]`` (the config) and any ``extra`` tables (seeds, versions) atomically."""
    from tightbalance.rundir import atomic_write_bytes

    document = {"train": config_to_dict(config), **(extra or {})}
    atomic_write_bytes(Path(path), tomli_w.dumps(document).encode())


def read_config_table(path: Path) -> dict[str, Any]:
    """The config fields set in a TOML file (its ``[train]`` table, or its top level), coerced.

    Only the keys present in the file are returned, so they can be laid over a preset.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {path} is not valid TOML: {error}") from None
    table = document.get("train", document)
    if not isinstance(table, dict):
        raise ValueError(f"config file {path}: [train] must be a table")
    return {name: _coerce(name, value) for name, value in table.items()}


def load_config(path: Path) -> TrainConfig:
    """A config from a TOML file; fields the file leaves out take the defaults."""
    values = read_config_table(path)
    if "input_std" in values and "input_intensity" not in values:
        values["input_intensity"] = None
    return TrainConfig(**values)


def load_document(path: Path) -> dict[str, Any]:
    """The whole TOML document of a run's ``config.toml`` (config, seeds, versions)."""
    return tomllib.loads(Path(path).read_text())
