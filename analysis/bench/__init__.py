"""Measurement tools (not part of the pipeline): `make bench` timings and the coverage simulation."""
