"""PBHC metrics on hand-made trajectories whose errors are known exactly."""

from __future__ import annotations

import math

import imageio.v2 as imageio
import numpy as np
import pytest

from humimic.errors import HumimicError
from humimic.eval.metrics import (
    FALL_HEIGHT_M,
    MetricsInputError,
    compare_runs_plot,
    compute_metrics,
    episode_length_ratio,
    episode_success,
    episode_upright,
    joint_abs_error,
    mpbae,
    mpbpe_global,
    mpbpe_local,
    mpbve,
    mpjpe,
    mpjpe_per_joint,
    mpjve,
    plot_errors,
)

RNG = np.random.default_rng(7)


def ref_bodies(num_t: int = 6, num_b: int = 5) -> np.ndarray:
    """A random reference body trajectory (T, B, 3), m."""
    return RNG.normal(size=(num_t, num_b, 3))


def batch(*arrays: np.ndarray) -> np.ndarray:
    return np.stack(arrays)


def metrics_of(robot_p, ref_p, robot_q=None, ref_q=None, fps=50.0, **kw):
    """compute_metrics on (E, T, B, 3) bodies, with zero joint error unless joints are given,
    in its metrics.json form."""
    num_e, num_t = robot_p.shape[:2]
    if robot_q is None:
        robot_q = ref_q = np.zeros((num_e, num_t, 2))
    names = [f"j{i}" for i in range(robot_q.shape[-1])]
    return compute_metrics(robot_p, ref_p, robot_q, ref_q, fps, joint_names=names, **kw).to_json()


def test_constant_offset_is_global_error_only():
    ref = ref_bodies()
    robot = ref + np.array([0.06, 0.08, 0.0])  # |offset| = 0.1 m on every body
    assert mpbpe_global(robot, ref) == pytest.approx(100.0)
    assert mpbpe_local(robot, ref) == pytest.approx(0.0, abs=1e-9)
    assert mpbve(robot, ref) == pytest.approx(0.0, abs=1e-9)
    assert mpbae(robot, ref) == pytest.approx(0.0, abs=1e-9)
    m = metrics_of(robot[None], ref[None])
    assert m["E_g_mpbpe"]["mean"] == pytest.approx(100.0)
    assert m["E_mpbpe"]["mean"] == pytest.approx(0.0, abs=1e-9)


def test_single_body_3_4_5_offset():
    ref = ref_bodies(num_b=5)
    robot = ref.copy()
    robot[:, 2] += [0.03, 0.04, 0.0]  # 50 mm on one of 5 bodies
    assert mpbpe_global(robot, ref) == pytest.approx(10.0)
    assert mpbpe_local(robot, ref, pelvis_index=0) == pytest.approx(10.0)
    # the same offset on the pelvis moves every other body by 50 mm relative to it
    robot = ref.copy()
    robot[:, 0] += [0.0, 0.03, -0.04]
    assert mpbpe_global(robot, ref) == pytest.approx(10.0)
    assert mpbpe_local(robot, ref, pelvis_index=0) == pytest.approx(50.0 * 4 / 5)
    assert mpbpe_local(robot, ref, pelvis_index=1) == pytest.approx(10.0)


def test_joint_errors_l2_and_per_joint_conventions():
    ref = RNG.normal(size=(7, 4))
    robot = ref + 0.1  # 0.1 rad on all 4 joints
    assert mpjpe(robot, ref) == pytest.approx(200.0)  # sqrt(4 * 0.01) = 0.2 rad
    assert mpjpe_per_joint(robot, ref) == pytest.approx(100.0)
    ref8 = RNG.normal(size=(7, 8))
    robot8 = ref8.copy()
    robot8[:, :4] -= 0.1  # 4 of 8 joints off
    assert mpjpe(robot8, ref8) == pytest.approx(200.0)
    assert mpjpe_per_joint(robot8, ref8) == pytest.approx(50.0)
    np.testing.assert_allclose(joint_abs_error(robot8, ref8), [100] * 4 + [0] * 4, atol=1e-9)


def test_body_velocity_of_robot_drifting_1cm_per_frame():
    ref = np.zeros((10, 3, 3))  # static reference
    robot = ref.copy()
    robot[:, :, 0] += 0.01 * np.arange(10)[:, None]
    assert mpbve(robot, ref, fps=50.0) == pytest.approx(10.0)
    assert mpbae(robot, ref, fps=50.0) == pytest.approx(0.0, abs=1e-9)
    # 1 cm per frame at 100 fps is 2 cm per 50-fps frame
    assert mpbve(robot, ref, fps=100.0) == pytest.approx(20.0)


def test_body_acceleration_hand_computed():
    num_t = 6
    ref = np.zeros((num_t, 2, 3))
    robot = ref.copy()
    t = np.arange(num_t)
    robot[:, :, 2] += (0.001 * t**2)[:, None]  # x_t = 1 mm * t^2
    # second difference is 2 mm every frame; first difference is 1 mm * (2t + 1), t = 0..4
    assert mpbae(robot, ref) == pytest.approx(2.0)
    assert mpbve(robot, ref) == pytest.approx(np.mean(2 * np.arange(5) + 1))
    assert mpbae(robot, ref, fps=25.0) == pytest.approx(2.0 / 4)  # 40 ms frames: (25 / 50)^2


def test_joint_velocity_hand_computed():
    ref = np.zeros((5, 4))
    robot = 0.01 * np.arange(5)[:, None] * np.ones(4)  # 0.01 rad/frame on 4 joints
    assert mpjve(robot, ref) == pytest.approx(20.0)  # sqrt(4 * 1e-4) = 0.02 rad/frame


def test_metrics_match_independent_loop_computation():
    num_e, num_t, num_b, num_j = 3, 8, 4, 5
    robot_p = RNG.normal(size=(num_e, num_t, num_b, 3))
    ref_p = RNG.normal(size=robot_p.shape)
    robot_q = RNG.normal(size=(num_e, num_t, num_j))
    ref_q = RNG.normal(size=robot_q.shape)
    m = metrics_of(robot_p, ref_p, robot_q, ref_q, fps=50.0)
    g, lo, jl2, jv, bv = [], [], [], [], []
    for e in range(num_e):
        g.append(
            1000
            * np.mean(
                [
                    math.dist(robot_p[e, t, b], ref_p[e, t, b])
                    for t in range(num_t)
                    for b in range(num_b)
                ]
            )
        )
        lo.append(
            1000
            * np.mean(
                [
                    math.dist(robot_p[e, t, b] - robot_p[e, t, 0], ref_p[e, t, b] - ref_p[e, t, 0])
                    for t in range(num_t)
                    for b in range(num_b)
                ]
            )
        )
        jl2.append(1000 * np.mean([math.dist(robot_q[e, t], ref_q[e, t]) for t in range(num_t)]))
        jv.append(
            1000
            * np.mean(
                [
                    math.dist(robot_q[e, t + 1] - robot_q[e, t], ref_q[e, t + 1] - ref_q[e, t])
                    for t in range(num_t - 1)
                ]
            )
        )
        bv.append(
            1000
            * np.mean(
                [
                    math.dist(
                        robot_p[e, t + 1, b] - robot_p[e, t, b], ref_p[e, t + 1, b] - ref_p[e, t, b]
                    )
                    for t in range(num_t - 1)
                    for b in range(num_b)
                ]
            )
        )
    for key, values in [
        ("E_g_mpbpe", g),
        ("E_mpbpe", lo),
        ("E_mpjpe", jl2),
        ("E_mpjve", jv),
        ("E_mpbve", bv),
    ]:
        assert m[key]["mean"] == pytest.approx(np.mean(values)), key
        assert m[key]["std"] == pytest.approx(np.std(values)), key


def test_mean_and_std_over_episodes():
    ref = ref_bodies()
    robots = batch(
        ref + np.array([0.1, 0.0, 0.0]), ref + np.array([0.0, 0.0, 0.2])
    )  # 100 mm and 200 mm
    m = metrics_of(robots, batch(ref, ref))
    assert m["E_g_mpbpe"] == pytest.approx({"mean": 150.0, "std": 50.0})
    assert m["num_episodes"] == 2


def test_frames_beyond_length_are_ignored():
    ref = ref_bodies(num_t=6)
    good = ref + np.array([0.1, 0.0, 0.0])
    spoiled = good.copy()
    spoiled[3:] += 1.0  # huge errors after the episode ended
    ref_q = RNG.normal(size=(6, 3))
    robot_q = ref_q + 0.1
    spoiled_q = robot_q.copy()
    spoiled_q[3:] += 5.0
    m = metrics_of(spoiled[None], ref[None], spoiled_q[None], ref_q[None], lengths=np.array([3]))
    expected = metrics_of(good[None, :3], ref[None, :3], robot_q[None, :3], ref_q[None, :3])
    for key in ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "E_mpjve", "E_mpbve", "E_mpbae"):
        assert m[key]["mean"] == pytest.approx(expected[key]["mean"], abs=1e-9), key
    assert m["E_g_mpbpe"]["mean"] == pytest.approx(100.0)


def test_too_short_episode_gives_nan_velocity_left_out_of_mean():
    ref = np.zeros((4, 2, 3))
    drift = ref.copy()
    drift[:, :, 0] += 0.01 * np.arange(4)[:, None]
    m = metrics_of(batch(drift, drift), batch(ref, ref), lengths=np.array([4, 1]))
    assert m["E_mpbve"] == pytest.approx({"mean": 10.0, "std": 0.0})
    assert mpbve(drift[:1], ref[:1]) != mpbve(drift[:1], ref[:1])  # NaN for one frame
    single = metrics_of(drift[None], ref[None], lengths=np.array([1]))
    assert math.isnan(single["E_mpbve"]["mean"])


def test_success_rate_and_episode_length_ratio():
    ref = ref_bodies(num_t=10)
    ok = ref + np.array([0.4, 0.0, 0.0])  # within 0.5 m all the time
    far = ref.copy()
    far[7, 3] += [0.0, 0.6, 0.0]  # one body 0.6 m off on one frame
    short = ref.copy()  # perfect but terminated early
    robots = batch(ok, far, short, ref)
    m = metrics_of(robots, batch(ref, ref, ref, ref), lengths=np.array([10, 10, 6, 10]))
    assert m["success_rate"] == pytest.approx({"mean": 0.5, "std": 0.5})
    assert m["episode_length_ratio"]["mean"] == pytest.approx((1 + 1 + 0.6 + 1) / 4)
    assert episode_success(far, ref, 10, 10, fail_distance_m=0.7)
    assert not episode_success(far, ref, 10, 10, fail_distance_m=0.5)
    assert not episode_success(short, ref, 6, 10)
    np.testing.assert_allclose(episode_length_ratio([10, 5], 10), [1.0, 0.5])
    m2 = metrics_of(batch(ref, ref), batch(ref, ref), lengths=np.array([10, 5]), clip_frames=20)
    assert m2["episode_length_ratio"] == pytest.approx({"mean": 0.375, "std": 0.125})
    assert m2["success_rate"]["mean"] == 0.0  # neither reaches frame 20


def test_per_frame_series_and_per_joint():
    ref = np.zeros((4, 2, 3))
    robots = batch(ref + np.array([0.1, 0, 0]), ref + np.array([0.3, 0, 0]))
    ref_q = np.zeros((2, 4, 3))
    robot_q = ref_q + np.array([0.0, 0.2, 0.4])
    m = metrics_of(robots, batch(ref, ref), robot_q, ref_q, fps=25.0, lengths=np.array([4, 2]))
    pf = m["per_frame"]
    np.testing.assert_allclose(pf["time_s"], [0.0, 0.04, 0.08, 0.12])
    np.testing.assert_allclose(pf["body_pos_global_mm"], [200, 200, 100, 100])
    np.testing.assert_allclose(pf["body_pos_local_mm"], [0, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(pf["joint_pos_l2_mrad"], [math.hypot(200, 400)] * 4)
    assert pf["num_episodes"] == [2, 2, 1, 1]
    assert m["per_joint"] == pytest.approx({"j0": 0.0, "j1": 200.0, "j2": 400.0})
    assert m["units"]["E_mpjpe"].startswith("1e-3 rad")


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a.update(ref_p=a["ref_p"][:, :3]),
        lambda a: a.update(robot_q=a["robot_q"][:, :, :2]),
        lambda a: a.update(names=["only"]),
        lambda a: a.update(lengths=np.array([0])),
        lambda a: a.update(lengths=np.array([9])),
        lambda a: a.update(lengths=np.array([2.5])),
        lambda a: a.update(fps=0.0),
        lambda a: a.update(pelvis=5),
    ],
)
def test_bad_input_is_rejected(change):
    args = {
        "robot_p": np.zeros((1, 4, 2, 3)),
        "ref_p": np.zeros((1, 4, 2, 3)),
        "robot_q": np.zeros((1, 4, 3)),
        "ref_q": np.zeros((1, 4, 3)),
        "names": ["a", "b", "c"],
        "lengths": None,
        "fps": 50.0,
        "pelvis": 0,
    }
    change(args)
    with pytest.raises(MetricsInputError):
        compute_metrics(
            args["robot_p"],
            args["ref_p"],
            args["robot_q"],
            args["ref_q"],
            args["fps"],
            joint_names=args["names"],
            lengths=args["lengths"],
            pelvis_index=args["pelvis"],
        )


def test_plots_are_written(tmp_path):
    ref = ref_bodies(num_t=20)
    robots = batch(ref + 0.01, ref - 0.02)
    ref_q = np.zeros((2, 20, 3))
    m = metrics_of(robots, batch(ref, ref), ref_q + 0.1, ref_q, lengths=np.array([20, 12]))
    paths = plot_errors(m, tmp_path / "plots", stem="run")
    assert [p.name for p in paths] == ["run_errors_over_time.png", "run_per_joint.png"]
    for path in paths:
        image = imageio.imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)
    with pytest.raises(HumimicError):
        plot_errors({"E_g_mpbpe": {"mean": 1.0, "std": 0.0}}, tmp_path)
    out = compare_runs_plot({"a": m, "b": m}, tmp_path / "compare.png")
    assert imageio.imread(out).shape[1] > 300


def test_per_episode_success_and_errors_are_listed() -> None:
    """Episode 0 tracks exactly; episode 1 drifts 0.6 m sideways on its last frame (beyond the
    0.5 m failure distance): success [1, 0], E_g_mpbpe [0, 0.6 m / 4 frames = 150 mm]."""
    from humimic.eval.metrics import compute_metrics

    ref = np.zeros((2, 4, 2, 3))
    robot = ref.copy()
    robot[1, 3, :, 1] = 0.6
    q = np.zeros((2, 4, 1))
    m = compute_metrics(robot, ref, q, q, 50.0, joint_names=["j"]).to_json()
    assert m["per_episode"]["success"] == [1.0, 0.0]
    np.testing.assert_allclose(m["per_episode"]["E_g_mpbpe"], [0.0, 150.0])
    np.testing.assert_allclose(m["per_episode"]["E_mpbpe"], [0.0, 0.0])  # pelvis moved too


def fell_and_drifted() -> tuple[np.ndarray, np.ndarray]:
    """2 episodes x 5 frames x 2 bodies (pelvis, head), reference pelvis at 0.7 m, head at
    1.2 m. Episode 0 falls: on frame 2 the pelvis dips to 0.25 m and the head to 0.5 m (0.7 m
    off). Episode 1 stays up but drifts 0.6 m sideways on its last frame. Both fail."""
    ref = np.zeros((2, 5, 2, 3))
    ref[:, :, 0, 2], ref[:, :, 1, 2] = 0.7, 1.2
    robot = ref.copy()
    robot[0, 2, :, 2] = [0.25, 0.5]
    robot[1, 4, :, 1] = 0.6
    return robot, ref


def test_upright_rate_tells_a_fall_from_a_drift() -> None:
    robot, ref = fell_and_drifted()
    m = metrics_of(robot, ref)
    assert m["per_episode"]["success"] == [0.0, 0.0]
    assert m["per_episode"]["upright"] == [0.0, 1.0]
    assert m["upright_rate"] == pytest.approx({"mean": 0.5, "std": 0.5})
    assert m["units"]["upright_rate"] == "fraction of episodes"
    assert list(m)[7:10] == ["success_rate", "upright_rate", "episode_length_ratio"]
    # a lower fall height forgives the dip; the pelvis index picks the body whose z is read
    assert metrics_of(robot, ref, fall_height_m=0.2)["upright_rate"]["mean"] == 1.0
    assert metrics_of(robot, ref, pelvis_index=1)["per_episode"]["upright"] == [1.0, 1.0]


def test_episode_upright_boundary_length_and_frames_beyond_it() -> None:
    pelvis = np.zeros((5, 1, 3))
    pelvis[:, 0, 2] = 0.7
    assert FALL_HEIGHT_M == 0.3
    at_limit = pelvis.copy()
    at_limit[3, 0, 2] = 0.3  # exactly the fall height still counts as upright
    assert episode_upright(at_limit, 5, 5)
    at_limit[3, 0, 2] = 0.2999
    assert not episode_upright(at_limit, 5, 5)
    assert episode_upright(at_limit, 5, 5, fall_height_m=0.25)
    assert not episode_upright(pelvis, 4, 5)  # ended before the clip did: not upright
    fell_late = pelvis.copy()
    fell_late[4, 0, 2] = 0.0  # beyond the episode's 4 frames: ignored
    assert episode_upright(fell_late, 4, 4)
    assert not episode_upright(fell_late, 5, 5)
    nan_height = pelvis.copy()
    nan_height[1, 0, 2] = np.nan
    assert not episode_upright(nan_height, 5, 5)
    m = metrics_of(batch(pelvis, pelvis), batch(pelvis, pelvis), lengths=np.array([5, 3]))
    assert m["per_episode"]["upright"] == [1.0, 0.0]
