"""``humimic retarget``: human motion files (or a folder) to validated robot clips."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humimic.motion.clip import RobotClip

HELP = "turn human motion (BVH, ASF/AMC, AMASS/SMPL, GVHMR, joints) into robot clips"
EPILOG = """\
formats are detected from the file. Robot clips from other tools (Unitree LAFAN1 CSV,
BeyondMimic/mjlab npz, PBHC/ASAP pickles) are converted and assessed too. A humimic clip
given back (even in place: -o the same file) is re-assessed with this version's checks: its
motion, provenance and retarget figures stay, its verdict is made afresh.

Any config key can be overridden after the options, e.g.
  humimic retarget walk.bvh -o walk.npz filter.stability_threshold_m=0.15 solver.iterations=20
(see configs/retarget.yaml). Each clip gets <clip>.report.json with a pass/warn/fail verdict;
a folder run also writes summary.csv and summary.json and skips clips already done.
Inputs whose clips would share a name (walk.bvh, walk.amc) get their format in it
(walk_bvh.npz, walk_amc.npz); the output folder is never read as input.

exit status:
  0    every input made a clip (a "fail" verdict is a clip too: see the report)
  1    folder run: some inputs made no clip (verdict "error"; listed, and in the summary)
  2    bad options or input (one line naming the file or option)
  130  interrupted (Ctrl-C): the summary lists the clips that finished; run the same
       command again to continue, a second Ctrl-C exits at once
"""

EXIT_SOME_FAILED = 1
"""Exit status of a folder run in which some inputs made no clip."""
EXIT_INTERRUPTED = 130
UNITS = ("auto", "m", "cm", "mm", "inch", "cmu")
"""``--units`` choices: BVH/ASF length units (``auto``: detected from the skeleton)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``retarget`` subcommand."""
    parser = subparsers.add_parser(
        "retarget",
        help=HELP,
        description=HELP + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="a motion file or a folder of them")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    parser.add_argument("--robot", help="robot variant (default g1_23dof_lock_wrist)")
    parser.add_argument(
        "-o", "--out", type=Path, help="output .npz for a file, folder for a folder"
    )
    parser.add_argument("--body-models", type=Path, help="folder with SMPL/SMPL-H/SMPL-X files")
    parser.add_argument("--skeleton-map", type=Path, help="YAML: canonical joint -> your joint")
    parser.add_argument("--asf", type=Path, help="ASF skeleton for an AMC file")
    parser.add_argument(
        "--trust-pickle", action="store_true", help="allow reading pickles (they can run code)"
    )
    parser.add_argument(
        "--also-write", default="", metavar="FORMATS",
        help="comma list: beyondmimic (mjlab npz), unitree_csv (LAFAN1-style CSV) beside each clip",
    )  # fmt: skip
    parser.add_argument(
        "--units", choices=UNITS,
        help="length unit of BVH/ASF files (default auto: detected from the skeleton)",
    )  # fmt: skip
    parser.add_argument("--start", type=float, metavar="S", help="use the source from S seconds on")
    parser.add_argument("--end", type=float, metavar="S", help="use the source up to S seconds")
    parser.add_argument("--workers", type=int, help="worker processes for a folder (0 = cores)")
    parser.add_argument("--engine", choices=("local", "ray"), help="where a folder runs")
    parser.add_argument("--no-resume", action="store_true", help="redo clips already done")
    parser.add_argument(
        "--plots", action=argparse.BooleanOptionalAction, default=None,
        help="write PNG report plots beside each clip (default: on for a file, off for a folder)",
    )  # fmt: skip
    parser.set_defaults(run=run, trailing_overrides="overrides")


def _overrides(args: argparse.Namespace) -> list[str]:
    """Command-line options as config overrides (options win over positional overrides)."""
    out = list(args.overrides)
    if args.robot:
        out.append(f"robot={args.robot}")
    if args.units:
        out.append(f"units={args.units}")
    if args.start is not None:
        out.append(f"normalize.start_s={args.start}")
    if args.end is not None:
        out.append(f"normalize.end_s={args.end}")
    if args.workers is not None:
        out.append(f"batch.workers={args.workers}")
    if args.engine:
        out.append(f"batch.engine={args.engine}")
    if args.no_resume:
        out.append("batch.resume=false")
    return out


def run(args: argparse.Namespace) -> int:
    """Validate everything, then process one file or a whole folder."""
    from humimic.config.store import compose
    from humimic.errors import ConfigError, InputFileError
    from humimic.motion.pipeline import InputOptions

    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise ConfigError(f"unexpected argument {bad[0]!r}: overrides look like key=value")
    cfg = compose("retarget", _overrides(args))
    from humimic.robot.spec import load_robot_spec

    load_robot_spec(cfg.robot)  # fail on an unknown variant before any work
    for flag, path in (("--body-models", args.body_models), ("--asf", args.asf)):
        if path is not None and not path.exists():
            raise InputFileError(path, f"{flag}: no such file or folder")
    from humimic.motion.pipeline import EXTRA_FORMATS

    extra = [f for f in args.also_write.split(",") if f]
    unknown = [f for f in extra if f not in EXTRA_FORMATS]
    if unknown:
        raise ConfigError(
            f"--also-write: unknown format {unknown[0]!r} (use {', '.join(EXTRA_FORMATS)})"
        )
    options = InputOptions(
        args.asf, args.skeleton_map, args.body_models, args.trust_pickle, extra_formats=extra
    )
    if not args.input.exists():
        raise InputFileError(args.input, "no such file or folder")
    if args.input.is_dir():
        return _run_folder(args, cfg, options)
    return _run_file(args, cfg, options)


def _run_file(args: argparse.Namespace, cfg: object, options: object) -> int:
    from humimic.errors import ConfigError
    from humimic.motion.clip import load_clip
    from humimic.motion.pipeline import ClipMaker

    out = args.out or Path(args.input.stem + ".npz")
    if out.suffix != ".npz" or out.is_dir():
        raise ConfigError(f"-o {out}: a single input needs an output file ending in .npz")
    outcome = ClipMaker(cfg).run(args.input, out, options)  # type: ignore[arg-type]
    if args.plots is not False:
        _plots(load_clip(out), out)
    print(f"{outcome.verdict.upper()}: {args.input} -> {out} ({outcome.frames_out} frames)")
    for reason in outcome.reasons:
        print(f"  - {reason}")
    return 0


def _run_folder(args: argparse.Namespace, cfg: object, options: object) -> int:
    from humimic.errors import ConfigError
    from humimic.motion.batch import BatchInterrupted, run_batch
    from humimic.motion.clip import load_clip

    out_dir = args.out or Path(args.input.resolve().name + "_clips")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"-o {out_dir}: a folder input needs an output folder, not a file")
    try:
        outcomes = run_batch(args.input, out_dir, cfg, options)  # type: ignore[arg-type]
    except BatchInterrupted as stop:
        print(
            f"interrupted: {len(stop.outcomes)} of {stop.total} inputs done"
            f" (summary: {out_dir / 'summary.csv'}); run the same command to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if args.plots:
        for o in outcomes:
            if o.verdict != "error":
                _plots(load_clip(o.output), Path(o.output))
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("pass", "warn", "fail", "error")}
    print(
        f"{len(outcomes)} inputs -> {out_dir}: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f" (summary: {out_dir / 'summary.csv'})"
    )
    for o in outcomes:
        if o.verdict == "error":
            print(f"  error: {o.reasons[0] if o.reasons else o.source}")
        renamed = [r for r in o.reasons if r.startswith("named ")]
        if renamed:
            print(f"  {o.source}: {renamed[0]}")
    return EXIT_SOME_FAILED if counts["error"] else 0


def _plots(clip: RobotClip, out: Path) -> None:
    """The report's PNG figures beside the clip ``out``."""
    from humimic.motion.report import clip_report
    from humimic.motion.report_plots import plot_clip_report

    plot_clip_report(clip, clip_report(clip, str(out)), out.parent, out.stem)
