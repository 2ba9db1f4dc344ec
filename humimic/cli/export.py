"""``humimic export``: a trained run as a self-contained controller folder (ONNX + manifest)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a trained policy as a self-contained controller (ONNX + manifest)"
EPILOG = """\
The folder gets controller.onnx (normaliser inside, manifest in its metadata),
controller.json (joint order, gains, observation layout, clip identity, training config),
reference.npz (the training clip) and parity.npz. Export fails if onnxruntime and torch
disagree by more than 1e-5 on observations recorded from the training env.
Next: humimic sim2sim <folder>.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export", help=HELP, description=HELP + ".", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "run_path", metavar="RUN", type=Path,
        help="run folder (latest checkpoint) or model_<k>.pt",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--out", type=Path, help="controller folder (default <run>/export_<checkpoint>)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export and print the folder."""
    from humimic.export.onnx import export_controller

    out = export_controller(args.run_path, args.out)
    print(f"controller: {out}")
    return 0
