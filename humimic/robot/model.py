"""MuJoCo scene construction for a robot variant: MJCF + spec -> MjSpec / MjModel.

The robot MJCF holds kinematics, inertials and geometry only. :func:`build_scene_spec`
adds what depends on the variant and the run:

1. deletes the variant's removed joints (MuJoCo then welds those bodies to their parents),
2. sets joint armature from the spec,
3. adds one position actuator per spec joint, in spec order, named as the joint
   (``kp``, ``kd`` from the spec; force limited to the effort limit),
4. contact filtering: collision geoms (group 3) touch the floor, and each other only with
   ``self_collision``; body pairs two links apart are excluded (their capsules overlap at
   the joints); soles use condim 3,
5. a floor plane, a light and a ``tracking`` camera on the pelvis,
   and, for training only, the assist servos on the root (:mod:`humimic.robot.assist`),
6. timestep and integrator,
7. optionally Unitree STL visual meshes (:mod:`humimic.robot.visual_mesh`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from humimic.config.task import AssistCfg
from humimic.errors import ConfigError, InputFileError
from humimic.robot.assist import add_assist_actuators, assist_actuator_ids
from humimic.robot.spec import RobotSpec
from humimic.robot.visual_mesh import add_visual_meshes

COLLISION_GROUP = 3
"""Geom group of collision primitives in the robot MJCF."""

INTEGRATORS: dict[str, mujoco.mjtIntegrator] = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "rk4": mujoco.mjtIntegrator.mjINT_RK4,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}
"""Accepted ``integrator`` names."""

_CAMERA_OFFSET = np.array([1.8, -1.8, 0.35])
"""Tracking camera position relative to the pelvis (front-right, slightly above), m."""
_RTOL = 1e-9


def build_scene_spec(
    spec: RobotSpec,
    *,
    physics_dt: float = 0.005,
    integrator: str = "implicitfast",
    floor_friction: float = 1.0,
    self_collision: bool = True,
    visual_mesh_dir: Path | None = None,
    with_floor: bool = True,
    assist: AssistCfg | None = None,
) -> mujoco.MjSpec:
    """Build the editable MuJoCo scene of a robot variant.

    Args:
        spec: The robot variant.
        physics_dt: Physics timestep, s.
        integrator: One of ``euler``, ``rk4``, ``implicit``, ``implicitfast``.
        floor_friction: Sliding friction coefficient of all floor contacts.
        self_collision: Whether robot collision geoms collide with each other.
        visual_mesh_dir: Folder of Unitree STL files; adds mesh visuals (group 2) and drops
            the primitive visuals. ``None`` keeps the primitive visuals (group 1).
        with_floor: Whether to add the floor plane.
        assist: Add the training assist servos on the root with the gains of this
            ``task.assist`` (:mod:`humimic.robot.assist`); ``None`` (evaluation, export,
            deploy) adds none.

    Returns:
        The scene as an uncompiled MjSpec.

    Raises:
        ConfigError: An option is invalid or the spec names joints/geoms the MJCF lacks.
        InputFileError: The MJCF or a required mesh file cannot be read.
    """
    _check_options(physics_dt, integrator, floor_friction)
    scene = _load_mjcf(spec.mjcf_path)
    _check_spec_names(scene, spec)
    for name in spec.removed_joints:
        scene.delete(scene.joint(name))
    for name, armature in zip(spec.joint_names, spec.armature):
        scene.joint(name).armature = float(armature)
    _add_actuators(scene, spec)
    if assist is not None:
        add_assist_actuators(scene, assist)
    _configure_contacts(scene, spec, self_collision)
    if visual_mesh_dir is not None:
        add_visual_meshes(scene, Path(visual_mesh_dir))
    if with_floor:
        _add_floor(scene, floor_friction)
    _add_light_and_camera(scene)
    scene.option.timestep = physics_dt
    scene.option.integrator = INTEGRATORS[integrator]
    scene.visual.global_.offwidth = 1280
    scene.visual.global_.offheight = 720
    return scene


def build_model(spec: RobotSpec, **kwargs: Any) -> mujoco.MjModel:
    """Compile :func:`build_scene_spec` (same keyword arguments) and check it against the spec.

    Raises:
        ConfigError: Bad options, a failed compile, or a model that disagrees with the spec.
    """
    scene = build_scene_spec(spec, **kwargs)
    try:
        model = scene.compile()
    except ValueError as err:
        message = str(err).replace("\n", " ")
        raise ConfigError(f"{spec.mjcf_path}: MuJoCo compile failed: {message}") from None
    check_model_matches_spec(model, spec)
    return model


def check_model_matches_spec(model: mujoco.MjModel, spec: RobotSpec) -> None:
    """Check joints, order, limits, armature and actuators of ``model`` against ``spec``.

    Raises:
        ConfigError: Naming every disagreement found.
    """
    problems = _joint_problems(model, spec)
    if not problems:
        problems += _actuator_problems(model, spec)
    problems += _name_problems(model, spec)
    if problems:
        raise ConfigError(
            f"model of {spec.mjcf_path.name} does not match robot variant {spec.variant}: "
            + "; ".join(problems)
        )


def default_qpos(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """Default configuration: root at the default height, identity orientation, default pose.

    Returns:
        Shape (nq,): free joint ``[0, 0, h, 1, 0, 0, 0]`` then joint positions, rad.
    """
    qpos = model.qpos0.copy()
    free = np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)
    if free.size != 1:
        raise ConfigError(f"robot variant {spec.variant}: model needs exactly one free joint")
    adr = model.jnt_qposadr[free[0]]
    qpos[adr : adr + 7] = [0.0, 0.0, spec.default_root_height, 1.0, 0.0, 0.0, 0.0]
    for name, value in zip(spec.joint_names, spec.default_joint_pos):
        joint_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if joint_id < 0:
            raise ConfigError(f"robot variant {spec.variant}: model has no joint {name!r}")
        qpos[model.jnt_qposadr[joint_id]] = value
    return qpos


def set_actuator_gains(
    model: mujoco.MjModel, spec: RobotSpec, kp: np.ndarray, kd: np.ndarray
) -> None:
    """Overwrite the position gains of a built model in place (actuators in spec order).

    Used e.g. to hold the default pose without a policy with
    ``kp = spec.kp * spec.standing_gains_scale`` (likewise kd).

    Args:
        model: Model from :func:`build_model` for ``spec``.
        spec: The robot variant.
        kp: Shape (J,), N·m/rad.
        kd: Shape (J,), N·m·s/rad.
    """
    kp = np.asarray(kp, dtype=np.float64)
    kd = np.asarray(kd, dtype=np.float64)
    if kp.shape != (spec.num_joints,) or kd.shape != (spec.num_joints,) or model.nu != kp.size:
        raise ConfigError(
            f"robot variant {spec.variant}: gains need shape ({spec.num_joints},) and a model"
            f" with as many actuators, got kp {kp.shape}, kd {kd.shape}, nu {model.nu}"
        )
    model.actuator_gainprm[:, 0] = kp
    model.actuator_biasprm[:, 1] = -kp
    model.actuator_biasprm[:, 2] = -kd


def _check_options(physics_dt: float, integrator: str, floor_friction: float) -> None:
    if not np.isfinite(physics_dt) or physics_dt <= 0:
        raise ConfigError(f"physics_dt must be a positive number of seconds, got {physics_dt}")
    if integrator not in INTEGRATORS:
        raise ConfigError(
            f"integrator {integrator!r} is not one of {', '.join(sorted(INTEGRATORS))}"
        )
    if not np.isfinite(floor_friction) or floor_friction <= 0:
        raise ConfigError(f"floor_friction must be a positive number, got {floor_friction}")


def _load_mjcf(path: Path) -> mujoco.MjSpec:
    if not path.is_file():
        raise InputFileError(path, "robot MJCF not found")
    try:
        return mujoco.MjSpec.from_file(str(path))
    except ValueError as err:
        raise InputFileError(path, str(err).replace("\n", " ")) from None


def _check_spec_names(scene: mujoco.MjSpec, spec: RobotSpec) -> None:
    """Joints and foot geoms the spec names must exist before the scene is edited."""
    joints = {j.name for j in scene.joints}
    missing = [n for n in [*spec.joint_names, *spec.removed_joints] if n not in joints]
    geoms = {g.name for g in scene.geoms}
    missing_geoms = [g for side in spec.foot_geoms.values() for g in side if g not in geoms]
    if missing or missing_geoms:
        raise ConfigError(
            f"robot variant {spec.variant}: {spec.mjcf_path.name} lacks joints {missing}"
            f" and foot geoms {missing_geoms}"
        )


def _add_actuators(scene: mujoco.MjSpec, spec: RobotSpec) -> None:
    for i, name in enumerate(spec.joint_names):
        actuator = scene.add_actuator(name=name, target=name)
        actuator.trntype = mujoco.mjtTrn.mjTRN_JOINT
        actuator.set_to_position(kp=float(spec.kp[i]), kv=float(spec.kd[i]))
        actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        effort = float(spec.effort_limit[i])
        actuator.forcerange = [-effort, effort]


def _configure_contacts(scene: mujoco.MjSpec, spec: RobotSpec, self_collision: bool) -> None:
    """Collision bits, sole condim, and exclusion of overlapping near-neighbour links.

    Robot collision geoms get conaffinity 1 (the floor's contype 1 reaches them) and
    contype 1 only with self-collision, so robot-robot pairs are generated only then.
    """
    feet = {g for side in spec.foot_geoms.values() for g in side}
    colliding_bodies = set()
    for geom in scene.geoms:
        if geom.group != COLLISION_GROUP:
            continue
        geom.contype = 1 if self_collision else 0
        geom.conaffinity = 1
        if geom.name in feet:
            geom.condim = 3
        colliding_bodies.add(geom.parent.name)
    # Parent-child pairs are filtered by MuJoCo already; grandparent pairs share a short
    # link whose capsules overlap at the joints, so they would be in contact at rest.
    for body in scene.bodies:
        if body.name not in colliding_bodies:
            continue
        grandparent = body.parent.parent if body.parent is not None else None
        if grandparent is not None and grandparent.name in colliding_bodies:
            scene.add_exclude(bodyname1=grandparent.name, bodyname2=body.name)


def _add_floor(scene: mujoco.MjSpec, floor_friction: float) -> None:
    scene.add_texture(
        name="floor_checker",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=[0.32, 0.36, 0.40],
        rgb2=[0.22, 0.25, 0.28],
        width=256,
        height=256,
    )
    material = scene.add_material(name="floor", texrepeat=[8, 8], reflectance=0.05)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "floor_checker"
    # Priority 1: the floor's friction and condim decide every floor contact.
    scene.worldbody.add_geom(
        name="floor",
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[0.0, 0.0, 0.05],
        material="floor",
        contype=1,
        conaffinity=0,
        condim=3,
        priority=1,
        friction=[floor_friction, 0.005, 0.0001],
    )


def _add_light_and_camera(scene: mujoco.MjSpec) -> None:
    scene.worldbody.add_light(
        name="sun",
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        pos=[0.0, 0.0, 4.0],
        dir=[0.3, 0.3, -1.0],
        diffuse=[0.7, 0.7, 0.7],
        castshadow=False,
    )
    forward = -_CAMERA_OFFSET / np.linalg.norm(_CAMERA_OFFSET)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    quat = np.zeros(4)
    # camera frame: x right, y up, looking along -z
    mujoco.mju_mat2Quat(quat, np.column_stack([right, up, -forward]).ravel())
    root = scene.worldbody.first_body()
    root.add_camera(
        name="tracking",
        mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM,
        pos=_CAMERA_OFFSET,
        quat=quat,
    )


def _joint_problems(model: mujoco.MjModel, spec: RobotSpec) -> list[str]:
    names = [
        model.joint(j).name
        for j in range(model.njnt)
        if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE
    ]
    problems = []
    missing = [n for n in spec.joint_names if n not in names]
    extra = [n for n in names if n not in spec.joint_names]
    if missing:
        problems.append(f"joints missing from model: {missing}")
    if extra:
        problems.append(f"model joints not in spec: {extra}")
    if not missing and not extra and names != spec.joint_names:
        problems.append(f"joint order differs: model {names}")
    for name, q0, armature in zip(spec.joint_names, spec.default_joint_pos, spec.armature):
        if name not in names:
            continue
        joint = model.joint(name)
        low, high = joint.range
        if not model.jnt_limited[joint.id]:
            problems.append(f"{name} has no range")
        elif not low <= q0 <= high:
            problems.append(f"{name} default {q0} outside range [{low}, {high}]")
        if not np.isclose(model.dof_armature[model.jnt_dofadr[joint.id]], armature, _RTOL):
            problems.append(f"{name} armature differs")
    return problems


def _actuator_problems(model: mujoco.MjModel, spec: RobotSpec) -> list[str]:
    joint_actuators = model.nu - assist_actuator_ids(model).size  # the assist comes last
    if joint_actuators != spec.num_joints:
        return [f"model has {joint_actuators} joint actuators, spec has {spec.num_joints} joints"]
    problems = []
    for i, name in enumerate(spec.joint_names):
        target = model.joint(model.actuator_trnid[i, 0]).name
        if model.actuator_trntype[i] != mujoco.mjtTrn.mjTRN_JOINT or target != name:
            problems.append(f"actuator {i} drives {target!r}, expected {name!r}")
            continue
        kp, kd, effort = spec.kp[i], spec.kd[i], spec.effort_limit[i]
        gain = model.actuator_gainprm[i, 0]
        bias = model.actuator_biasprm[i, :3]
        if not (np.isclose(gain, kp, _RTOL) and np.allclose(bias, [0.0, -kp, -kd], _RTOL)):
            problems.append(f"{name} gains kp={gain}, kd={-bias[2]} differ from {kp}, {kd}")
        limited = model.actuator_forcelimited[i]
        if not limited or not np.allclose(model.actuator_forcerange[i], [-effort, effort]):
            problems.append(f"{name} force range differs from effort limit {effort}")
    return problems


def _name_problems(model: mujoco.MjModel, spec: RobotSpec) -> list[str]:
    """Bodies, sites and geoms the spec refers to must exist in the model."""
    body_names = {model.body(i).name for i in range(model.nbody)}
    problems = [
        f"body_groups.{group} names unknown bodies {unknown}"
        for group, bodies in spec.body_groups.items()
        if (unknown := [b for b in bodies if b not in body_names])
    ]
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.imu_site) < 0:
        problems.append(f"imu_site {spec.imu_site!r} not in model")
    for side, geoms in spec.foot_geoms.items():
        unknown = [g for g in geoms if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, g) < 0]
        if unknown:
            problems.append(f"foot_geoms.{side} names unknown geoms {unknown}")
    return problems
