"""``humimic train``: PPO motion tracking of one or more robot clips."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humimic.config.train import TrainCfg

HELP = "train a tracking policy on robot clips (PPO, rsl-rl, MuJoCo)"
EPILOG = """\
Any config key can be overridden right after the clips (before the options), e.g.
  humimic train walk.npz task.rewards.action_rate.weight=-0.3 algo.init_std=0.6 --num-envs 256
(see configs/train.yaml). The run folder (default runs/<experiment>/<UTC time>/) gets
config.yaml, checkpoints model_<iteration>.pt and TensorBoard logs
(tensorboard --logdir runs). Ctrl-C saves a checkpoint; --resume continues from one.
By default (preset cpu) a run starts from the shipped prior, a tracker trained on several
clips (priors/, docs/training.md); --init-from CHECKPOINT starts from another run's networks
instead, --init-from none from scratch. The optimiser and curricula always start fresh.
Several machines: start `torchrun --nnodes K --nproc-per-node N ... -m humimic.cli.main train
...` on each (torchrun sets RANK/WORLD_SIZE; rank 0 writes the run folder).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train", help=HELP, description=HELP + ".", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("inputs", nargs="+", help="robot clips (.npz), then key=value overrides")
    parser.add_argument("--num-envs", type=int, help="parallel simulated robots")
    parser.add_argument("--iterations", type=int, help="PPO iterations")
    parser.add_argument("--backend", choices=("mujoco", "mujoco_warp"), help="physics backend")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<experiment>/<time>)")
    parser.add_argument("--resume", type=Path, help="checkpoint to continue from")
    parser.add_argument(
        "--init-from", type=Path, metavar="CHECKPOINT",
        help="start from this checkpoint's actor and critic (a warm start, not a resume); "
        "'builtin' (the cpu preset's default): the shipped prior; 'none': from scratch",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--no-progress", action="store_true", help="print rsl-rl's log instead")
    parser.add_argument(
        "--nproc", type=int, default=1,
        help="training processes on this machine, one policy (torch.distributed: gloo on the "
        "CPU, nccl with one GPU each); each runs --num-envs worlds",
    )  # fmt: skip
    parser.set_defaults(run=run, trailing_overrides="inputs")


def _overrides(args: argparse.Namespace, overrides: list[str]) -> list[str]:
    out = list(overrides)
    for flag, key in (("num_envs", "sim.num_envs"), ("iterations", "runner.iterations"),
                      ("backend", "sim.backend"), ("seed", "runner.seed")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            out.append(f"{key}={value}")
    if args.no_progress:
        out.append("runner.progress=false")
    return out


def run(args: argparse.Namespace) -> int:
    """Compose and validate the config, then train; prints the run folder."""
    from dataclasses import replace

    from humimic.config.store import compose
    from humimic.errors import ConfigError
    from humimic.train.runner import distributed_world, train

    overrides = [a for a in args.inputs if "=" in a]
    clips = [a for a in args.inputs if "=" not in a]
    if not clips:
        raise ConfigError("no robot clip given: humimic train CLIP.npz [key=value ...]")
    cfg = compose("train", _overrides(args, overrides))
    files = [str(Path(c).resolve()) for c in clips]
    runner = cfg.runner
    if args.out is not None:
        runner = replace(runner, run_dir=str(args.out))
    if args.resume is not None:
        runner = replace(runner, resume=str(args.resume))
    if args.init_from is not None:
        runner = replace(runner, init_from=str(args.init_from))
    cfg = replace(cfg, task=replace(cfg.task, motion=replace(cfg.task.motion, files=files)))
    cfg = replace(cfg, runner=runner)
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return launch_processes(args.nproc, cfg, files, _overrides(args, overrides))
    run_dir = train(cfg)
    if distributed_world().rank == 0:
        print(f"run folder: {run_dir}")
    return 0


def launch_processes(nproc: int, cfg: TrainCfg, files: list[str], overrides: list[str]) -> int:
    """Run ``humimic train`` in ``nproc`` processes through torch's launcher (torchrun).

    The run folder is fixed here so every process agrees on it; returns the exit code.
    """
    from humimic.train.prior import BUILTIN, resolve_init_from
    from humimic.train.runner import make_run_dir

    extra = [f"runner.run_dir={make_run_dir(cfg).resolve()}"]
    if cfg.runner.resume:
        extra.append(f"runner.resume={Path(cfg.runner.resume).resolve()}")
    init_from = resolve_init_from(cfg.runner.init_from)
    if init_from is not None and cfg.runner.init_from != BUILTIN:
        extra.append(f"runner.init_from={init_from.resolve()}")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={nproc}", "-m", "humimic.cli.main", "train",
        *files, *overrides, *extra,
    ]  # fmt: skip
    return subprocess.run(command, check=False).returncode
