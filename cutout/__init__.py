"""Cutout's user-facing entry points: the ``cutout`` command line."""
