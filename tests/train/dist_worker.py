"""One training process of ``test_distributed.py`` (started by torchrun, not collected by pytest).

Usage: ``torchrun --nproc-per-node 2 dist_worker.py CLIP OUT_DIR``. Each rank trains two
iterations through humimic's runner and saves what the test compares: its policy weights,
the weights it started from, and the first observations its own worlds produced.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from humimic.config.store import compose
from humimic.train.runner import build_runner, distributed_world


def main(clip: str, out: Path) -> None:
    """Train two tiny iterations and write ``rank<k>.pt``."""
    cfg = compose(
        "train",
        [
            "sim.num_envs=4",
            f"task.motion.files=[{clip}]",
            f"runner.run_dir={out / 'run'}",
            "runner.progress=false",
            "runner.save_interval=1000",
            "algo.actor_hidden_dims=[32,32]",
            "algo.critic_hidden_dims=[32,32]",
            "algo.num_steps_per_env=8",
            "algo.num_learning_epochs=2",
            "algo.num_mini_batches=2",
        ],
    )
    rank = distributed_world().rank
    runner = build_runner(cfg, out / "run")
    initial = {k: v.clone() for k, v in runner.alg.actor.state_dict().items()}
    first_obs = runner.env.get_observations()["actor"].clone()
    runner.learn(2, progress=False)
    final = runner.alg.actor.state_dict()
    torch.save({"initial": initial, "final": final, "first_obs": first_obs}, out / f"rank{rank}.pt")
    runner.env.close()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
