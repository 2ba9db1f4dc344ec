"""Folders of motions: parallel, resumable, with a summary table of every clip.

Locally a process pool (one worker per core by default, each building the robot model and
solver once); on a cluster the same command hands chunks of files to Ray. Finished clips
whose source and settings are unchanged are skipped, so an interrupted run continues.
One bad file is reported in the summary and the rest still finish.

Interruption: the first Ctrl-C cancels the queued clips, stops the workers
(:mod:`humimic.motion.batch_workers`; a clip in flight is abandoned, its temporary file
removed), writes the summary of what finished and raises :class:`BatchInterrupted`; a
second Ctrl-C meanwhile exits at once. Temporary files of a killed run are removed by the
next run into the same folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from humimic.config.retarget import RetargetCfg
from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.files import atomic_write, remove_stale_temporaries
from humimic.motion.batch_workers import run_local, run_ray
from humimic.motion.pipeline import InputOptions, Outcome

MOTION_SUFFIXES = frozenset({".bvh", ".amc", ".npz", ".pt", ".csv", ".pkl", ".pickle"})
"""File types a folder run picks up (``.asf`` skeletons are read through their ``.amc``)."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a folder run, after the summary of the finished clips was written."""

    def __init__(self, outcomes: list[Outcome], total: int) -> None:
        super().__init__(f"interrupted after {len(outcomes)} of {total} inputs")
        self.outcomes = outcomes
        self.total = total


def collect_inputs(root: Path, exclude: Path | None = None) -> list[Path]:
    """Motion files under ``root`` (recursively), sorted; a file is returned as is.

    Files under ``exclude`` (the output folder, which may lie inside ``root``) and hidden
    files are never inputs.
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputFileError(root, "no such file or folder")
    skip = exclude.resolve() if exclude is not None else None
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in MOTION_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and not (skip is not None and p.resolve().is_relative_to(skip))
    )
    if not files:
        raise InputFileError(root, f"no motion files ({', '.join(sorted(MOTION_SUFFIXES))}) found")
    return files


def output_path(source: Path, root: Path, out_dir: Path) -> Path:
    """Clip path for ``source``: its path relative to ``root`` under ``out_dir``, as ``.npz``."""
    relative = source.relative_to(root)
    name = relative.stem + (".npz" if relative.suffix.lower() != ".npz" else "_clip.npz")
    return out_dir / relative.parent / name


def plan_outputs(sources: list[Path], root: Path, out_dir: Path) -> dict[Path, Path]:
    """One distinct clip path per source (:func:`output_path`).

    Sources that would share a clip (``07_05-walk.bvh`` and ``07_05-walk.amc``) all get
    their format in the name instead (``07_05-walk_bvh.npz``, ``07_05-walk_amc.npz``).
    Names are compared case-insensitively (such file systems exist).

    Raises:
        ConfigError: two sources still collide (names differing only in case).
    """
    plan = {source: output_path(source, root, out_dir) for source in sources}
    groups: dict[str, list[Path]] = {}
    for source, output in plan.items():
        groups.setdefault(str(output).lower(), []).append(source)
    for members in groups.values():
        if len(members) > 1:
            for source in members:
                stem = plan[source].name.removesuffix(".npz")
                plan[source] = plan[source].with_name(f"{stem}_{source.suffix[1:].lower()}.npz")
    seen: dict[str, Path] = {}
    for source, output in plan.items():
        other = seen.setdefault(str(output).lower(), source)
        if other != source:
            raise ConfigError(
                f"{other} and {source} would both be written to {output}; rename one of them"
            )
    return plan


def previous_summary(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Rows of an earlier ``summary.json`` in ``out_dir`` by resolved output path ({} if
    none or unreadable)."""
    try:
        clips = json.loads((out_dir / "summary.json").read_text())["clips"]
        return {str(Path(c["output"]).resolve()): c for c in clips if isinstance(c, dict)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def is_done(
    source: Path, output: Path, cfg: RetargetCfg, earlier: dict[str, Any] | None = None
) -> Outcome | None:
    """The earlier outcome when ``output`` already holds this source with these settings.

    ``earlier`` is that clip's row of the previous summary: frames in and seconds carry
    over from it (the clip's report has the seconds too).
    """
    from humimic.files import file_sha256
    from humimic.motion.clip import load_clip, report_path_for
    from humimic.motion.pipeline import _settings
    from humimic.motion.report import clip_report

    if not (output.is_file() and report_path_for(output).is_file()):
        return None
    try:
        clip = load_clip(output)
        report = clip_report(clip, str(output))  # a damaged report is made again
    except HumimicError:
        return None
    if clip.source_sha256 and clip.source_sha256 != file_sha256(source):
        return None
    if clip.settings.get("robot") != cfg.robot or _strip(clip.settings) != _strip(_settings(cfg)):
        return None
    earlier = earlier or {}
    seconds = earlier.get("seconds") or (report.timing_s if report else None) or 0.0
    figures = {**earlier.get("figures", {}), "resumed": 1.0}
    verdict, reasons = (report.verdict, list(report.reasons)) if report else ("?", [])
    return Outcome(
        str(source), str(output), verdict, reasons,
        frames_in=int(earlier.get("frames_in", 0)), frames_out=clip.num_frames,
        seconds=float(seconds), figures=figures,
    )  # fmt: skip


def _strip(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that decide the clip's content (batch options do not)."""
    return {k: v for k, v in settings.items() if k not in ("batch", "velocity_sigma_frames")}


def run_batch(
    root: Path,
    out_dir: Path,
    cfg: RetargetCfg,
    options: InputOptions,
    *,
    show_progress: bool = True,
) -> list[Outcome]:
    """Process every motion file under ``root`` into ``out_dir``; writes the summary files.

    Raises:
        ConfigError: ``out_dir`` is the input folder, or two inputs collide.
        BatchInterrupted: Ctrl-C; the summary of the finished clips is written first.
    """
    from tqdm import tqdm

    if root.is_dir() and out_dir.resolve() == root.resolve():
        raise ConfigError(f"-o {out_dir}: the output folder must not be the input folder")
    sources = collect_inputs(root, exclude=out_dir)
    plan = plan_outputs(sources, root, out_dir)
    remove_stale_temporaries(out_dir)  # left by a run that was killed
    earlier = previous_summary(out_dir)
    outcomes: list[Outcome] = []
    jobs: list[tuple[Path, Path]] = []
    for source, output in plan.items():
        row = earlier.get(str(output.resolve()))
        done = is_done(source, output, cfg, row) if cfg.batch.resume else None
        if done is not None:
            outcomes.append(done)
        else:
            jobs.append((source, output))
    outcomes = [_note_renamed(o, root, out_dir) for o in outcomes]
    workers = min(cfg.batch.workers or os.cpu_count() or 1, max(len(jobs), 1))
    leftovers: list[Outcome] = []  # finished as Ctrl-C came
    if cfg.batch.engine == "ray":
        stream = run_ray(jobs, cfg, options)
    else:
        stream = run_local(jobs, cfg, options, workers, leftovers) if jobs else iter(())
    try:
        with (
            _interrupt_once(),
            tqdm(total=len(jobs), unit="clip", disable=not show_progress or not jobs) as bar,
        ):
            bar.set_description(f"retarget ({len(outcomes)} already done)")
            try:
                for outcome in stream:
                    outcomes.append(_note_renamed(outcome, root, out_dir))
                    bar.set_postfix_str(f"{Path(outcome.source).name}: {outcome.verdict}")
                    bar.update()
            except KeyboardInterrupt:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # cancels the queue, stops the workers
                outcomes += [_note_renamed(o, root, out_dir) for o in leftovers]
                remove_stale_temporaries(out_dir)  # of the clips abandoned in flight
                outcomes.sort(key=lambda o: o.source)
                write_summary(out_dir, outcomes, interrupted=True)
                raise BatchInterrupted(outcomes, len(plan)) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    outcomes.sort(key=lambda o: o.source)
    write_summary(out_dir, outcomes)
    return outcomes


def _note_renamed(outcome: Outcome, root: Path, out_dir: Path) -> Outcome:
    """Say so in the reasons when a clip got its format in its name (a name collision)."""
    source = Path(outcome.source)
    if Path(outcome.output) == output_path(source, root, out_dir):
        return outcome
    note = f"named {Path(outcome.output).name}: another input has the same name"
    if note in outcome.reasons:
        return outcome
    return replace(outcome, reasons=[*outcome.reasons, note])


class _interrupt_once:  # noqa: N801 - used as a context manager
    """The first Ctrl-C raises ``KeyboardInterrupt`` as usual; from then on, while the run
    cleans up, another Ctrl-C ends the process at once (exit 130), its workers with it."""

    def __enter__(self) -> None:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, _first_interrupt)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _first_interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, _exit_now)
    raise KeyboardInterrupt


def _exit_now(signum: int, frame: object) -> None:
    sys.stderr.write("\ninterrupted again: exiting now\n")
    sys.stderr.flush()
    os._exit(130)


def write_summary(
    out_dir: Path, outcomes: list[Outcome], interrupted: bool = False
) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.json`` in ``out_dir``: one row per input (per
    finished input, with ``"interrupted": true``, after Ctrl-C)."""
    figure_keys = sorted({key for o in outcomes for key in o.figures})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    base = ["source", "output", "verdict", "reasons", "frames_in", "frames_out", "seconds"]
    writer.writerow(base + figure_keys)
    for o in outcomes:
        row = [o.source, o.output, o.verdict, " | ".join(o.reasons), o.frames_in, o.frames_out]
        writer.writerow(row + [o.seconds] + [o.figures.get(k, "") for k in figure_keys])
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("pass", "warn", "fail", "error")}
    payload = {"counts": counts, "interrupted": interrupted, "clips": [asdict(o) for o in outcomes]}
    csv_path = atomic_write(out_dir / "summary.csv", lambda t: t.write_text(buffer.getvalue()))
    json_path = atomic_write(
        out_dir / "summary.json", lambda t: t.write_text(json.dumps(payload, indent=2) + "\n")
    )
    return csv_path, json_path
