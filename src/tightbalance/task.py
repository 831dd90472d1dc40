"""The tracking task (SPEC §3): targets and the loss with burn-in.

The network must report each input channel ``s`` through its readout; the target
is ``y*(t) = -s(t) / gbar``, which (for gbar < 0) is the population rate at which the
mean recurrent inhibition ``gbar * rate`` exactly cancels the input ``s``.

Loss of one batch (original normalisation)::

    L = sum_{t >= burn-in} ( ||y(t) - y*(t)||^2 + lambda_act ||h(t)||^2 ) / (B T S)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tightbalance.network import NetworkParams, nonlinearity, readout, simulate

__all__ = ["targets", "tracking_loss", "trajectory_loss"]


def targets(signals: jax.Array, gbar: float) -> jax.Array:
    """``y* = -s / gbar`` for signals ``[T, S, B]``."""
    return -signals / gbar


def tracking_loss(
    params: NetworkParams,
    h0: jax.Array,
    signals: jax.Array,
    noise: jax.Array,
    *,
    dt: float,
    sigma: float,
    gbar: float,
    lambda_act: float,
    burn_in_steps: int,
    nonlinearity_name: str = "relu",
) -> tuple[jax.Array, jax.Array]:
    """Loss and the tracking error alone (the loss without the activity term).

    Args:
      params: network parameters.
      h0: initial state ``[N, B]``.
      signals: inputs ``[T, S, B]``.
      noise: standard normal increments ``[T, N, B]``.
      burn_in_steps: leading steps left out of both sums.

    Returns:
      ``(loss, tracking_error)``, both divided by ``B T S``.
    """
    trajectory = simulate(params, h0, signals, noise, dt=dt, sigma=sigma, nonlinearity=nonlinearity_name)
    return trajectory_loss(
        params,
        trajectory,
        signals,
        gbar=gbar,
        lambda_act=lambda_act,
        burn_in_steps=burn_in_steps,
        nonlinearity_name=nonlinearity_name,
    )


def trajectory_loss(
    params: NetworkParams,
    trajectory: jax.Array,
    signals: jax.Array,
    *,
    gbar: float,
    lambda_act: float,
    burn_in_steps: int,
    nonlinearity_name: str = "relu",
) -> tuple[jax.Array, jax.Array]:
    """:func:`tracking_loss` of an already simulated ``trajectory [T, N, B]``."""
    n_steps, n_inputs, batch = signals.shape
    trajectory = trajectory[burn_in_steps:]
    outputs = readout(params, trajectory, nonlinearity(nonlinearity_name))
    norm = batch * n_steps * n_inputs
    tracking_error = jnp.sum((outputs - targets(signals[burn_in_steps:], gbar)) ** 2) / norm
    activity = lambda_act * jnp.sum(trajectory**2) / norm
    return tracking_error + activity, tracking_error
