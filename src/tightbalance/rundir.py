"""Run directories: atomic writes, checkpoints and the metrics table.

Layout (DESIGN.md)::

    RUN/config.toml                 resolved config, seeds, package versions
    RUN/metrics.csv                 one row per seed and evaluation
    RUN/checkpoints/epoch-XXXXXX.npz
    RUN/figures/

Checkpoints hold the flattened training state (parameters, optimiser state, the
relaxed initial state, stacked over seeds), the PRNG key data, the epoch and the
mean of the initial J; they are written atomically (temporary file + rename) and
read with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = [
    "atomic_write_bytes",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "MetricsTable",
    "package_versions",
    "write_command_record",
]

CHECKPOINT_DIR = "checkpoints"
_CHECKPOINT_NAME = re.compile(r"^epoch-(\d{6,})\.npz$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Checkpoint:
    """A training state read from disk.

    Attributes:
      epoch: number of completed training epochs (Adam updates).
      leaves: flattened training-state leaves, in the order of ``jax.tree.leaves``.
      key_data: PRNG key data of each seed ``[K, ...]``.
      seeds: the seeds ``[K]``.
      j_init_mean: mean off-diagonal coupling of the initial J, per seed ``[K]``.
      wall_s: cumulative training wall time when written.
    """

    epoch: int
    leaves: list[np.ndarray]
    key_data: np.ndarray
    seeds: np.ndarray
    j_init_mean: np.ndarray
    wall_s: float

    def restore(self, template: Any) -> Any:
        """The state pytree with this checkpoint's leaves, checked against ``template``."""
        expected = jax.tree.leaves(template)
        treedef = jax.tree.structure(template)
        if len(expected) != len(self.leaves):
            raise ValueError(
                f"checkpoint has {len(self.leaves)} arrays, the configured state needs {len(expected)}: "
                "it was written by a different config or is corrupt"
            )
        for i, (want, got) in enumerate(zip(expected, self.leaves, strict=True)):
            if tuple(np.shape(want)) != got.shape:
                raise ValueError(
                    f"checkpoint array {i} has shape {got.shape}, expected {tuple(np.shape(want))}: "
                    "it was written by a different config or is corrupt"
                )
        return jax.tree.unflatten(treedef, [jax.numpy.asarray(x) for x in self.leaves])

    @property
    def params(self):
        """The network parameters (stacked over seeds), the first leaves of the state."""
        from tightbalance.network import NetworkParams

        J, w_in, w_out, bias = (jax.numpy.asarray(x) for x in self.leaves[:4])
        return NetworkParams(J=J, w_in=w_in, w_out=w_out, bias=bias)


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"epoch-{epoch:06d}.npz"


def save_checkpoint(
    run_dir: Path,
    *,
    epoch: int,
    state: Any,
    key_data: np.ndarray,
    seeds: np.ndarray,
    j_init_mean: np.ndarray,
    wall_s: float,
) -> Path:
    """Write the state atomically to ``checkpoints/epoch-XXXXXX.npz``."""
    arrays = {f"leaf_{i:03d}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(state))}
    arrays.update(
        epoch=np.asarray(epoch, dtype=np.int64),
        key_data=np.asarray(key_data),
        seeds=np.asarray(seeds, dtype=np.int64),
        j_init_mean=np.asarray(j_init_mean),
        wall_s=np.asarray(wall_s, dtype=np.float64),
    )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = checkpoint_path(run_dir, epoch)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint; a truncated or foreign file raises ``ValueError`` naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(n for n in data.files if n.startswith("leaf_"))
            return Checkpoint(
                epoch=int(data["epoch"]),
                leaves=[data[n] for n in names],
                key_data=data["key_data"],
                seeds=data["seeds"],
                j_init_mean=data["j_init_mean"],
                wall_s=float(data["wall_s"]),
            )
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint not found: {path}") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"checkpoint {path} is corrupt or not a tightbalance checkpoint: {error}") from None


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint files of a run, in order of epoch."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT_NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path:
    paths = list_checkpoints(run_dir)
    if not paths:
        raise FileNotFoundError(f"no checkpoints in {Path(run_dir) / CHECKPOINT_DIR}")
    return paths[-1]


class MetricsTable:
    """``metrics.csv``: one row per seed and evaluation, rewritten atomically on append."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = Path(path)
        self.columns = columns
        self.rows: list[dict[str, Any]] = []
        if self.path.exists():
            with self.path.open(newline="") as handle:
                self.rows = list(csv.DictReader(handle))

    def truncate_after(self, epoch: int) -> None:
        """Drop rows written after ``epoch`` (a run stopped between checkpoint and metrics)."""
        self.rows = [r for r in self.rows if int(r["epoch"]) <= epoch]
        self._write()

    def append(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend({c: _format(r.get(c)) for c in self.columns} for r in rows)
        self._write()

    def _write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.path, buffer.getvalue().encode())


def _format(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` with numbers parsed (empty cells become NaN)."""
    with (Path(run_dir) / "metrics.csv").open(newline="") as handle:
        return [
            {k: float(v) if v != "" else float("nan") for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]


def write_command_record(out_dir: Path, command: str, options: dict[str, Any]) -> Path:
    """``OUT/<command>_config.toml``: the options a command ran with and the package versions."""
    import tomli_w

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    table = {k: plain(v) for k, v in options.items() if v is not None and not callable(v)}
    path = Path(out_dir) / f"{command}_config.toml"
    atomic_write_bytes(path, tomli_w.dumps({command: table, "versions": package_versions()}).encode())
    return path


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("tightbalance", "jax", "jaxlib", "optax", "numpy", "scipy", "scikit-learn", "matplotlib"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
