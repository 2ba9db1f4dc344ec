"""Typed configuration: dataclass schemas per stage, YAML values under ``configs/``."""
