"""Folders of motions: parallel, resumable, with a summary table of every clip.

Locally a process pool (one worker per core by default, each building the robot model and
solver once); on a cluster the same command hands chunks of files to Ray. Finished clips
whose source and settings are unchanged are skipped, so an interrupted run continues.
One bad file is reported in the summary and the rest still finish.
"""

from __future__ import annotations

import builtins
import csv
import io
import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

from humimic.config.retarget import RetargetCfg
from humimic.errors import ConfigError, HumimicError, InputFileError
from humimic.files import atomic_write
from humimic.motion.pipeline import ClipMaker, InputOptions, Outcome

MOTION_SUFFIXES = frozenset({".bvh", ".amc", ".npz", ".pt", ".csv", ".pkl", ".pickle"})
"""File types a folder run picks up (``.asf`` skeletons are read through their ``.amc``)."""

_WORKER: ClipMaker | None = None


def collect_inputs(root: Path) -> list[Path]:
    """Motion files under ``root`` (recursively), sorted; a file is returned as is."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputFileError(root, "no such file or folder")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in MOTION_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise InputFileError(root, f"no motion files ({', '.join(sorted(MOTION_SUFFIXES))}) found")
    return files


def output_path(source: Path, root: Path, out_dir: Path) -> Path:
    """Clip path for ``source``: its path relative to ``root`` under ``out_dir``, as ``.npz``."""
    relative = source.relative_to(root)
    name = relative.stem + (".npz" if relative.suffix.lower() != ".npz" else "_clip.npz")
    return out_dir / relative.parent / name


def is_done(source: Path, output: Path, cfg: RetargetCfg) -> Outcome | None:
    """The earlier outcome when ``output`` already holds this source with these settings."""
    from humimic.files import file_sha256
    from humimic.motion.clip import load_clip, report_path_for
    from humimic.motion.pipeline import _settings

    if not (output.is_file() and report_path_for(output).is_file()):
        return None
    try:
        clip = load_clip(output)
    except HumimicError:
        return None
    if clip.source_sha256 and clip.source_sha256 != file_sha256(source):
        return None
    if clip.settings.get("robot") != cfg.robot or _strip(clip.settings) != _strip(_settings(cfg)):
        return None
    report = clip.report
    return Outcome(
        str(source), str(output), report.get("verdict", "?"), list(report.get("reasons", [])),
        frames_out=clip.num_frames, figures={"resumed": 1.0},
    )  # fmt: skip


def _strip(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings that decide the clip's content (batch options do not)."""
    return {k: v for k, v in settings.items() if k not in ("batch", "velocity_sigma_frames")}


def process_one(source: Path, output: Path, options: InputOptions, maker: ClipMaker) -> Outcome:
    """Run the pipeline on one file; user-facing problems become an ``error`` outcome."""
    try:
        return maker.run(source, output, options)
    except HumimicError as err:
        return Outcome(str(source), str(output), "error", [str(err).splitlines()[0]])
    except Exception as err:  # a bug on one file must not stop a 10,000-file batch
        return Outcome(str(source), str(output), "error", [f"internal error: {err!r}"])


def _init_worker(cfg: RetargetCfg) -> None:
    """Process-pool initialiser: one model and solver per worker, single-threaded maths."""
    global _WORKER
    import torch

    torch.set_num_threads(1)
    _WORKER = ClipMaker(cfg)


def _work(source: Path, output: Path, options: InputOptions) -> Outcome:
    assert _WORKER is not None
    return process_one(source, output, options, _WORKER)


def run_local(
    jobs: list[tuple[Path, Path]], cfg: RetargetCfg, options: InputOptions, workers: int
) -> Iterator[Outcome]:
    """Yield outcomes as a local process pool finishes them."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # torch and threads: never fork
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(cfg,)) as pool:
        futures = [pool.submit(_work, src, out, options) for src, out in jobs]
        for future in as_completed(futures):
            yield future.result()


def run_ray(
    jobs: list[tuple[Path, Path]], cfg: RetargetCfg, options: InputOptions, chunk: int = 32
) -> Iterator[Outcome]:
    """Yield outcomes from a Ray cluster (``RAY_ADDRESS`` or a local Ray instance)."""
    try:
        import ray
    except ImportError as err:
        raise ConfigError(
            "batch.engine=ray needs Ray: pip install 'humimic[cluster]' (or pip install ray)"
        ) from err

    @ray.remote
    def work_chunk(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        maker = ClipMaker(cfg)
        return [asdict(process_one(Path(s), Path(o), options, maker)) for s, o in items]

    started_here = not ray.is_initialized()
    saved_print = builtins.print  # Ray swaps in its own print and leaves it after shutdown
    if started_here:
        ray.init(address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True)
    try:
        # Chunks amortise the model build, but every CPU of the cluster gets work.
        cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        chunk = max(1, min(chunk, -(-len(jobs) // (4 * cpus))))
        pending = [
            work_chunk.remote([(str(s), str(o)) for s, o in jobs[i : i + chunk]])
            for i in range(0, len(jobs), chunk)
        ]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for item in ray.get(done[0]):
                yield Outcome(**item)
    finally:
        if started_here:
            ray.shutdown()
        builtins.print = saved_print


def run_batch(
    root: Path,
    out_dir: Path,
    cfg: RetargetCfg,
    options: InputOptions,
    *,
    show_progress: bool = True,
) -> list[Outcome]:
    """Process every motion file under ``root`` into ``out_dir``; writes the summary files."""
    from tqdm import tqdm

    sources = collect_inputs(root)
    outcomes: list[Outcome] = []
    jobs: list[tuple[Path, Path]] = []
    for source in sources:
        output = output_path(source, root, out_dir)
        done = is_done(source, output, cfg) if cfg.batch.resume else None
        if done is not None:
            outcomes.append(done)
        else:
            jobs.append((source, output))
    workers = min(cfg.batch.workers or os.cpu_count() or 1, max(len(jobs), 1))
    if cfg.batch.engine == "ray":
        stream = run_ray(jobs, cfg, options)
    else:
        stream = run_local(jobs, cfg, options, workers)
    with tqdm(total=len(jobs), unit="clip", disable=not show_progress or not jobs) as bar:
        bar.set_description(f"retarget ({len(outcomes)} already done)")
        for outcome in stream:
            outcomes.append(outcome)
            bar.set_postfix_str(f"{Path(outcome.source).name}: {outcome.verdict}")
            bar.update()
    outcomes.sort(key=lambda o: o.source)
    write_summary(out_dir, outcomes)
    return outcomes


def write_summary(out_dir: Path, outcomes: list[Outcome]) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.json`` in ``out_dir``: one row per input."""
    figure_keys = sorted({key for o in outcomes for key in o.figures})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    base = ["source", "output", "verdict", "reasons", "frames_in", "frames_out", "seconds"]
    writer.writerow(base + figure_keys)
    for o in outcomes:
        row = [o.source, o.output, o.verdict, " | ".join(o.reasons), o.frames_in, o.frames_out]
        writer.writerow(row + [o.seconds] + [o.figures.get(k, "") for k in figure_keys])
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("pass", "warn", "fail", "error")}
    payload = {"counts": counts, "clips": [asdict(o) for o in outcomes]}
    csv_path = atomic_write(out_dir / "summary.csv", lambda t: t.write_text(buffer.getvalue()))
    json_path = atomic_write(
        out_dir / "summary.json", lambda t: t.write_text(json.dumps(payload, indent=2) + "\n")
    )
    return csv_path, json_path
