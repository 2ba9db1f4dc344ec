"""Off-policy benchmark: train one clip with SAC (Stable-Baselines3) for M minutes of wall time.

    pip install stable-baselines3
    python tools/bench_sac.py motions/cmu_02_01_walk.npz --minutes 30 --eval-at 5,15,30

The bounded off-policy experiment of docs/training.md ("An off-policy learner"): the same
env, clip, observations, rewards, terminations, randomisation and evaluation protocol as
``humimic train`` and ``tools/bench_learning.py`` (the config is composed the same way, with
the same ``key=value`` overrides), only the learner differs:

- SAC from Stable-Baselines3 through its extension points: the env is wrapped as an SB3
  ``VecEnv`` (:class:`TrackingVecEnv`), observations are normalised by ``VecNormalize``, and
  the policy (:class:`AsymmetricSACPolicy`) gives the actor the ``actor`` observation group
  and the twin Q-critics the privileged ``critic`` group, as PPO's asymmetric actor-critic;
- actions are the env's own (residual in the ``cpu`` preset), squashed to
  ``[-action_bound, action_bound]`` by SAC's tanh;
- a time-out (the clip's end) bootstraps from the observation before the step, as rsl-rl's
  PPO does (the env resets before it observes, so the terminal observation is gone).

A run always starts from scratch (the shipped prior is a PPO network). At each ``--eval-at``
time the deterministic actor is scored over ``--episodes`` noisy episodes with
``humimic eval``'s metrics (evaluation time is not training time). Prints the curve and
ends with one line of JSON (``minutes``, ``samples``, ``samples_per_s``, ``e_mpbpe_mm``,
``e_g_mpbpe_mm``, ``success_rate``, ``upright_rate``, ``elr_0.7m``, ``curve``, ``sac``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    import gymnasium as gym
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import VecEnv, VecNormalize
    from stable_baselines3.sac.policies import SACPolicy
except ImportError as err:  # an optional experiment: say how to get it
    sys.exit(f"bench_sac: needs stable-baselines3 ({err}); pip install stable-baselines3")


class TrackingVecEnv(VecEnv):  # type: ignore[misc]
    """A :class:`humimic.envs.tracking_env.TrackingEnv` as an SB3 ``VecEnv``.

    Observations are a dict of the env's groups (``actor`` (N, A), ``critic`` (N, C));
    actions (N, J) in the env's action units; dones mark failures and time-outs, with
    ``TimeLimit.truncated`` and ``terminal_observation`` (the pre-step observation) per
    done env.
    """

    def __init__(self, env: Any, action_bound: float) -> None:
        self.env = env
        obs = self.numpy_obs(env.get_observations())
        space = gym.spaces.Dict(
            {k: gym.spaces.Box(-np.inf, np.inf, v.shape[1:], np.float32) for k, v in obs.items()}
        )
        bound = np.full(env.num_actions, action_bound, np.float32)
        self.render_mode = None  # nothing to render; SB3 asks before it sets its own
        super().__init__(env.num_envs, space, gym.spaces.Box(-bound, bound, dtype=np.float32))
        self._obs = obs
        self._actions: np.ndarray | None = None

    @staticmethod
    def numpy_obs(obs: Any) -> dict[str, np.ndarray]:
        """The env's observation TensorDict as this VecEnv's dict of float32 arrays."""
        return {k: obs[k].cpu().numpy().astype(np.float32) for k in ("actor", "critic")}

    def reset(self) -> dict[str, np.ndarray]:
        """The current observations: the env resets its worlds itself when they end."""
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        assert self._actions is not None
        actions = torch.as_tensor(self._actions, dtype=torch.float32, device=self.env.device)
        obs_td, reward, done, extras = self.env.step(actions)
        obs = self.numpy_obs(obs_td)
        done_np = done.cpu().numpy()
        time_out = extras["time_outs"].cpu().numpy()
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done_np):
            infos[i]["TimeLimit.truncated"] = bool(time_out[i])
            infos[i]["terminal_observation"] = {k: v[i] for k, v in self._obs.items()}
        self._obs = obs
        return obs, reward.cpu().numpy().astype(np.float32), done_np, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * self.num_envs

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kw: Any) -> list:
        return [getattr(self, method_name)(*args, **kw)] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * self.num_envs


class GroupExtractor(BaseFeaturesExtractor):  # type: ignore[misc]
    """One observation group of a dict observation, unchanged (features = that group)."""

    def __init__(self, observation_space: gym.spaces.Dict, group: str) -> None:
        super().__init__(observation_space, observation_space[group].shape[0])
        self.group = group

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return observations[self.group]


class AsymmetricSACPolicy(SACPolicy):  # type: ignore[misc]
    """SAC whose actor sees the ``actor`` group and whose critics see ``critic``."""

    def make_actor(self, features_extractor: Any = None) -> Any:
        return super().make_actor(GroupExtractor(self.observation_space, "actor"))

    def make_critic(self, features_extractor: Any = None) -> Any:
        return super().make_critic(GroupExtractor(self.observation_space, "critic"))


class WallClock(BaseCallback):  # type: ignore[misc]
    """Stops ``learn`` once ``limit_s`` seconds of it have passed."""

    def __init__(self, limit_s: float) -> None:
        super().__init__()
        self.limit_s, self.t0 = limit_s, 0.0

    def _on_training_start(self) -> None:
        self.t0 = time.monotonic()

    def _on_step(self) -> bool:
        return time.monotonic() - self.t0 < self.limit_s


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line: the clip, minutes, evaluation points, SAC settings, config overrides."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path, help="robot clip (.npz)")
    parser.add_argument("--minutes", type=float, required=True, help="training wall time, min")
    parser.add_argument("--eval-at", default="", help="comma-separated minutes")
    parser.add_argument("--episodes", type=int, default=16, help="evaluation episodes (16)")
    parser.add_argument("--batch", type=int, default=1024, help="SAC batch size (1024)")
    parser.add_argument(
        "--gradient-steps", type=int, default=4, help="updates per env step of all worlds (4)"
    )
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (3e-4)")
    parser.add_argument("--tau", type=float, default=0.005, help="target-network rate (0.005)")
    parser.add_argument(
        "--action-bound", type=float, default=2.0, help="|action| limit, env units (2.0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_intermixed_args(argv)
    if not args.minutes > 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")
    if not args.clip.is_file():
        parser.error(f"{args.clip}: no such clip")
    for name in ("batch", "gradient_steps", "episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.action_bound > 0:
        parser.error(f"--action-bound must be > 0, got {args.action_bound}")
    return args


def build_sac(venv: VecNormalize, args: argparse.Namespace, cfg: Any) -> SAC:
    """SAC sized for 2 CPU cores (docs/training.md): PPO's network widths, γ of the preset."""
    return SAC(
        AsymmetricSACPolicy,
        venv,
        learning_rate=args.lr,
        buffer_size=1_000_000,
        learning_starts=cfg.sim.num_envs * 4,
        batch_size=args.batch,
        tau=args.tau,
        gamma=cfg.algo.gamma,
        train_freq=1,
        gradient_steps=args.gradient_steps,
        policy_kwargs={
            "net_arch": {
                "pi": list(cfg.algo.actor_hidden_dims),
                "qf": list(cfg.algo.critic_hidden_dims),
            },
            "activation_fn": torch.nn.ELU,
            "share_features_extractor": False,
        },
        seed=args.seed,
        device="cpu",
        verbose=0,
    )


def score(model: SAC, venv: VecNormalize, cfg: Any, clip: Path, episodes: int) -> dict:
    """E_mpbpe, E_g_mpbpe, success, upright and ELR of the deterministic actor (noise on)."""
    from humimic.eval.runner import eval_config, score_policy

    ecfg = eval_config(cfg, clip, episodes, noise=True)

    def policy(obs: Any) -> torch.Tensor:
        raw = TrackingVecEnv.numpy_obs(obs)
        action, _ = model.predict(venv.normalize_obs(raw), deterministic=True)
        return torch.as_tensor(action, dtype=torch.float32)

    metrics, elr = score_policy(ecfg, policy)
    return {
        "e_mpbpe_mm": metrics.E_mpbpe.mean,
        "e_g_mpbpe_mm": metrics.E_g_mpbpe.mean,
        "success_rate": metrics.success_rate.mean,
        "upright_rate": metrics.upright_rate.mean,
        "elr_0.7m": elr.mean,
    }


def main(argv: list[str]) -> int:
    """Train with SAC, evaluate at the planned wall times, print the curve and JSON."""
    from humimic.config.store import compose
    from humimic.envs.tracking_env import TrackingEnv

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_learning import eval_points

    args = parse_args(argv)
    cfg = compose("train", [*args.overrides, "runner.progress=false"])
    task = replace(cfg.task, motion=replace(cfg.task.motion, files=[str(args.clip.resolve())]))
    cfg = replace(cfg, task=task, runner=replace(cfg.runner, seed=args.seed))
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_sac_"))
    out.mkdir(parents=True, exist_ok=True)
    if cfg.sim.torch_threads > 0:
        torch.set_num_threads(cfg.sim.torch_threads)
    torch.manual_seed(args.seed)
    venv = VecNormalize(
        TrackingVecEnv(TrackingEnv(cfg.task, cfg.sim, seed=args.seed), args.action_bound),
        norm_obs=True, norm_reward=False, clip_obs=100.0, gamma=cfg.algo.gamma,
    )  # fmt: skip
    model = build_sac(venv, args, cfg)
    curve: list[dict[str, float]] = []
    trained_s = 0.0
    print(f"bench_sac: {args.clip.name}, {cfg.sim.num_envs} worlds, output {out}")
    print(f"{'min':>6} {'samples':>9} {'E_mpbpe':>8} {'E_g':>7} {'succ':>5} {'up':>5} {'ELR.7':>5}")
    for point in eval_points(args.minutes, args.eval_at):
        t0 = time.monotonic()
        model.learn(10**12, callback=WallClock(point * 60.0 - trained_s),
                    reset_num_timesteps=False)  # fmt: skip
        trained_s += time.monotonic() - t0
        row: dict[str, float] = {"minutes": trained_s / 60.0, "samples": model.num_timesteps}
        row.update(score(model, venv, cfg, args.clip.resolve(), args.episodes))
        curve.append(row)
        model.save(out / f"sac_{model.num_timesteps}.zip")
        venv.save(str(out / f"vecnormalize_{model.num_timesteps}.pkl"))
        print(f"{row['minutes']:6.1f} {row['samples']:9d} {row['e_mpbpe_mm']:8.1f}"
              f" {row['e_g_mpbpe_mm']:7.1f} {row['success_rate']:5.2f}"
              f" {row['upright_rate']:5.2f} {row['elr_0.7m']:5.2f}", flush=True)  # fmt: skip
    venv.close()
    last = curve[-1]
    sac = {k: getattr(args, k) for k in ("batch", "gradient_steps", "lr", "tau", "action_bound")}
    result = {
        "clip": args.clip.name,
        "overrides": args.overrides,
        "minutes": trained_s / 60.0,
        "samples": last["samples"],
        "samples_per_s": last["samples"] / trained_s,
        **{k: last[k] for k in ("e_mpbpe_mm", "e_g_mpbpe_mm", "success_rate", "upright_rate")},
        "elr_0.7m": last["elr_0.7m"],
        "sac": sac,
        "torch_threads": torch.get_num_threads(),
        "curve": curve,
        "out": str(out),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    from humimic.errors import HumimicError

    try:
        sys.exit(main(sys.argv[1:]))
    except HumimicError as err:  # a bad override or clip: one line, exit code 2
        print(f"bench_sac: error: {err}", file=sys.stderr)
        sys.exit(2)
