"""Where a folder run's clips are made: a local process pool or a Ray cluster.

Each worker builds the robot model and solver once (:class:`ClipMaker`) and runs the
pipeline file by file; a user-facing problem with one file becomes an ``error`` outcome and
the others go on. Local workers die with the process that started them (Linux:
``PR_SET_PDEATHSIG``; elsewhere they stop taking work once their parent is gone).
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

from humimic.config.retarget import RetargetCfg
from humimic.errors import ConfigError, HumimicError
from humimic.motion.pipeline import ClipMaker, InputOptions, Outcome

_WORKER: ClipMaker | None = None
"""This worker process's clip maker (set by the pool initialiser)."""


def process_one(source: Path, output: Path, options: InputOptions, maker: ClipMaker) -> Outcome:
    """Run the pipeline on one file; user-facing problems become an ``error`` outcome."""
    try:
        return maker.run(source, output, options)
    except HumimicError as err:
        return Outcome(str(source), str(output), "error", [str(err).splitlines()[0]])
    except Exception as err:  # a bug on one file must not stop a 10,000-file batch
        return Outcome(str(source), str(output), "error", [f"internal error: {err!r}"])


def _init_worker(cfg: RetargetCfg, parent_pid: int) -> None:
    """Process-pool initialiser: dies with its parent, leaves Ctrl-C to the parent, builds
    one model and solver, single-threaded maths."""
    global _WORKER
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends it to the whole group
    import torch

    torch.set_num_threads(1)
    _WORKER = ClipMaker(cfg)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this process when its parent dies (even by kill -9). Then
    a parent already gone (between fork and here) ends this worker too."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _work(source: Path, output: Path, options: InputOptions, parent_pid: int) -> Outcome:
    if os.getppid() != parent_pid:  # orphaned (no PR_SET_PDEATHSIG here): write nothing
        os._exit(1)
    assert _WORKER is not None
    return process_one(source, output, options, _WORKER)


def run_local(
    jobs: list[tuple[Path, Path]],
    cfg: RetargetCfg,
    options: InputOptions,
    workers: int,
    leftovers: list[Outcome] | None = None,
) -> Iterator[Outcome]:
    """Yield outcomes as a local process pool finishes them.

    Closing the iterator early (Ctrl-C in the caller's loop) cancels the queued clips and
    stops the workers at once, abandoning any clip in flight; clips that had finished but
    were not yet yielded are appended to ``leftovers``.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # torch and threads: never fork
    me = os.getpid()
    pool = ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(cfg, me))
    futures: list[Future[Outcome]] = []
    yielded: set[int] = set()
    try:
        futures = [pool.submit(_work, src, out, options, me) for src, out in jobs]
        for future in as_completed(futures):
            yielded.add(id(future))
            yield future.result()
    finally:
        if len(yielded) == len(futures):
            pool.shutdown(wait=True)
        else:
            stop_pool(pool)
            for future in futures:
                if id(future) in yielded or not future.done() or future.cancelled():
                    continue
                if future.exception() is None and leftovers is not None:
                    leftovers.append(future.result())


def stop_pool(pool: ProcessPoolExecutor, grace_s: float = 2.0) -> None:
    """Cancel queued work and end the pool's worker processes now (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join(grace_s)


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
