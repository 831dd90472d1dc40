"""Run the tests with two JAX CPU devices, as the command line does on a 2-core machine,
so that multi-seed training is tested split over devices (``Trainer``)."""

import jax

jax.config.update("jax_num_cpu_devices", 2)
