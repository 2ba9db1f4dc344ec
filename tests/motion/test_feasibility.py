"""assess_clip: each check against a hand-made trajectory with a known answer."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from humimic.errors import ConfigError
from humimic.motion.feasibility import FeasibilityCfg, assess_clip
from humimic.motion.nonneg_lsq import nonneg_ridge_lsq
from humimic.motion.robot_clip import forward_kinematics, make_robot_clip, sole_points_w
from humimic.robot.lookup import foot_body_id, joint_trajectory_to_qpos, robot_foot_sole_points_b
from humimic.robot.model import build_model
from humimic.robot.spec import load_robot_spec

FPS = 30.0
T = 30


@pytest.fixture(scope="module")
def robot():
    spec = load_robot_spec("g1_23dof_lock_wrist")
    return spec, build_model(spec)


@pytest.fixture(scope="module")
def ground_height(robot) -> float:
    """Pelvis height that puts the lowest sole point of the default pose exactly at z = 0."""
    spec, model = robot
    qpos = joint_trajectory_to_qpos(
        model, spec, [[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0, 0.0]], [spec.default_joint_pos]
    )
    kin = forward_kinematics(model, qpos)
    soles = robot_foot_sole_points_b(model, spec)
    lowest = min(
        sole_points_w(soles[s], kin["body_pos_w"][:, b], kin["body_quat_w"][:, b])[..., 2].min()
        for s in ("left", "right")
        for b in [foot_body_id(model, spec, s)]
    )
    return -float(lowest)


def _clip(robot, height, *, contact=1.0, joints=None, root_x=None):
    spec, model = robot
    root_pos = np.tile([0.0, 0.0, height], (T, 1))
    if root_x is not None:
        root_pos[:, 0] = root_x
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (T, 1))
    if joints is None:
        joints = np.tile(spec.default_joint_pos, (T, 1)).astype(np.float64)
    mask = np.full((T, 2), contact)
    return make_robot_clip(spec, model, root_pos, root_quat, joints, FPS, contact_mask=mask)


def _weight(model) -> float:
    return float(np.sum(model.body_mass) * -model.opt.gravity[2])


def test_standing_still_passes_with_feet_carrying_the_weight(robot, ground_height):
    spec, model = robot
    report = assess_clip(_clip(robot, ground_height), spec, model).to_json()
    checks = report["checks"]
    assert report["verdict"] == "pass", report["reasons"]
    assert checks["foot_skating"]["mean_mps"] < 1e-9
    assert checks["ground_penetration"]["max_depth_m"] < 1e-9
    assert checks["torque"]["worst_fraction"] < 1.0
    assert checks["support"]["unsupported_force_fraction"]["max"] < 1e-3
    assert checks["support"]["normal_force_mean_n"] == pytest.approx(_weight(model), rel=0.02)
    assert checks["self_collision"]["frames"] == 0 and checks["self_collision"]["checked"]
    assert report["robot_contact"]["agreement"] == 1.0  # the soles are on the ground
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize("contact", [0.0, 1.0])  # a foot in the air cannot push, mask or not
def test_lifted_robot_needs_its_weight_as_support(robot, ground_height, contact):
    spec, model = robot
    report = assess_clip(_clip(robot, ground_height + 0.5, contact=contact), spec, model).to_json()
    support = report["checks"]["support"]
    assert support["unsupported_force_max_n"] == pytest.approx(_weight(model), rel=1e-6)
    # no foot can push on any frame: 1 s held up by nothing (limit 0.25 s)
    assert support["contact_frames"] == 0 and support["hover_frames"] == T
    assert support["longest_hover_s"] == pytest.approx(T / FPS)
    assert support["verdict"] == "fail" and report["verdict"] == "fail"
    assert support["normal_force_mean_n"] == 0.0


def test_joint_limit_violation_is_reported_with_joint_and_amount(robot, ground_height):
    spec, model = robot
    joints = np.tile(spec.default_joint_pos, (T, 1)).astype(np.float64)
    knee = spec.joint_names.index("right_knee_joint")
    low = model.jnt_range[model.joint("right_knee_joint").id, 0]
    joints[10:15, knee] = low - 0.1
    report = assess_clip(_clip(robot, ground_height, joints=joints), spec, model).to_json()
    limits = report["checks"]["joint_limits"]
    assert limits["worst_joint"] == "right_knee_joint"
    assert limits["worst_excess_rad"] == pytest.approx(0.1, abs=1e-9)
    assert limits["violation_frames"] == 5
    assert limits["min_margin_rad"]["right_knee_joint"] == pytest.approx(-0.1, abs=1e-9)
    assert limits["verdict"] == "fail" and "right_knee_joint" in report["reasons"][0]


def test_sliding_feet_report_skating_speed(robot, ground_height):
    spec, model = robot
    clip = _clip(robot, ground_height, root_x=0.2 * np.arange(T) / FPS)  # 0.2 m/s, feet down
    skating = assess_clip(clip, spec, model).to_json()["checks"]["foot_skating"]
    assert skating["mean_mps"] == pytest.approx(0.2, abs=1e-9)
    assert skating["max_mps"] == pytest.approx(0.2, abs=1e-9)
    # Skating is measured between consecutive contact frames: T - 1 steps per foot.
    assert skating["contact_frames"] == 2 * (T - 1) and skating["verdict"] == "fail"


def test_touchdown_speed_is_not_skating(robot, ground_height):
    spec, model = robot
    # The robot glides at 1 m/s while the feet are "in the air", then stops on contact.
    x = np.minimum(np.arange(T), T // 2) / FPS
    contact = (np.arange(T) >= T // 2).astype(np.float64)
    clip = _clip(robot, ground_height, root_x=x)
    clip.contact_mask = np.stack([contact, contact], axis=1)
    skating = assess_clip(clip, spec, model).to_json()["checks"]["foot_skating"]
    assert skating["mean_mps"] == pytest.approx(0.0, abs=1e-9)


def test_sinking_reports_penetration_depth(robot, ground_height):
    spec, model = robot
    report = assess_clip(_clip(robot, ground_height - 0.02), spec, model).to_json()
    penetration = report["checks"]["ground_penetration"]
    assert penetration["max_depth_m"] == pytest.approx(0.02, abs=1e-9)
    assert "sole" in penetration["worst_geom"]
    assert penetration["verdict"] == "warn"  # 0.005 < 0.02 <= 0.03


def test_crossed_legs_self_collide(robot):
    spec, model = robot
    joints = np.tile(spec.default_joint_pos, (T, 1)).astype(np.float64)
    joints[: T // 2, spec.joint_names.index("left_hip_roll_joint")] = -0.5
    joints[: T // 2, spec.joint_names.index("right_hip_roll_joint")] = 0.5
    report = assess_clip(_clip(robot, 1.0, contact=0.0, joints=joints), spec, model).to_json()
    collision = report["checks"]["self_collision"]
    assert collision["frames"] == T // 2 and collision["fraction"] == pytest.approx(0.5)
    assert collision["worst_pairs"][0]["geoms"] == ["left_thigh_col", "right_thigh_col"]
    assert collision["verdict"] == "fail"


def test_self_collision_not_checked_without_it_in_the_model(robot):
    spec, _ = robot
    model = build_model(spec, self_collision=False)
    report = assess_clip(_clip(robot, 1.0, contact=0.0), spec, model).to_json()
    assert report["checks"]["self_collision"]["checked"] is False


def test_airborne_torques_are_gravity_compensation(robot):
    spec, model = robot
    report = assess_clip(_clip(robot, 1.0, contact=0.0), spec, model).to_json()
    data = mujoco.MjData(model)
    data.qpos[:] = joint_trajectory_to_qpos(
        model, spec, [[0, 0, 1.0]], [[1.0, 0, 0, 0]], [spec.default_joint_pos]
    )[0]
    mujoco.mj_forward(model, data)  # qfrc_bias at rest = gravity load on each joint
    peak = report["checks"]["torque"]["peak_nm"]
    for name in ("left_shoulder_pitch_joint", "right_elbow_joint", "waist_pitch_joint"):
        expected = abs(data.qfrc_bias[model.joint(name).dofadr[0]])
        assert peak[name] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert model.opt.disableflags == 0  # options restored


def test_nonneg_ridge_lsq_matches_scipy_nnls():
    from scipy.optimize import nnls

    rng = np.random.default_rng(3)
    a = rng.normal(size=(20, 6, 16))
    b = rng.normal(size=(20, 6)) * 10
    ridge = 1e-3
    lam = nonneg_ridge_lsq(a, b, ridge)
    for t in range(20):
        stacked = np.vstack([a[t], np.sqrt(ridge) * np.eye(16)])
        expected, _ = nnls(stacked, np.concatenate([b[t], np.zeros(16)]))
        np.testing.assert_allclose(lam[t], expected, atol=1e-7)


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="skating_warn_mps"):
        FeasibilityCfg(skating_warn_mps=0.5)  # above its fail threshold
    with pytest.raises(ConfigError, match="penetration_fail_m"):
        FeasibilityCfg(penetration_fail_m=-1.0)
    with pytest.raises(ConfigError, match="friction"):
        FeasibilityCfg(friction=0.0)


def test_report_plots_written_for_present_data(robot, ground_height, tmp_path):
    from matplotlib.image import imread

    from humimic.motion.report import ClipReport, FilterSummary
    from humimic.motion.report_plots import plot_clip_report

    spec, model = robot
    clip = _clip(robot, ground_height)
    report = ClipReport(
        "pass",
        feasibility=assess_clip(clip, spec, model),
        filter=FilterSummary(True, "stable", (0.05, float("nan"), 0.2) * 10),
    )
    paths = plot_clip_report(clip, report, tmp_path / "fig", "walk")
    names = ["walk_contacts.png", "walk_com_cop.png", "walk_joint_margins.png", "walk_torque.png"]
    assert [p.name for p in paths] == names
    for path in paths:
        image = imread(path)
        assert image.shape[0] > 100 and image.std() > 0.01  # a drawn figure, not blank
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == sorted(names)  # no temp files
    only_contacts = plot_clip_report(clip, None, tmp_path / "bare", "x")
    assert [p.name for p in only_contacts] == ["x_contacts.png"]


def test_support_solved_in_chunks_matches_one_pass(robot, ground_height):
    from humimic.motion import feasibility as feas

    spec, model = robot
    time = np.arange(T) / FPS
    joints = np.tile(spec.default_joint_pos, (T, 1)) + 0.2 * np.sin(5 * time)[:, None]
    clip = _clip(robot, ground_height, joints=joints)
    clip.contact_mask[::3, 0] = 0.0  # mixed single and double support
    cfg = FeasibilityCfg()
    qpos = joint_trajectory_to_qpos(model, spec, clip.root_pos_w, clip.root_quat_w, joints)
    qvel, qacc = feas._generalised_motion(model, spec, qpos, FPS, cfg.accel_sigma_s * FPS)
    mask = clip.contact_mask > 0.5
    frames = feas._frame_pass(model, spec, qpos, qvel, qacc, mask, cfg)
    whole = feas._support(model, spec, frames, mask, cfg)
    chunked = feas._support(model, spec, frames, mask, cfg, chunk=7)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert whole[1].shape == (T, len(spec.joint_names))


def test_lowest_point_of_an_upright_cylinder_survives_rounding() -> None:
    """A rotation row whose z reads 1 + 2e-16 must not turn the cylinder extent into NaN."""
    import mujoco

    from humimic.motion.feasibility_checks import lowest_z as _lowest_z

    model = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><body><geom type='cylinder' size='0.05 0.2'/></body>"
        "</worldbody></mujoco>"
    )
    mat = np.eye(3)[None, None].copy()  # (T=1, G=1, 3, 3)
    mat[0, 0, 2, 2] = 1.0 + 2e-16
    pos = np.array([[[0.0, 0.0, 1.0]]])
    low = _lowest_z(model, np.array([0]), pos, mat)
    np.testing.assert_allclose(low, [[1.0 - 0.2]], atol=1e-12)


def _long_clip(robot, height, t_len: int, *, root_x=None, joints=None):
    spec, model = robot
    root_pos = np.tile([0.0, 0.0, height], (t_len, 1))
    if root_x is not None:
        root_pos[:, 0] = root_x
    if joints is None:
        joints = np.tile(spec.default_joint_pos, (t_len, 1)).astype(np.float64)
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (t_len, 1))
    mask = np.ones((t_len, 2))
    return make_robot_clip(spec, model, root_pos, quat, joints, FPS, contact_mask=mask)


def test_one_frame_of_fast_skating_warns_though_the_mean_is_small(robot, ground_height):
    # issue 12: skating passed with a 4.2 m/s peak because only the mean was checked
    spec, model = robot
    t_len = 300
    x = np.where(np.arange(t_len) > 150, 4.2 / FPS, 0.0)  # one 14 cm slide in 10 s
    skating = assess_clip(_long_clip(robot, ground_height, t_len, root_x=x), spec, model).to_json()[
        "checks"
    ]["foot_skating"]
    assert skating["mean_mps"] == pytest.approx(4.2 / (t_len - 1), rel=1e-6)  # 0.014 < 0.02
    assert skating["max_mps"] == pytest.approx(4.2, rel=1e-6)
    assert skating["verdict"] == "warn" and "4.200 m/s at most" in skating["reasons"][0]


def test_a_joint_flip_between_frames_fails_with_its_real_speed(robot, ground_height):
    # issue 12: a 209 rad/s hip yaw flip was reported as "1.6x the speed limit" (smoothed)
    spec, model = robot
    joints = np.tile(spec.default_joint_pos, (T, 1)).astype(np.float64)
    yaw = spec.joint_names.index("left_hip_yaw_joint")
    joints[:15, yaw], joints[15:, yaw] = 2.5, -2.5
    speed = assess_clip(_clip(robot, ground_height, joints=joints), spec, model).to_json()[
        "checks"
    ]["joint_speed"]
    limit = spec.velocity_limit[yaw]
    assert speed["frame_to_frame_joint"] == "left_hip_yaw_joint"
    assert speed["frame_to_frame_max_rad_s"] == pytest.approx(5.0 * FPS)
    assert speed["frame_to_frame_fraction"] == pytest.approx(5.0 * FPS / limit)
    assert speed["verdict"] == "fail"
    assert "jumps 5.00 rad between frames 14 and 15 (150 rad/s" in speed["reasons"][0]


def test_root_teleport_fails_and_a_steady_walk_pace_passes(robot, ground_height):
    spec, model = robot
    x = 1.0 * np.arange(T) / FPS + np.where(np.arange(T) >= 20, 0.37, 0.0)
    root = assess_clip(_clip(robot, ground_height, root_x=x), spec, model).to_json()["checks"][
        "root_speed"
    ]
    assert root["max_mps"] == pytest.approx((1.0 / FPS + 0.37) * FPS)
    assert root["max_frame"] == 19 and root["verdict"] == "fail"
    steady = 1.0 * np.arange(T) / FPS
    root = assess_clip(_clip(robot, ground_height, root_x=steady), spec, model).to_json()["checks"]
    assert root["root_speed"]["verdict"] == "pass"
