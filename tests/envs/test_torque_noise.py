"""PBHC torque noise in the domain randomiser: RFI per step, RAO per episode, config checks,
and the bias reaching the backend through the env."""

from __future__ import annotations

import pytest
import torch

from humimic.config.store import compose
from humimic.config.train import RandomizationCfg
from humimic.envs.randomization import DomainRandomizer
from humimic.envs.tracking_env import TrackingEnv
from humimic.errors import ConfigError
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec
from humimic.sim import SimBackend, make_backend
from humimic.testing.synthetic_clips import arm_wave_clip

N = 4


@pytest.fixture(scope="module")
def backend() -> SimBackend:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    backend = make_backend("mujoco", build_model(spec), spec, N, ["pelvis"], num_threads=1)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def effort() -> torch.Tensor:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    return torch.as_tensor(spec.effort_limit, dtype=torch.float32)


def _randomizer(backend: SimBackend, effort: torch.Tensor, **cfg: object) -> DomainRandomizer:
    """A randomiser after the env's first reset (randomised if ``enabled``)."""
    dr = DomainRandomizer(
        RandomizationCfg(**cfg),  # type: ignore[arg-type]
        backend,
        num_bodies=1,
        num_joints=len(effort),
        control_dt=0.02,
        generator=torch.Generator().manual_seed(0),
        effort_limits=effort,
    )
    dr.reset(torch.arange(N), randomize=dr.cfg.enabled)
    return dr


def test_rao_is_bounded_constant_per_episode_and_redrawn_on_reset(backend, effort) -> None:
    dr = _randomizer(backend, effort)
    rao = dr.rao.clone()
    assert (rao.abs() <= 0.05 * effort).all()
    # Uniform on ±0.05·τmax: the extremes come close to the bound, both signs occur.
    assert (rao / (0.05 * effort)).abs().max() > 0.9 and (rao > 0).any() and (rao < 0).any()
    for _ in range(5):
        bias = dr.torque_bias()
        assert torch.equal(dr.rao, rao)
        assert torch.equal(bias, dr.rfi + rao)
    dr.reset(torch.tensor([1, 3]), randomize=True)
    assert torch.equal(dr.rao[[0, 2]], rao[[0, 2]])
    assert not torch.isclose(dr.rao[[1, 3]], rao[[1, 3]]).any()
    assert (dr.rao.abs() <= 0.05 * effort).all()


def test_rfi_is_bounded_by_the_episode_scale_and_fresh_every_step(backend, effort) -> None:
    dr = _randomizer(backend, effort)
    s = dr.rfi_scale.clone()
    assert ((s >= 0.5) & (s <= 1.5)).all() and s.max() - s.min() > 0.5
    previous = dr.torque_bias() - dr.rao
    ratios = []
    for _ in range(200):
        rfi = dr.torque_bias() - dr.rao
        assert (rfi.abs() <= 0.05 * 1.5 * effort + 1e-6).all()
        assert (rfi.abs() <= 0.05 * s * effort + 1e-6).all()
        assert (rfi != previous).all()  # a fresh sample for every joint of every world
        ratios.append(rfi / (0.05 * s * effort))
        previous = rfi
    ratios = torch.stack(ratios)
    # U(±1): mean 0 (std of the mean 0.58/sqrt(200·N·J) ≈ 0.004), extremes near ±1.
    assert ratios.mean().abs() < 0.02
    assert ratios.max() > 0.99 and ratios.min() < -0.99
    assert torch.equal(dr.rfi_scale, s)


def test_zero_scales_or_disabled_give_exactly_zero_bias(backend, effort) -> None:
    off = _randomizer(backend, effort, torque_noise_scale=0.0, torque_offset_scale=0.0)
    assert not off.torque_noise_active
    assert torch.equal(off.torque_bias(), torch.zeros(N, len(effort)))
    rfi_only = _randomizer(backend, effort, torque_offset_scale=0.0)
    assert rfi_only.torque_noise_active and torch.equal(rfi_only.rao, torch.zeros(N, len(effort)))
    assert torch.equal(rfi_only.torque_bias(), rfi_only.rfi) and rfi_only.rfi.abs().sum() > 0
    disabled = _randomizer(backend, effort, enabled=False)
    assert not disabled.torque_noise_active
    assert torch.equal(disabled.torque_bias(), torch.zeros(N, len(effort)))
    # A non-randomised reset clears a world's noise.
    on = _randomizer(backend, effort)
    on.reset(torch.tensor([2]), randomize=False)
    assert torch.equal(on.torque_bias()[2], torch.zeros(len(effort)))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("torque_noise_scale", -0.01),
        ("torque_offset_scale", -0.05),
        ("torque_offset_scale", float("inf")),
        ("torque_noise_episode_scale", [1.5, 0.5]),
        ("torque_noise_episode_scale", [-0.5, 1.5]),
        ("torque_noise_episode_scale", [0.5]),
    ],
)
def test_bad_torque_noise_config_names_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"task\.randomization\.{key} "):
        RandomizationCfg(**{key: value})  # type: ignore[arg-type]


def test_config_defaults_and_override_through_compose() -> None:
    cfg = compose("train", []).task.randomization
    assert cfg.torque_noise_scale == 0.05 and cfg.torque_offset_scale == 0.05
    assert list(cfg.torque_noise_episode_scale) == [0.5, 1.5]
    with pytest.raises(ConfigError, match=r"task\.randomization\.torque_noise_scale"):
        compose("train", ["task.randomization.torque_noise_scale=-1"])


def test_env_sets_rfi_plus_rao_on_the_backend_every_step() -> None:
    cfg = compose("train", ["sim.num_envs=2", "sim.physics_threads=1"])
    env = TrackingEnv(cfg.task, cfg.sim, clips=[arm_wave_clip(seconds=1.0)])
    try:
        bias = env.backend._bias  # type: ignore[attr-defined]
        seen = []
        for _ in range(3):
            env.step(torch.zeros(2, 23))
            expected = env.dr.rfi + env.dr.rao
            assert expected.abs().sum() > 0
            torch.testing.assert_close(bias, expected, rtol=0, atol=1e-6)
            seen.append(expected.clone())
        assert not torch.equal(seen[0], seen[1])
        # applied_torque is the clipped total: never beyond the effort limits.
        assert (env.d.robot.applied_torque.abs() <= env.layout.effort_limits + 1e-4).all()
    finally:
        env.close()
