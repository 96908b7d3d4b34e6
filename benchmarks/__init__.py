"""modelzoo against its peers: `python benchmarks/run.py` (see README.md)."""
