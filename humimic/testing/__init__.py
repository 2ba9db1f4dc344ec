"""Helpers for tests and benchmarks, kept apart from the shipped pipeline stages.

They live in the package (not under ``tests/``) because tools such as
``tools/bench_deploy.py`` and ``tools/make_wave_bow_clip.py`` use them too.
"""
