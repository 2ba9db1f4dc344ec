"""BVH reader: exact hand-computed poses, unit/up-axis invariance, robustness, real CMU files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humimic.errors import ConfigError, InputFileError
from humimic.geometry import quat_np
from humimic.motion.human import REQUIRED_JOINTS, HumanMotion
from humimic.motion.io.bvh import read_bvh
from humimic.motion.io.detect import read_human_motion

# name, parent, offset (z-up, metres, x forward, +y left) of a small standing human.
HUMAN = [
    ("Hips", None, (0.0, 0.0, 0.95)),
    ("LeftUpLeg", "Hips", (0.0, 0.1, -0.05)),
    ("LeftLeg", "LeftUpLeg", (0.0, 0.0, -0.42)),
    ("LeftFoot", "LeftLeg", (0.0, 0.0, -0.42)),
    ("LeftToeBase", "LeftFoot", (0.12, 0.0, -0.05)),
    ("RightUpLeg", "Hips", (0.0, -0.1, -0.05)),
    ("RightLeg", "RightUpLeg", (0.0, 0.0, -0.42)),
    ("RightFoot", "RightLeg", (0.0, 0.0, -0.42)),
    ("RightToeBase", "RightFoot", (0.12, 0.0, -0.05)),
    ("Spine", "Hips", (0.0, 0.0, 0.1)),
    ("Spine1", "Spine", (0.0, 0.0, 0.15)),
    ("Neck", "Spine1", (0.0, 0.0, 0.2)),
    ("Head", "Neck", (0.0, 0.0, 0.1)),
    ("LeftShoulder", "Spine1", (0.0, 0.05, 0.15)),
    ("LeftArm", "LeftShoulder", (0.0, 0.12, 0.0)),
    ("LeftForeArm", "LeftArm", (0.0, 0.28, 0.0)),
    ("LeftHand", "LeftForeArm", (0.0, 0.25, 0.0)),
    ("RightShoulder", "Spine1", (0.0, -0.05, 0.15)),
    ("RightArm", "RightShoulder", (0.0, -0.12, 0.0)),
    ("RightForeArm", "RightArm", (0.0, -0.28, 0.0)),
    ("RightHand", "RightForeArm", (0.0, -0.25, 0.0)),
]
C = quat_np.Y_UP_TO_Z_UP

README_TABLE = {  # file: (frames, fps, up axis) from shared/data/README.md
    "02_01.bvh": (343, 120.0, "y"),
    "05_06.bvh": (885, 120.0, "y"),
    "49_08_cartwheels.bvh": (576, 120.0, "z"),
    "01_01_forward_jumps.bvh": (2752, 120.0, "z"),
}
UPRIGHT = {  # fraction of frames with the head > 0.4 m above the pelvis, at least
    "02_01.bvh": 0.99,
    "05_06.bvh": 0.6,  # dance with a cartwheel-like start
    "49_08_cartwheels.bvh": 0.1,  # mostly sideways or upside down
    "01_01_forward_jumps.bvh": 0.6,  # crouched take-offs
}


def bvh_text(
    joints, channels: dict[str, list[str]], frames: np.ndarray, end_offset: np.ndarray
) -> str:
    """BVH text for ``joints`` (name, parent, offset); leaves get an End Site at ``end_offset``."""
    children: dict[str | None, list] = {}
    for joint in joints:
        children.setdefault(joint[1], []).append(joint)
    lines = ["HIERARCHY"]

    def emit(joint, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if joint[1] is None else "JOINT"
        lines.append(f"{pad}{kind} {joint[0]}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET " + " ".join(f"{v:.6f}" for v in joint[2]))
        chans = channels[joint[0]]
        lines.append(f"{pad}\tCHANNELS {len(chans)} {' '.join(chans)}")
        for child in children.get(joint[0], []):
            emit(child, depth + 1)
        if not children.get(joint[0]):
            end = " ".join(f"{v:.6f}" for v in end_offset)
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end}", f"{pad}\t}}"])
        lines.append(pad + "}")

    emit(joints[0], 0)
    lines += ["MOTION", f"Frames: {len(frames)}", "Frame Time: 0.033333"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in frames]
    return "\n".join(lines) + "\n"


def human_frames(t_len: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Random root positions (T, 3) (m, z-up) and ZYX angles (T, K, 3) in degrees."""
    rng = np.random.default_rng(1)
    root = np.array([0.0, 0.0, 0.95]) + np.cumsum(rng.normal(0, 0.02, (t_len, 3)), axis=0)
    return root, rng.uniform(-40.0, 40.0, (t_len, len(HUMAN), 3))


def human_bvh(up: str, scale: float) -> str:
    """The small human, written Z-up or Y-up, in units of ``scale`` metres."""
    root, angles = human_frames()
    if up == "z":
        joints = [(n, p, np.array(o) / scale) for n, p, o in HUMAN]
        order, rows = ["Zrotation", "Yrotation", "Xrotation"], angles
        root_file = root / scale
        end = np.array([0.0, 0.0, 0.05]) / scale
    else:  # same motion Y-up: o_y = C^T o_z and C^T Rz(a) Ry(b) Rx(c) C = Ry(a) Rz(-b) Rx(c)
        joints = [(n, p, C.T @ np.array(o) / scale) for n, p, o in HUMAN]
        order = ["Yrotation", "Zrotation", "Xrotation"]
        rows = angles * np.array([1.0, -1.0, 1.0])
        root_file = root @ C / scale
        end = C.T @ np.array([0.0, 0.0, 0.05]) / scale
    channels = {n: list(order) for n, _, _ in HUMAN}
    channels["Hips"] = ["Xposition", "Yposition", "Zposition", *order]
    frames = np.concatenate([root_file, rows.reshape(len(rows), -1)], axis=1)
    return bvh_text(joints, channels, frames, end)


def write(tmp_path: Path, text: str, name: str = "m.bvh", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def assert_same_motion(a: HumanMotion, b: HumanMotion) -> None:
    assert a.joint_names == b.joint_names
    np.testing.assert_allclose(a.joint_pos_w, b.joint_pos_w, atol=1e-5)
    assert np.all(quat_np.angle_between(a.joint_quat_w, b.joint_quat_w) < 1e-5)


# --- exact hand-computed poses -------------------------------------------------------------


def chain_bvh(root_channels: str, mid_channels: str, frame: str) -> str:
    return (
        "HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS " + root_channels + "\n"
        " JOINT B\n {\n  OFFSET 1 0 0\n  CHANNELS " + mid_channels + "\n"
        "  JOINT Cj\n  {\n   OFFSET 0 1 0\n   CHANNELS 3 Zrotation Yrotation Xrotation\n"
        "   End Site\n   {\n    OFFSET 0 0 2\n   }\n  }\n }\n}\n"
        "MOTION\nFrames: 1\nFrame Time: 0.01\n" + frame + "\n"
    )


def test_90_degree_rotations_give_hand_computed_positions(tmp_path: Path) -> None:
    text = chain_bvh(
        "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
        "3 Xrotation Yrotation Zrotation",
        "1 2 3 90 0 0  90 0 0  0 0 0",
    )
    m = read_bvh(write(tmp_path, text), up_axis="z", unit_scale=1.0)
    assert m.joint_names == ["A", "B", "Cj", "Cj_end"]
    np.testing.assert_array_equal(m.parents, [-1, 0, 1, 2])
    # B = (1,2,3) + Rz90 (1,0,0); Cj = B + Rz90 Rx90 (0,1,0) = B + (0,0,1); tip adds 2 along
    # Rz90 Rx90 z = Rz90 (0,-1,0) = (1,0,0).
    expected = np.array([[1, 2, 3], [1, 3, 3], [1, 3, 4], [3, 3, 4]], dtype=float)
    np.testing.assert_allclose(m.joint_pos_w[0], expected, atol=1e-9)
    np.testing.assert_allclose(m.joint_quat_w[0, 0], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-9)
    assert m.meta["euler_orders"] == ["XYZ", "ZXY", "ZYX"]


def test_channel_order_is_intrinsic(tmp_path: Path) -> None:
    # Zrotation 90 then Yrotation 90 (intrinsic): Rz Ry (1,0,0) = Rz (0,0,-1) = (0,0,-1).
    # The extrinsic reading Ry Rz would give (0,1,0).
    text = chain_bvh("6 Xposition Yposition Zposition Zrotation Yrotation Xrotation",
                     "3 Zrotation Yrotation Xrotation", "0 0 0 90 90 0  0 0 0  0 0 0")  # fmt: skip
    m = read_bvh(write(tmp_path, text), up_axis="z", unit_scale=1.0)
    np.testing.assert_allclose(m.joint_pos_w[0, 1], [0, 0, -1], atol=1e-9)


def test_position_channels_on_a_child_replace_its_offset(tmp_path: Path) -> None:
    text = chain_bvh(
        "3 Zrotation Yrotation Xrotation",
        "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation",
        "0 0 0  0 0 5 0 0 0  0 0 0",
    )
    m = read_bvh(write(tmp_path, text), up_axis="z", unit_scale=1.0)
    np.testing.assert_allclose(m.joint_pos_w[0, 0], [0, 0, 0])  # rotation-only root: offset
    np.testing.assert_allclose(m.joint_pos_w[0, 1], [0, 0, 5])
    np.testing.assert_allclose(m.joint_pos_w[0, 2], [0, 1, 5])


def test_partial_rotation_channels(tmp_path: Path) -> None:
    text = chain_bvh("1 Zrotation", "2 Xposition Zrotation", "90  2 -90  0 0 0")
    m = read_bvh(write(tmp_path, text), up_axis="z", unit_scale=1.0)
    # B at Rz90 (2,0,0) = (0,2,0); B's frame is identity again, so Cj = B + (0,1,0).
    np.testing.assert_allclose(m.joint_pos_w[0, 1:3], [[0, 2, 0], [0, 3, 0]], atol=1e-9)


# --- the same skeleton in other conventions -----------------------------------------------


@pytest.mark.parametrize(
    ("up", "scale", "unit"),
    [("y", 0.01, "cm"), ("z", 0.01, "cm"), ("y", 1.0, "m"), ("z", 0.0254, "inch")],
)
def test_up_axis_and_units_are_detected_and_give_the_same_motion(
    tmp_path: Path, up: str, scale: float, unit: str
) -> None:
    reference = read_bvh(write(tmp_path, human_bvh("z", 1.0), "ref.bvh"))
    assert reference.meta["up_axis"] == "z" and reference.meta["unit"] == "m"
    m = read_bvh(write(tmp_path, human_bvh(up, scale)))
    assert m.meta["up_axis"] == up and m.meta["unit"] == unit
    assert_same_motion(m, reference)
    assert_same_motion(read_bvh(tmp_path / "m.bvh", up_axis=up, unit_scale=scale), reference)


def studio_cm_bvh(stature_scale: float) -> str:
    """A centimetre rig with translations on every joint and a ~100-unit rest pose.

    The hierarchy OFFSETs describe a figure 0.63x the animated one (rest pose ~100 units
    tall); the position channels, which replace the offsets, carry the real bone vectors of
    the small human scaled by ``stature_scale``.
    """
    root, angles = human_frames()
    order = ["Zrotation", "Yrotation", "Xrotation"]
    rest = [(n, p, np.array(o) * 100.0 * stature_scale * 0.63) for n, p, o in HUMAN]
    channels = {n: ["Xposition", "Yposition", "Zposition", *order] for n, _, _ in HUMAN}
    cols = []
    for k, (_, parent, offset) in enumerate(HUMAN):
        t = root if parent is None else np.broadcast_to(np.array(offset), root.shape)
        cols += [t * 100.0 * stature_scale, angles[:, k]]
    end = np.array([0.0, 0.0, 5.0 * stature_scale])  # End Sites have no channels
    return bvh_text(rest, channels, np.concatenate(cols, axis=1), end)


def test_cm_rig_with_a_100_unit_rest_pose_is_read_as_cm(tmp_path: Path) -> None:
    # The studio case of issue 12: rest pose ~100 units, animated human 150-175 cm. The rest
    # pose alone says "2.5 m in inches or 1.0 m in cm"; the animated bones say 1.6 m in cm.
    reference = read_bvh(write(tmp_path, human_bvh("z", 1.0), "ref.bvh"))
    path = write(tmp_path, studio_cm_bvh(1.0))
    m = read_bvh(path)
    rest_height = 63.0 * (0.95 + 0.55 - 0.01) + 5.0  # head end minus toe, file units
    assert 95 < rest_height < 105
    assert m.meta["unit"] == "cm" and m.meta["unit_scale"] == 0.01
    # ankle-to-head path: 0.42 + 0.42 + |(0, 0.1, -0.05)| + 0.1 + 0.15 + 0.2 + 0.1 m
    assert m.meta["height_m"] == pytest.approx(1.39 + np.hypot(0.1, 0.05), abs=1e-3)
    assert_same_motion(m, reference)
    assert read_bvh(path, units="inch").meta["unit"] == "inch"  # the override wins
    # the `units` config key reaches the reader through the one entry point
    assert read_human_motion(path, units="mm").meta["unit_scale"] == 0.001
    with pytest.raises(ConfigError, match="units"):
        read_human_motion(path, units="yard")
    tall = read_bvh(write(tmp_path, studio_cm_bvh(1.3), "tall.bvh"))  # a 2.0 m path
    assert tall.meta["unit"] == "cm"
    with pytest.raises(ConfigError, match="units"):
        read_bvh(path, units="furlong")


def test_positions_follow_from_orientations_and_offsets(tmp_path: Path) -> None:
    m = read_bvh(write(tmp_path, human_bvh("y", 0.01)))
    offsets = m.meta["rest_offsets_m"]
    np.testing.assert_allclose(offsets[m.index("LeftLeg")], [0, 0, -0.42], atol=1e-9)
    for j, p in enumerate(m.parents):
        if p >= 0:
            rebuilt = m.joint_pos_w[:, p] + quat_np.rotate(m.joint_quat_w[:, p], offsets[j])
            np.testing.assert_allclose(m.joint_pos_w[:, j], rebuilt, atol=1e-9)


def test_end_sites_crlf_and_tabs(tmp_path: Path) -> None:
    text = human_bvh("z", 0.01)
    lf = read_bvh(write(tmp_path, text, "lf.bvh"))
    crlf = read_bvh(write(tmp_path, text, "crlf.bvh", newline="\r\n"))
    assert_same_motion(crlf, lf)
    assert "Head_end" in lf.joint_names and "LeftHand_end" in lf.joint_names
    tip = lf.joint_pos_w[:, lf.index("Head_end")] - lf.joint_pos_w[:, lf.index("Head")]
    np.testing.assert_allclose(np.linalg.norm(tip, axis=-1), 0.05)
    assert set(REQUIRED_JOINTS) <= set(lf.canonical)


# --- bad input --------------------------------------------------------------------------------


def one_line_error(path: Path, **kwargs) -> str:
    with pytest.raises(InputFileError) as info:
        read_bvh(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_files_raise_one_line_errors(tmp_path: Path) -> None:
    good = human_bvh("z", 0.01)
    lines = good.splitlines()
    assert "file not found" in one_line_error(tmp_path / "absent.bvh")
    assert "truncated" in one_line_error(write(tmp_path, "\n".join(lines[:-2]), "a.bvh"))
    assert "truncated" in one_line_error(write(tmp_path, good.split("MOTION")[0], "b.bvh"))
    corrupt = "\n".join([*lines[:-1], lines[-1].replace(" ", " x1.5 ", 1)])
    assert "values, expected" in one_line_error(write(tmp_path, corrupt, "c.bvh"))
    bad_number = "\n".join([*lines[:-1], "abc" + lines[-1][lines[-1].index(" ") :]])
    assert "not a number" in one_line_error(write(tmp_path, bad_number, "d.bvh"))
    nan = "\n".join([*lines[:-1], "nan" + lines[-1][lines[-1].index(" ") :]])
    assert "non-finite" in one_line_error(write(tmp_path, nan, "e.bvh"))
    zero = good.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.01\n"
    assert "zero frames" in one_line_error(write(tmp_path, zero, "f.bvh"))
    wrong = good.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation", 1)
    assert "CHANNELS says 3" in one_line_error(write(tmp_path, wrong, "g.bvh"))
    assert "not a BVH" in one_line_error(write(tmp_path, "hello\n", "h.bvh"))
    with pytest.raises(ConfigError):
        read_bvh(write(tmp_path, good, "i.bvh"), up_axis="x")


# --- the shared CMU files ---------------------------------------------------------------------


def toe_skate(m: HumanMotion) -> float:
    """Median toe speed (m/s) in each foot's lowest 20% of frames (stance), worse foot."""
    speeds = []
    for side in ("left", "right"):
        p = m.canonical_pos_w(f"{side}_toe")
        v = np.linalg.norm(np.diff(p, axis=0), axis=-1) * m.fps
        z = p[1:, 2]
        speeds.append(np.median(v[z < np.percentile(z, 20)]))
    return float(max(speeds))


def seg(m: HumanMotion, a: str, b: str) -> float:
    return float(np.median(np.linalg.norm(m.canonical_pos_w(a) - m.canonical_pos_w(b), axis=-1)))


def check_plausible_human(m: HumanMotion, upright_fraction: float) -> None:
    """Limb lengths, pelvis height and z-up of a real adult capture."""
    assert set(REQUIRED_JOINTS) <= set(m.canonical)
    for side in ("left", "right"):
        assert 0.2 < seg(m, f"{side}_shoulder", f"{side}_elbow") < 0.4
        assert 0.15 < seg(m, f"{side}_elbow", f"{side}_wrist") < 0.35
        assert 0.3 < seg(m, f"{side}_hip", f"{side}_knee") < 0.55
        assert 0.3 < seg(m, f"{side}_knee", f"{side}_ankle") < 0.55
        assert 0.1 < seg(m, f"{side}_hip", "pelvis") < 0.2  # hip ball joint, not pelvis centre
    pelvis, head = m.canonical_pos_w("pelvis")[:, 2], m.canonical_pos_w("head")[:, 2]
    upright = head - pelvis > 0.4
    assert upright.mean() > upright_fraction
    assert 0.8 < np.median(pelvis[upright]) < 1.1


@pytest.mark.parametrize("name", sorted(README_TABLE))
def test_shared_cmu_bvh(shared_motions: Path, name: str) -> None:
    m = read_bvh(shared_motions / "cmu" / "bvh" / name)
    frames, fps, up = README_TABLE[name]
    assert (m.num_frames, m.fps, m.meta["up_axis"], m.meta["unit"]) == (frames, fps, up, "cmu")
    assert m.canonical["left_shoulder"] == "LeftArm" and m.canonical["left_hip"] == "LeftUpLeg"
    check_plausible_human(m, upright_fraction=UPRIGHT[name])
    for j, p in enumerate(m.parents):  # orientations explain positions
        if p >= 0:
            offset = m.meta["rest_offsets_m"][j]
            rebuilt = m.joint_pos_w[:, p] + quat_np.rotate(m.joint_quat_w[:, p], offset)
            np.testing.assert_allclose(m.joint_pos_w[:, j], rebuilt, atol=1e-4)


def test_cmu_walk_moves_forward_with_alternating_feet(shared_motions: Path) -> None:
    m = read_bvh(shared_motions / "cmu" / "bvh" / "02_01.bvh")
    check_plausible_human(m, upright_fraction=0.99)
    pelvis = m.canonical_pos_w("pelvis")
    assert np.linalg.norm(pelvis[-1, :2] - pelvis[0, :2]) > 1.0
    lower = np.sign(m.canonical_pos_w("left_ankle")[:, 2] - m.canonical_pos_w("right_ankle")[:, 2])
    lower = lower[:: int(m.fps // 10)]  # 10 Hz: ignore jitter at crossings
    assert np.count_nonzero(np.diff(lower[lower != 0])) >= 3
    # Wrong Euler conventions make stance feet slide (reversed order: ~0.3 m/s).
    assert toe_skate(m) < 0.2
