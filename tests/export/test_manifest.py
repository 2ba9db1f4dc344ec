"""ControllerManifest: JSON round trip, layout arithmetic and field validation."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from humimic.errors import ConfigError
from humimic.export.manifest import (
    ControllerManifest,
    LockedMotorSpec,
    ObservationSpec,
    ObservationTerm,
    ReferenceSpec,
    validate_manifest,
)
from humimic.robot.spec import load_robot_spec

PBHC_TERMS = [("actions", 23, 1.0), ("base_ang_vel", 3, 0.25), ("dof_pos", 23, 1.0),
              ("dof_vel", 23, 0.05), ("projected_gravity", 3, 1.0),
              ("ref_motion_phase", 1, 1.0)]  # fmt: skip


def pbhc_manifest() -> ControllerManifest:
    spec = load_robot_spec("g1_23dof_lock_wrist")
    terms = [ObservationTerm(n, n, size, scale) for n, size, scale in PBHC_TERMS]
    names = [t.name for t in terms]
    return ControllerManifest(
        robot=spec.robot, variant=spec.variant, joint_names=list(spec.joint_names),
        motor_index=[int(i) for i in spec.motor_index],
        default_joint_pos=[float(v) for v in spec.default_joint_pos], action_scale=0.25,
        action_clip=100.0, kp=[float(v) for v in spec.kp], kd=[float(v) for v in spec.kd],
        effort_limit=[float(v) for v in spec.effort_limit],
        velocity_limit=[float(v) for v in spec.velocity_limit],
        locked_motors=[LockedMotorSpec(m.name, m.motor_index, m.kp, m.kd, m.pos)
                       for m in spec.locked_motors],
        control_dt=0.02, physics_dt=0.005, imu_site=spec.imu_site,
        observation=ObservationSpec("actor", terms, 4, names, 100.0),
        reference=ReferenceSpec("walk.npz", "ab" * 32, 50.0, 101, 2.0, "reference.npz", "cd" * 32),
        train_config={"task": {"action_scale": 0.25}, "list": [1, 2]},
        code_version={"humimic": "0.1.0", "git_sha": "abc"},
    )  # fmt: skip


def test_round_trip_is_exact() -> None:
    m = pbhc_manifest()
    back = ControllerManifest.from_json(m.to_json())
    assert back == m
    assert back.locked_motors[0] == m.locked_motors[0]
    assert isinstance(back.observation.terms[0], ObservationTerm)


def test_pbhc_layout_is_380_with_newest_first_history() -> None:
    obs = pbhc_manifest().observation
    assert obs.dim == 76 + 4 * 76 == 380  # PBHC's actor width (pbhc.md §4.3)
    slices = obs.slices()
    assert slices[0] == ("actions", 0, 23, 0)
    assert slices[5] == ("ref_motion_phase", 75, 76, 0)
    assert slices[6] == ("actions", 76, 99, 1)  # first history frame = previous step
    assert slices[-1] == ("ref_motion_phase", 379, 380, 4)


def edited(**changes: object) -> str:
    raw = json.loads(pbhc_manifest().to_json())
    for key, value in changes.items():
        node, *path = key.split(".")
        target = raw
        for part in [node, *path][:-1]:
            target = target[part]
        if value is KeyError:
            del target[[node, *path][-1]]
        else:
            target[[node, *path][-1]] = value
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kp": [100.0] * 22}, "kp"),
        ({"kd": [-1.0] * 23}, "kd"),
        ({"schema_version": 99}, "schema_version"),
        ({"schema_version": KeyError}, "schema_version"),
        ({"variant": KeyError}, "variant"),
        ({"surprise": 1}, "surprise"),
        ({"motor_index": [0] * 23}, "motor_index"),
        ({"quaternion": "xyzw"}, "quaternion"),
        ({"action_scale": 0}, "action_scale"),
        ({"observation.history_order": "oldest_first"}, "observation.history_order"),
        ({"observation.history_terms": ["nope"]}, "observation.history_terms"),
        ({"reference.duration_s": 3.0}, "reference.duration_s"),
        ({"reference.arrays_file": "../x.npz"}, "reference.arrays_file"),
    ],
)
def test_validation_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}"):
        ControllerManifest.from_json(edited(**change), "controller.json")


def test_bad_json_and_duplicate_joint() -> None:
    with pytest.raises(ConfigError, match=r"controller\.json: not JSON"):
        ControllerManifest.from_json("{", "controller.json")
    m = pbhc_manifest()
    names = [m.joint_names[1], *m.joint_names[1:]]
    with pytest.raises(ConfigError, match="'joint_names' has duplicates"):
        validate_manifest(replace(m, joint_names=names))
