"""Dagster asset definitions: a thin layer over `vlmfr_data`. Entry point: `assets.definitions`."""
