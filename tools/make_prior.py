"""Make the shipped prior (``priors/g1_cpu_tracker.pt``) from a multi-clip run's checkpoint.

    humimic train motions/cmu_07_05_walk.npz cmu_09_06_run.npz motions/cmu_01_01_crouch.npz \\
        motions/g1_wave_bow.npz runner.init_from=none runner.time_limit_min=60 \\
        runner.iterations=100000 sim.update_threads=1 --out runs/prior --no-progress
    python tools/make_prior.py runs/prior/model_<last>.pt

Keeps the actor (with its action std and observation normaliser) and the critic, drops the
optimiser state, and records the run's clips and iteration count in ``infos["prior"]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from humimic.errors import HumimicError
from humimic.train.prior import BUILTIN_PRIOR_FILE, write_prior


def main(argv: list[str] | None = None) -> int:
    """Strip CHECKPOINT to a prior file; exit code 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a run's model_<k>.pt")
    parser.add_argument("-o", "--out", type=Path, default=BUILTIN_PRIOR_FILE, help="prior file")
    args = parser.parse_args(argv)
    try:
        from humimic.train.runner import load_run_config

        cfg = load_run_config(args.checkpoint.parent)
        clips = [Path(f).name for f in cfg.task.motion.files]
        out = write_prior(args.checkpoint, args.out, clips)
    except HumimicError as err:
        print(f"make_prior: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} (clips: {', '.join(clips)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
