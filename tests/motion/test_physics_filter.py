"""CoM, CoP and the stability filter on hand-made figures and on real CMU clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.motion.human import CANONICAL_JOINTS, HumanMotion
from humimic.motion.physics_filter import (
    FilterCfg,
    center_of_mass_w,
    center_of_pressure_w,
    cop_weights,
    stability,
)

# A symmetric standing figure (left = +y), metres; flat feet: ankle and toe at the same height.
STANDING = {
    "pelvis": (0.0, 0.0, 0.95),
    "spine": (0.0, 0.0, 1.05),
    "chest": (0.0, 0.0, 1.25),
    "neck": (0.0, 0.0, 1.45),
    "head": (0.0, 0.0, 1.60),
    "left_shoulder": (0.0, 0.18, 1.40),
    "left_elbow": (0.0, 0.20, 1.10),
    "left_wrist": (0.0, 0.20, 0.85),
    "right_shoulder": (0.0, -0.18, 1.40),
    "right_elbow": (0.0, -0.20, 1.10),
    "right_wrist": (0.0, -0.20, 0.85),
    "left_hip": (0.0, 0.10, 0.90),
    "left_knee": (0.0, 0.10, 0.50),
    "left_ankle": (0.0, 0.10, 0.02),
    "left_toe": (0.15, 0.10, 0.02),
    "right_hip": (0.0, -0.10, 0.90),
    "right_knee": (0.0, -0.10, 0.50),
    "right_ankle": (0.0, -0.10, 0.02),
    "right_toe": (0.15, -0.10, 0.02),
}
# Sole of each foot: heel (a third of the ankle→toe step behind the ankle), ankle, mid, toe,
# all at the same height, so every point weighs the same: x = (-0.05 + 0 + 0.075 + 0.15) / 4.
FLAT_FOOT_COP_X = 0.04375


def figure(
    pose: dict[str, tuple[float, float, float]], t: int = 1, fps: float = 30.0
) -> HumanMotion:
    """A motion holding ``pose`` for ``t`` frames."""
    names = list(pose)
    pos = np.tile(np.array([pose[n] for n in names], dtype=np.float64), (t, 1, 1))
    return HumanMotion(
        fps=fps,
        joint_names=names,
        parents=np.full(len(names), -1, dtype=np.int64),
        joint_pos_w=pos,
        canonical={n: n for n in names},
    )


def test_com_of_a_symmetric_figure_is_on_its_symmetry_plane() -> None:
    com = center_of_mass_w(figure(STANDING))
    assert abs(com[0, 1]) < 1e-12
    assert abs(com[0, 0]) < 0.01  # only the feet reach forward
    assert 0.8 < com[0, 2] < 1.1


def test_com_of_point_masses_matches_the_de_leva_fractions() -> None:
    # Everything at the origin except the right arm at x = 1 m: only the right upper arm,
    # forearm and hand (2.71 + 1.62 + 0.61 % of body mass) move the CoM, and the trunk's top
    # (shoulder midpoint) moves to x = 0.5, which carries the upper/middle/lower trunk.
    pose = dict.fromkeys(CANONICAL_JOINTS, (0.0, 0.0, 0.0))
    for j in ("right_shoulder", "right_elbow", "right_wrist"):
        pose[j] = (1.0, 0.0, 0.0)
    # Trunk part CoMs along shoulder-mid → hip-mid: (0, 170.7, 386.2 mm) + CoM % x length, over
    # 531.9 mm; each sits at x = 0.5 * (1 - fraction).
    f_upper = 0.2999 * 170.7 / 531.9
    f_mid = (170.7 + 0.4502 * 215.5) / 531.9
    f_low = (386.2 + 0.6115 * 145.7) / 531.9
    trunk = 0.1596 * (1 - f_upper) + 0.1633 * (1 - f_mid) + 0.1117 * (1 - f_low)
    expected_x = 0.0271 + 0.0162 + 0.0061 + 0.5 * trunk
    com = center_of_mass_w(figure(pose))
    np.testing.assert_allclose(com[0], [expected_x, 0.0, 0.0], atol=1e-12)


def test_com_places_the_thigh_mass_along_the_segment() -> None:
    pose = dict.fromkeys(CANONICAL_JOINTS, (0.0, 0.0, 0.0))
    pose["left_knee"] = (0.0, 0.0, -1.0)
    pose["left_ankle"] = (0.0, 0.0, -1.0)
    pose["left_toe"] = (0.0, 0.0, -1.0)
    # thigh 14.16 % at 40.95 % of hip→knee, shank 4.33 % and foot 1.37 % at the knee's level.
    expected_z = -(0.1416 * 0.4095 + 0.0433 + 0.0137)
    assert center_of_mass_w(figure(pose))[0, 2] == pytest.approx(expected_z, abs=1e-12)


def test_com_w_from_the_source_wins() -> None:
    motion = figure(STANDING, t=2)
    motion.com_w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(center_of_mass_w(motion), motion.com_w)


def test_cop_weights_and_cop_from_ground_points_by_hand() -> None:
    np.testing.assert_allclose(
        cop_weights([-0.01, 0.0, 0.1], k=100.0, w=10.0), [2.0, 1.0, np.exp(-1.0)]
    )
    motion = figure(STANDING)
    motion.ground_points_w = np.array([[[0.0, 0.0, -0.01], [1.0, 0.0, 0.0], [0.0, 1.0, 0.1]]])
    total = 2.0 + 1.0 + np.exp(-1.0)
    cop = center_of_pressure_w(motion)
    np.testing.assert_allclose(cop[0], [1.0 / total, np.exp(-1.0) / total, 0.0], atol=1e-12)


def test_cop_of_flat_feet_is_the_mean_of_the_sole_points() -> None:
    cop = center_of_pressure_w(figure(STANDING))
    np.testing.assert_allclose(cop[0], [FLAT_FOOT_COP_X, 0.0, 0.0], atol=1e-12)


def leaning(offsets_x: np.ndarray, fps: float = 30.0) -> HumanMotion:
    """Standing figure whose CoM (``com_w``) is ``offsets_x`` ahead of the CoP per frame."""
    motion = figure(STANDING, t=offsets_x.size, fps=fps)
    com = np.zeros((offsets_x.size, 3))
    com[:, 0] = FLAT_FOOT_COP_X + offsets_x
    com[:, 2] = 0.95
    motion.com_w = com
    return motion


def test_lean_of_15_cm_is_unstable_and_5_cm_is_stable() -> None:
    result = stability(leaning(np.full(30, 0.05)), FilterCfg())
    assert result.passed and result.stable.all()
    np.testing.assert_allclose(result.distance_m, 0.05, atol=1e-12)
    result = stability(leaning(np.full(30, 0.15)), FilterCfg())
    assert not result.stable.any()
    # 1 s unstable is within PBHC's 3.33 s; the unstable ends only warn
    assert result.passed and result.severity == "warn"
    assert result.reason == "first frame unstable (CoM–CoP 0.150 m > 0.100 m)"
    assert result.first_stable is None


def test_a_lean_that_prints_as_the_threshold_is_stable() -> None:
    # issue 12: a punch failed on "0.10 > 0.10" (a distance of 0.1004 m)
    result = stability(leaning(np.full(30, 0.1004)), FilterCfg())
    assert result.stable.all() and result.severity == "pass", result.reason
    result = stability(leaning(np.full(30, 0.1006)), FilterCfg())
    assert not result.stable.any() and "0.101 m > 0.100 m" in result.reason


def test_a_two_second_unstable_run_passes_pbhc_limit_and_fails_one_second() -> None:
    offsets = np.full(180, 0.02)
    offsets[60:120] = 0.15  # 2 s at 30 fps
    result = stability(leaning(offsets), FilterCfg())
    assert result.passed
    assert result.longest_unstable_s == pytest.approx(2.0)
    assert (result.first_stable, result.last_stable) == (0, 179)
    result = stability(leaning(offsets), FilterCfg(max_unstable_s=1.0))
    assert not result.passed
    assert result.reason == "unstable for 2.00 s from 2.00 s (limit 1.00 s)"
    disabled = stability(leaning(offsets), FilterCfg(max_unstable_s=1.0, enabled=False))
    assert disabled.passed and "unstable for 2.00 s" in disabled.reason


def test_short_clip_with_only_its_last_frame_unstable_warns() -> None:
    offsets = np.full(30, 0.0)
    offsets[-1] = 0.3
    result = stability(leaning(offsets), FilterCfg())
    assert result.reason == "last frame unstable (CoM–CoP 0.300 m > 0.100 m)"
    assert result.passed and result.severity == "warn"
    assert result.summary()["severity"] == "warn"


def jump(flight_s: float, ballistic: bool, fps: float = 50.0) -> HumanMotion:
    """Stand 1 s, lift every joint 0.5 m for ``flight_s``, stand 1 s; CoM in ``com_w``."""
    n_flight = round(flight_s * fps)
    motion = leaning(np.zeros(2 * round(fps) + n_flight), fps)
    flight = slice(round(fps), round(fps) + n_flight)
    motion.joint_pos_w[flight, :, 2] += 0.5
    if ballistic:
        t = np.arange(n_flight) / fps
        motion.com_w[flight, 2] += 0.5 + 9.81 * flight_s / 2 * t - 9.81 / 2 * t**2
    return motion


def test_ballistic_flight_is_neither_stable_nor_unstable() -> None:
    result = stability(jump(0.5, ballistic=True), FilterCfg())
    assert result.passed, result.reason
    assert result.airborne.sum() == 25 and not result.off_feet.any()
    assert np.isfinite(result.distance_m).all()
    assert result.longest_unstable_s == 0.0


def test_held_up_without_feet_fails_as_off_the_feet() -> None:
    # Same heights but the CoM does not fall: the body is held by something (hands, a prop).
    result = stability(jump(0.5, ballistic=False), FilterCfg())
    assert not result.passed
    assert result.reason == "off the feet for 0.50 s from 1.00 s (limit 0.25 s)"
    assert result.off_feet.sum() == 25 and not result.airborne.any()


def test_too_long_flight_fails() -> None:
    result = stability(jump(0.5, ballistic=True), FilterCfg(max_airborne_s=0.3))
    assert result.reason == "airborne for 0.50 s from 1.00 s (limit 0.30 s)"


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"FilterCfg\.stability_threshold_m"):
        FilterCfg(stability_threshold_m=0.0)
    with pytest.raises(ConfigError, match=r"FilterCfg\.max_unstable_s"):
        FilterCfg(max_unstable_s=float("inf"))


def _normalized(shared_motions: Path, name: str) -> HumanMotion:
    bvh = pytest.importorskip(
        "humimic.motion.io.bvh", reason="BVH reader humimic.motion.io.bvh.read_bvh missing"
    )
    from humimic.motion.normalize import NormalizeCfg, normalize

    return normalize(bvh.read_bvh(shared_motions / "cmu/bvh" / name), NormalizeCfg())[0]


def test_real_walk_passes(shared_motions: Path) -> None:
    result = stability(_normalized(shared_motions, "02_01.bvh"), FilterCfg())
    assert result.passed, result.reason
    assert result.stable.mean() > 0.95
    assert result.summary()["distance_max_m"] < 0.1


def test_real_cartwheels_are_flagged(shared_motions: Path) -> None:
    result = stability(_normalized(shared_motions, "49_08_cartwheels.bvh"), FilterCfg())
    assert not result.passed
    assert result.reason.startswith("off the feet for")
    assert result.off_feet.mean() > 0.15


def test_ends_check_can_be_switched_off() -> None:
    offsets = np.full(30, 0.0)
    offsets[0] = 0.3
    cfg = FilterCfg(require_stable_ends=False)
    result = stability(leaning(offsets), cfg)
    assert result.passed and result.first_stable == 1
