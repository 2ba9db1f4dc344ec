"""Export of trained policies as self-contained controllers (ONNX + manifest).

:mod:`humimic.export.manifest` is numpy- and torch-free; :mod:`humimic.export.onnx` needs
torch and the training code and is imported only by ``humimic export``.
"""
