"""Scoring a new export into per-customer offers: in memory, streamed by customer ranges, or on Dask."""
