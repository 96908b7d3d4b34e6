"""Datasets: offline import into TFDS format and input pipelines."""
