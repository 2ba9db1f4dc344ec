"""G1 MuJoCo scenes: compile, agree with the specs, stand, and carry load on both feet."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from humimic.errors import ConfigError, InputFileError
from humimic.paths import ROBOTS_DIR
from humimic.robot.model import (
    build_model,
    build_scene_spec,
    check_model_matches_spec,
    default_qpos,
    set_actuator_gains,
)
from humimic.robot.spec import RobotSpec, load_robot_spec, load_robot_spec_file

VARIANTS = ["g1_29dof", "g1_23dof_lock_wrist", "g1_23dof"]
GRAVITY = 9.81

# Link masses of Unitree's g1_29dof_rev_1_0 (kg): pelvis, one leg (hip p/r/y, knee, ankle
# p/r), waist yaw/roll, torso, one arm (shoulder p/r/y, elbow, wrist r/p/y incl. hand).
PELVIS_MASS = 3.813
LEG_MASSES = (1.35, 1.52, 1.702, 1.932, 0.074, 0.608)
WAIST_TORSO_MASSES = (0.214, 0.086, 7.818)
ARM_MASSES = (0.718, 0.643, 0.734, 0.6, 0.085445, 0.48405, 0.254576)
TOTAL_MASS = PELVIS_MASS + 2 * sum(LEG_MASSES) + sum(WAIST_TORSO_MASSES) + 2 * sum(ARM_MASSES)

# Joint ranges from Unitree's URDF table (rad).
RANGES = {
    "left_hip_roll_joint": (-0.5236, 2.9671),
    "right_hip_roll_joint": (-2.9671, 0.5236),
    "left_knee_joint": (-0.087267, 2.8798),
    "right_ankle_pitch_joint": (-0.87267, 0.5236),
    "waist_yaw_joint": (-2.618, 2.618),
    "right_shoulder_roll_joint": (-2.2515, 1.5882),
    "left_elbow_joint": (-1.0472, 2.0944),
}
VIRTUAL_POINTS = {
    "left_hand_point": ("left_wrist_yaw_link", [0.08, 0.0, 0.0]),
    "right_hand_point": ("right_wrist_yaw_link", [0.08, 0.0, 0.0]),
    "head_point": ("torso_link", [0.0, 0.0, 0.42]),
    "left_toe_point": ("left_ankle_roll_link", [0.08, 0.0, -0.03]),
    "right_toe_point": ("right_ankle_roll_link", [0.08, 0.0, -0.03]),
}


@pytest.fixture(scope="module", params=VARIANTS)
def built(request: pytest.FixtureRequest) -> tuple[RobotSpec, mujoco.MjModel]:
    spec = load_robot_spec(request.param)
    return spec, build_model(spec)


def test_compiled_model_matches_spec(built: tuple[RobotSpec, mujoco.MjModel]) -> None:
    spec, model = built
    check_model_matches_spec(model, spec)  # must not raise
    assert model.nq == 7 + spec.num_joints
    assert model.nv == 6 + spec.num_joints
    assert model.nu == spec.num_joints
    for i, name in enumerate(spec.joint_names):
        assert model.actuator(i).name == name
        assert model.joint(model.actuator_trnid[i, 0]).name == name
        assert model.joint(name).qposadr[0] == 7 + i
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], spec.kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -spec.kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 2], -spec.kd)
    np.testing.assert_allclose(model.actuator_forcerange[:, 0], -spec.effort_limit)
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], spec.effort_limit)
    np.testing.assert_allclose(model.dof_armature[6:], spec.armature)
    for name in spec.removed_joints:
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name) == -1


def test_joint_ranges_and_default_pose(built: tuple[RobotSpec, mujoco.MjModel]) -> None:
    spec, model = built
    for name, expected in RANGES.items():
        if name in spec.joint_names:
            np.testing.assert_allclose(model.joint(name).range, expected)
    ranges = np.array([model.joint(n).range for n in spec.joint_names])
    assert np.all(model.jnt_limited[1:])
    assert np.all(ranges[:, 0] <= spec.default_joint_pos)
    assert np.all(spec.default_joint_pos <= ranges[:, 1])


def test_mass_and_bodies_are_the_same_for_every_variant(
    built: tuple[RobotSpec, mujoco.MjModel],
) -> None:
    spec, model = built
    assert pytest.approx(33.341142) == TOTAL_MASS  # sum of Unitree's link masses
    assert model.body_subtreemass[model.body("pelvis").id] == pytest.approx(TOTAL_MASS)
    body_names = {model.body(i).name for i in range(model.nbody)}
    assert model.nbody == 36  # world + 30 links + 5 virtual points, welded or not
    for group, bodies in spec.body_groups.items():
        assert set(bodies) <= body_names, group


def test_virtual_points_are_massless_bodies_at_their_offsets(
    built: tuple[RobotSpec, mujoco.MjModel],
) -> None:
    spec, model = built
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    data.qpos[:] = default_qpos(model, spec)
    data.qpos[3:7] = [0.9, 0.1, -0.2, 0.3]  # arbitrary root orientation (normalised below)
    data.qpos[3:7] /= np.linalg.norm(data.qpos[3:7])
    data.qpos[7:] += rng.uniform(-0.2, 0.2, spec.num_joints)
    mujoco.mj_kinematics(model, data)
    for point, (parent, offset) in VIRTUAL_POINTS.items():
        body = model.body(point)
        assert body.mass[0] == 0.0
        assert model.body(body.parentid[0]).name == parent
        rotation = data.body(parent).xmat.reshape(3, 3)
        expected = data.body(parent).xpos + rotation @ np.array(offset)
        np.testing.assert_allclose(data.body(point).xpos, expected, atol=1e-12)


def test_default_qpos(built: tuple[RobotSpec, mujoco.MjModel]) -> None:
    spec, model = built
    qpos = default_qpos(model, spec)
    assert qpos.shape == (model.nq,)
    np.testing.assert_array_equal(qpos[:7], [0.0, 0.0, 0.8, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(qpos[7:], spec.default_joint_pos)


def test_no_self_contacts_at_rest_poses(built: tuple[RobotSpec, mujoco.MjModel]) -> None:
    spec, model = built
    data = mujoco.MjData(model)
    for joint_pos in (spec.default_joint_pos, np.zeros(spec.num_joints)):
        data.qpos[:] = default_qpos(model, spec)
        data.qpos[2] = 2.0  # in the air: any contact is a self-contact
        data.qpos[7:] = joint_pos
        mujoco.mj_forward(model, data)
        pairs = [(model.geom(c.geom1).name, model.geom(c.geom2).name) for c in data.contact]
        assert pairs == []


def _legs_crossed_contacts(model: mujoco.MjModel, spec: RobotSpec) -> int:
    """Self-contacts with both hips rolled fully inward (the thighs pass through each other)."""
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    data.qpos[2] = 2.0
    data.qpos[7 + spec.joint_index("left_hip_roll_joint")] = -0.5
    data.qpos[7 + spec.joint_index("right_hip_roll_joint")] = 0.5
    mujoco.mj_forward(model, data)
    return data.ncon


def test_self_collision_switch() -> None:
    spec = load_robot_spec("g1_29dof")
    assert _legs_crossed_contacts(build_model(spec, self_collision=True), spec) > 0
    assert _legs_crossed_contacts(build_model(spec, self_collision=False), spec) == 0


def test_scene_options_are_applied() -> None:
    spec = load_robot_spec("g1_23dof")
    model = build_model(spec, physics_dt=0.002, integrator="euler", floor_friction=0.7)
    assert model.opt.timestep == 0.002
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert model.geom("floor").friction[0] == pytest.approx(0.7)
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "tracking") >= 0
    assert model.nlight >= 1
    bare = build_model(spec, with_floor=False)
    assert mujoco.mj_name2id(bare, mujoco.mjtObj.mjOBJ_GEOM, "floor") == -1
    for geom in spec.foot_geoms["left"] + spec.foot_geoms["right"]:
        assert model.geom(geom).condim[0] == 3
    assert isinstance(build_scene_spec(spec), mujoco.MjSpec)


@pytest.mark.parametrize(
    ("option", "value"),
    [("integrator", "verlet"), ("floor_friction", 0.0), ("physics_dt", -0.005)],
)
def test_bad_options_raise_config_error(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option):
        build_model(load_robot_spec("g1_29dof"), **{option: value})


def _spec_file(tmp_path: Path, edit: dict) -> Path:
    raw = yaml.safe_load((ROBOTS_DIR / "g1" / "g1_29dof.yaml").read_text())
    raw["mjcf"] = str(ROBOTS_DIR / "g1" / "g1.xml")
    raw.update(edit)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_spec_with_joint_the_mjcf_lacks_is_rejected(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROBOTS_DIR / "g1" / "g1_29dof.yaml").read_text())
    joints = raw["joints"]
    joints[5]["name"] = "left_ankle_twist_joint"
    spec = load_robot_spec_file(_spec_file(tmp_path, {"joints": joints}))
    with pytest.raises(ConfigError, match="left_ankle_twist_joint"):
        build_model(spec)


def test_spec_missing_a_model_joint_is_rejected(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROBOTS_DIR / "g1" / "g1_29dof.yaml").read_text())
    joints = [j for j in raw["joints"] if j["name"] != "waist_roll_joint"]
    spec = load_robot_spec_file(_spec_file(tmp_path, {"joints": joints}))
    with pytest.raises(ConfigError, match=r"model joints not in spec: \['waist_roll_joint'\]"):
        build_model(spec)


def test_check_reports_order_gain_and_limit_disagreements() -> None:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    model = build_model(spec)
    names = list(spec.joint_names)
    names[0], names[6] = names[6], names[0]
    with pytest.raises(ConfigError, match="joint order differs"):
        check_model_matches_spec(model, dataclasses.replace(spec, joint_names=names))
    kp = spec.kp.copy()
    kp[3] += 1.0
    with pytest.raises(ConfigError, match="left_knee_joint gains"):
        check_model_matches_spec(model, dataclasses.replace(spec, kp=kp))
    effort = spec.effort_limit.copy()
    effort[12] = 10.0
    with pytest.raises(ConfigError, match="waist_yaw_joint force range"):
        check_model_matches_spec(model, dataclasses.replace(spec, effort_limit=effort))
    default = spec.default_joint_pos.copy()
    default[3] = -0.5
    with pytest.raises(ConfigError, match=r"left_knee_joint default -0\.5 outside range"):
        check_model_matches_spec(model, dataclasses.replace(spec, default_joint_pos=default))
    groups = {**spec.body_groups, "feet": ["left_foot_link"]}
    with pytest.raises(ConfigError, match="left_foot_link"):
        check_model_matches_spec(model, dataclasses.replace(spec, body_groups=groups))


def _stand(spec: RobotSpec, seconds: float) -> tuple[mujoco.MjModel, mujoco.MjData, np.ndarray]:
    """Hold the default pose with the standing gains; returns the pelvis height per step."""
    model = build_model(spec, physics_dt=0.005, integrator="implicitfast")
    scale = spec.standing_gains_scale
    set_actuator_gains(model, spec, spec.kp * scale, spec.kd * scale)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(model, spec)
    data.ctrl[:] = spec.default_joint_pos
    heights = np.empty(round(seconds / model.opt.timestep))
    for step in range(heights.size):
        mujoco.mj_step(model, data)
        heights[step] = data.qpos[2]
    return model, data, heights


@pytest.mark.parametrize("variant", VARIANTS)
def test_stands_for_ten_seconds_without_a_policy(variant: str) -> None:
    spec = load_robot_spec(variant)
    _, data, heights = _stand(spec, seconds=10.0)
    settled = heights[199]  # after 1 s: the 2 cm drop from the reset height is over
    assert 0.7 < settled < spec.default_root_height
    assert np.max(np.abs(heights[200:] - settled)) < 0.05
    up_z = data.body("pelvis").xmat[8]  # z component of the pelvis z axis
    assert up_z > 0.95


def test_standing_load_is_shared_by_both_feet() -> None:
    spec = load_robot_spec("g1_29dof")
    model, data, _ = _stand(spec, seconds=2.0)
    weight = model.body_subtreemass[model.body("pelvis").id] * GRAVITY
    loads = {}
    force = np.zeros(6)
    for side, geoms in spec.foot_geoms.items():
        ids = {model.geom(g).id for g in geoms}
        loads[side] = 0.0
        for i, contact in enumerate(data.contact):
            if contact.geom1 in ids or contact.geom2 in ids:
                mujoco.mj_contactForce(model, data, i, force)
                loads[side] += force[0]  # normal component of the contact frame
    assert loads["left"] + loads["right"] == pytest.approx(weight, rel=0.05)
    assert loads["left"] == pytest.approx(weight / 2, rel=0.25)
    assert loads["right"] == pytest.approx(weight / 2, rel=0.25)
    floor = model.geom("floor").id
    assert all(floor in (c.geom1, c.geom2) for c in data.contact)  # feet only, no shins


def _write_tetrahedron_stl(path: Path, size: float = 0.03) -> None:
    """Binary STL of a small tetrahedron (80-byte header, count, 50 bytes per triangle)."""
    v = np.array([[0, 0, 0], [size, 0, 0], [0, size, 0], [0, 0, size]], dtype=np.float32)
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    record = np.zeros(len(faces), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    for i, face in enumerate(faces):
        record["v"][i] = v[list(face)]
    path.write_bytes(b"\0" * 80 + np.uint32(len(faces)).tobytes() + record.tobytes())


def _fake_mesh_dir(tmp_path: Path, model: mujoco.MjModel) -> Path:
    """One small STL per link, named like Unitree's files."""
    for body_id in range(1, model.nbody):
        if model.body_mass[body_id] > 0:
            _write_tetrahedron_stl(tmp_path / f"{model.body(body_id).name}.STL")
    return tmp_path


def test_visual_meshes_replace_primitive_visuals(tmp_path: Path) -> None:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    plain = build_model(spec)
    mesh_dir = _fake_mesh_dir(tmp_path, plain)
    meshed = build_model(spec, visual_mesh_dir=mesh_dir)
    assert meshed.nmesh == 30
    assert np.sum(meshed.geom_group == 2) == 30
    assert np.sum(meshed.geom_group == 1) == 0
    assert np.sum(plain.geom_group == 1) > 0
    mesh_geoms = meshed.geom_group == 2
    assert np.all(meshed.geom_contype[mesh_geoms] == 0)
    assert np.all(meshed.geom_conaffinity[mesh_geoms] == 0)
    assert meshed.body_subtreemass[1] == pytest.approx(plain.body_subtreemass[1])
    assert np.sum(meshed.geom_group == 3) == np.sum(plain.geom_group == 3)
    (mesh_dir / "left_knee_link.STL").unlink()
    with pytest.raises(InputFileError, match="left_knee_link"):
        build_model(spec, visual_mesh_dir=mesh_dir)


def test_unitree_meshes_when_available() -> None:
    """Loads Unitree's real STL files from $HUMIMIC_G1_MESH_DIR (skipped when unset)."""
    mesh_dir = os.environ.get("HUMIMIC_G1_MESH_DIR")
    if not mesh_dir or not Path(mesh_dir).is_dir():
        pytest.skip("set HUMIMIC_G1_MESH_DIR to a folder of Unitree G1 STL files")
    model = build_model(load_robot_spec("g1_29dof"), visual_mesh_dir=Path(mesh_dir))
    assert model.nmesh >= 30
    assert model.body_subtreemass[1] == pytest.approx(TOTAL_MASS)
