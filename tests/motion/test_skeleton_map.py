"""Skeleton naming families, user YAML maps and the missing-joint error."""

from __future__ import annotations

from pathlib import Path

import pytest

from humimic.errors import HumimicError, InputFileError
from humimic.motion.human import CANONICAL_JOINTS, REQUIRED_JOINTS
from humimic.motion.skeleton_map import (
    detect_canonical_map,
    load_skeleton_map,
    normalize_joint_name,
    resolve_canonical_map,
)

CMU_BVH = [
    "Hips",
    "LHipJoint",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "LeftToeBase",
    "RHipJoint",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "RightToeBase",
    "LowerBack",
    "Spine",
    "Spine1",
    "Neck",
    "Neck1",
    "Head",
    "LeftShoulder",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "LeftFingerBase",
    "LThumb",
    "RightShoulder",
    "RightArm",
    "RightForeArm",
    "RightHand",
    "RightFingerBase",
    "RThumb",
]
CMU_ASF = [
    "root",
    "lhipjoint",
    "lfemur",
    "ltibia",
    "lfoot",
    "ltoes",
    "rhipjoint",
    "rfemur",
    "rtibia",
    "rfoot",
    "rtoes",
    "lowerback",
    "upperback",
    "thorax",
    "lowerneck",
    "upperneck",
    "head",
    "lclavicle",
    "lhumerus",
    "lradius",
    "lwrist",
    "lhand",
    "lfingers",
    "lthumb",
    "rclavicle",
    "rhumerus",
    "rradius",
    "rwrist",
    "rhand",
    "rfingers",
    "rthumb",
]
LAFAN = [
    "Hips",
    "LeftUpLeg",
    "LeftLeg",
    "LeftFoot",
    "LeftToe",
    "RightUpLeg",
    "RightLeg",
    "RightFoot",
    "RightToe",
    "Spine",
    "Spine1",
    "Spine2",
    "Neck",
    "Head",
    "LeftShoulder",
    "LeftArm",
    "LeftForeArm",
    "LeftHand",
    "RightShoulder",
    "RightArm",
    "RightForeArm",
    "RightHand",
]
SMPL = [
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
]


def expected(center: dict[str, str], sided: dict[str, str], left: str, right: str) -> dict:
    """Canonical map from centre names and a side pattern, e.g. ``"Left{}"``."""
    out = dict(center)
    for part, name in sided.items():
        out[f"left_{part}"] = left.format(name)
        out[f"right_{part}"] = right.format(name)
    return out


BVH_SIDED = {
    "shoulder": "Arm",
    "elbow": "ForeArm",
    "wrist": "Hand",
    "hip": "UpLeg",
    "knee": "Leg",
    "ankle": "Foot",
}


def test_cmu_bvh() -> None:
    want = expected(
        {"pelvis": "Hips", "spine": "Spine", "chest": "Spine1", "neck": "Neck", "head": "Head"},
        {**BVH_SIDED, "toe": "ToeBase"},
        "Left{}",
        "Right{}",
    )
    assert detect_canonical_map(CMU_BVH) == want


def test_cmu_asf() -> None:
    sided = {
        "shoulder": "humerus",
        "elbow": "radius",
        "wrist": "wrist",
        "hip": "femur",
        "knee": "tibia",
        "ankle": "foot",
        "toe": "toes",
    }
    centre = {
        "pelvis": "root",
        "spine": "upperback",
        "chest": "thorax",
        "neck": "lowerneck",
        "head": "head",
    }
    assert detect_canonical_map(CMU_ASF) == expected(centre, sided, "l{}", "r{}")


def test_lafan_and_mixamo_prefixes() -> None:
    want = expected(
        {"pelvis": "Hips", "spine": "Spine", "chest": "Spine2", "neck": "Neck", "head": "Head"},
        {**BVH_SIDED, "toe": "Toe"},
        "Left{}",
        "Right{}",
    )
    assert detect_canonical_map(LAFAN) == want
    for prefix in ("mixamorig:", "mixamorig1:", "Armature|mixamorig:", "mixamorig_"):
        names = [prefix + n for n in LAFAN]
        assert detect_canonical_map(names) == {k: prefix + v for k, v in want.items()}


def test_smpl_lower_and_capitalised() -> None:
    got = detect_canonical_map(SMPL)
    assert got["left_shoulder"] == "left_shoulder" and got["left_toe"] == "left_foot"
    assert got["spine"] == "spine1" and got["chest"] == "spine3" and len(got) == 19
    phc = [
        "Pelvis",
        "L_Hip",
        "L_Knee",
        "L_Ankle",
        "L_Toe",
        "R_Hip",
        "R_Knee",
        "R_Ankle",
        "R_Toe",
        "Torso",
        "Spine",
        "Chest",
        "Neck",
        "Head",
        "L_Thorax",
        "L_Shoulder",
        "L_Elbow",
        "L_Wrist",
        "L_Hand",
        "R_Thorax",
        "R_Shoulder",
        "R_Elbow",
        "R_Wrist",
        "R_Hand",
    ]
    got = detect_canonical_map(phc)
    assert got["left_shoulder"] == "L_Shoulder" and got["right_wrist"] == "R_Wrist"
    assert got["left_toe"] == "L_Toe" and got["spine"] == "Torso" and got["chest"] == "Chest"


GAME_RIGS = [
    (
        "{}_l",
        "{}_r",
        "pelvis spine_01 spine_03 neck_01 head "
        "clavicle upperarm lowerarm hand thigh calf foot ball",
    ),
    (
        "{}.L",
        "{}.R",
        "hips spine chest neck head shoulder upper_arm forearm hand thigh shin foot toe",
    ),
    (
        "l_{}",
        "r_{}",
        "Hips Spine Chest Neck Head Clavicle UpperArm ForeArm Hand Thigh Calf Foot Toe",
    ),
    (
        "Hips/Spine/{}_L",
        "Hips/Spine/{}_R",
        "Hips Spine Chest Neck Head Shoulder UpperArm LowerArm Hand UpperLeg LowerLeg Foot Toes",
    ),
    (
        "Bip01 L {}",
        "Bip01 R {}",
        "Bip01_Pelvis Bip01_Spine Bip01_Spine2 Bip01_Neck Bip01_Head "
        "Clavicle UpperArm Forearm Hand Thigh Calf Foot Toe0",
    ),
]


@pytest.mark.parametrize(("left_pattern", "right_pattern", "names"), GAME_RIGS)
def test_game_rig_styles(left_pattern: str, right_pattern: str, names: str) -> None:
    words = names.split()
    centre, limbs = words[:5], words[5:]  # pelvis, spine, chest, neck, head | clavicle, arm...
    left = [left_pattern.format(w) for w in limbs]
    right = [right_pattern.format(w) for w in limbs]
    got = detect_canonical_map(centre + left + right)
    assert [got[k] for k in ("pelvis", "spine", "chest", "neck", "head")] == centre
    parts = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "toe")
    assert [got[f"left_{p}"] for p in parts] == left[1:]  # the clavicle is not the shoulder
    assert [got[f"right_{p}"] for p in parts] == right[1:]


def test_normalisation_reads_sides() -> None:
    assert normalize_joint_name("lfemur") == ("left", "femur")
    assert normalize_joint_name("RHipJoint") == ("right", "hipjoint")
    assert normalize_joint_name("leftupleg") == ("left", "upleg")
    assert normalize_joint_name("lowerback") == (None, "lowerback")  # not "l" + "owerback"
    assert normalize_joint_name("Thigh.R") == ("right", "thigh")


def test_unknown_skeleton_error_lists_missing_joints_and_a_yaml_example(tmp_path: Path) -> None:
    names = ["Root", "LThigh", "LShin", "Torso", "Skull"]
    with pytest.raises(InputFileError) as info:
        resolve_canonical_map(names, source=tmp_path / "x.bvh")
    first, *rest = str(info.value).splitlines()
    assert first.startswith(str(tmp_path / "x.bvh"))
    missing = [j for j in REQUIRED_JOINTS if j not in ("left_hip", "left_knee")]  # LThigh, LShin
    assert f"required joints {missing}" in first
    assert any(line.strip().startswith("pelvis:") for line in rest)
    with pytest.raises(HumimicError, match="unknown skeleton"):
        resolve_canonical_map(names)


def test_user_map_wins_and_completes(tmp_path: Path) -> None:
    yaml_file = tmp_path / "map.yaml"
    yaml_file.write_text("head: Neck1\nleft_toe: LeftFoot\n")
    user = load_skeleton_map(yaml_file)
    got = resolve_canonical_map(CMU_BVH, user)
    assert got["head"] == "Neck1" and got["left_toe"] == "LeftFoot"
    assert got["left_elbow"] == "LeftForeArm" and list(got) == [
        j for j in CANONICAL_JOINTS if j in got
    ]
    with pytest.raises(HumimicError, match="not in the skeleton"):
        resolve_canonical_map(CMU_BVH, {"head": "Skull"})
    partial = CMU_BVH[:-4]  # right arm missing
    with pytest.raises(HumimicError, match=r"\['right_elbow', 'right_wrist'\]"):
        resolve_canonical_map(partial)
    fixed = {"right_shoulder": "LeftArm", "right_elbow": "LeftForeArm", "right_wrist": "LeftHand"}
    assert resolve_canonical_map(partial, fixed)["right_wrist"] == "LeftHand"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("elbow_left: X\n", "unknown canonical joints"),
        ("- a\n- b\n", "must be a mapping"),
        ("head: [1, 2]\n", "must be a mapping"),
        ("head: : :\n", "cannot read"),
    ],
)
def test_bad_skeleton_map_files(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem):
        load_skeleton_map(path)
    with pytest.raises(InputFileError, match="not found"):
        load_skeleton_map(tmp_path / "absent.yaml")
