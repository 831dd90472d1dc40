"""Experiments: simulations compared with theory, one module each (e.g. :mod:`.info_rate`)."""
