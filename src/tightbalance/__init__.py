"""tightbalance: tightly balanced rate networks tracking time-varying signals.

Train rate RNNs on Ornstein–Uhlenbeck tracking (:mod:`tightbalance.train`), analyse their
balance and inhibitory clusters (:mod:`tightbalance.analysis`), and compare with the
theory: information rates (:mod:`tightbalance.theory.linear`,
:mod:`tightbalance.theory.response`) and the dynamic mean-field theory with Lyapunov
exponents (:mod:`tightbalance.theory.meanfield`, :mod:`tightbalance.theory.lyapunov`).
The science is specified in SPEC.md; the command line is ``tightbalance <verb>``.
"""

from importlib.metadata import PackageNotFoundError, version

from tightbalance import config, network, signals, task, train
from tightbalance.config import PRESETS, TrainConfig, preset
from tightbalance.network import NetworkParams

try:
    __version__ = version("tightbalance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "PRESETS",
    "NetworkParams",
    "TrainConfig",
    "config",
    "network",
    "preset",
    "signals",
    "task",
    "train",
    "__version__",
]
