"""``humimic train``: PPO motion tracking of one or more robot clips."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train a tracking policy on robot clips (PPO, rsl-rl, MuJoCo)"
EPILOG = """\
Any config key can be overridden right after the clips (before the options), e.g.
  humimic train walk.npz task.rewards.action_rate.weight=-0.3 algo.init_std=0.6 --num-envs 256
(see configs/train.yaml). The run folder (default runs/<experiment>/<UTC time>/) gets
config.yaml, checkpoints model_<iteration>.pt and TensorBoard logs
(tensorboard --logdir runs). Ctrl-C saves a checkpoint; --resume continues from one.
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
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--no-progress", action="store_true", help="print rsl-rl's log instead")
    parser.set_defaults(run=run)


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
    from humimic.train.runner import train

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
    cfg = replace(cfg, task=replace(cfg.task, motion=replace(cfg.task.motion, files=files)))
    run_dir = train(replace(cfg, runner=runner))
    print(f"run folder: {run_dir}")
    return 0
