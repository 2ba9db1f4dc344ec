"""Retarget one normalised human motion onto a robot variant.

Glue between proportion fitting and the whole-sequence solver: builds the key-point and
sole point sets from the robot model, runs the solve and measures the key-point error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
import torch
from numpy.typing import NDArray

from humimic.motion.human import HumanMotion
from humimic.motion.retarget.mapping import RetargetMap, load_retarget_map
from humimic.motion.retarget.proportions import fit_proportions
from humimic.motion.retarget.solver import PointSet, SequenceSolver, SolveProblem, SolverCfg
from humimic.robot.lookup import robot_foot_sole_points_b
from humimic.robot.spec import RobotSpec

F64 = NDArray[np.float64]


@dataclass
class RetargetResult:
    """A robot trajectory and what it cost to get there.

    Attributes:
        root_pos_w: ``(T, 3)`` pelvis positions, m.
        root_quat_w: ``(T, 4)`` pelvis orientations, wxyz.
        joint_pos: ``(T, J)`` joint angles in ``spec.joint_names`` order, rad.
        info: Report entries (proportions, key-point error, solver cost).
    """

    root_pos_w: F64
    root_quat_w: F64
    joint_pos: F64
    info: dict[str, object] = field(default_factory=dict)


class Retargeter:
    """Reusable retargeting setup for one robot variant (build once, call per clip)."""

    def __init__(self, spec: RobotSpec, model: mujoco.MjModel, cfg: SolverCfg) -> None:
        self.spec = spec
        self.rmap: RetargetMap = load_retarget_map(spec.robot)
        joint_ids = [
            mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in spec.joint_names
        ]
        limits = model.jnt_range[joint_ids]
        self.solver = SequenceSolver(
            model,
            list(spec.joint_names),
            limits[:, 0].astype(np.float64),
            limits[:, 1].astype(np.float64),
            np.asarray(spec.velocity_limit, np.float64),
            np.asarray(spec.default_joint_pos, np.float64),
            cfg,
        )
        kin = self.solver.bodies.kin
        body_index = kin.body_indices(self.rmap.robot_bodies).numpy()
        self.key_points = PointSet(body_index, np.zeros((len(body_index), 3)))
        soles_b = robot_foot_sole_points_b(model, spec)
        self.soles = {
            side: PointSet(
                np.full(len(soles_b[side]), int(kin.body_indices([self.rmap.feet[side]])[0])),
                soles_b[side],
            )
            for side in ("left", "right")
        }
        self.rest_w = self._rest_positions()

    def _rest_positions(self) -> dict[str, F64]:
        """Body origins at the zero pose with the root at the origin."""
        kin = self.solver.bodies.kin
        pos, _ = kin.forward(
            torch.zeros(3, dtype=torch.float64),
            torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64),
            torch.zeros(len(kin.joint_names), dtype=torch.float64),
        )
        return {name: pos[i].numpy() for i, name in enumerate(kin.body_names)}

    def __call__(self, motion: HumanMotion, contact: NDArray[np.bool_]) -> RetargetResult:
        """Solve the robot trajectory for ``motion`` with human foot ``contact (T, 2)``."""
        fit = fit_proportions(motion, self.rmap, self.rest_w)
        weights = np.array([kp.weight for kp in self.rmap.key_points])
        problem = SolveProblem(
            targets_w=fit.targets_w,
            weights=weights,
            key_points=self.key_points,
            soles=self.soles,
            contact=np.asarray(contact, bool),
            fps=motion.fps,
            root_pos_w=fit.targets_w[:, 0].copy(),
            root_quat_w=fit.pelvis_quat_w,
        )
        result = self.solver.solve(problem)
        state = (result.root_pos_w, result.root_quat_w, result.joint_pos)
        key_pos = self.solver.point_positions(state, self.key_points)
        error = np.linalg.norm(key_pos - fit.targets_w, axis=-1)  # (T, P), NaN where unused
        per_point = {
            kp.human: round(float(np.nanmean(error[:, i])), 4)
            for i, kp in enumerate(self.rmap.key_points)
            if np.isfinite(error[:, i]).any()
        }
        info = {
            "key_point_error_mean_m": float(np.nanmean(error)),
            "key_point_error_max_m": float(np.nanmax(error)),
            "key_point_error_per_joint_m": per_point,
            "bone_scale": {k: round(v, 4) for k, v in fit.bone_scale.items()},
            "leg_scale": round(fit.leg_scale, 4),
            "solver_iterations": len(result.cost_history) - 1,
            "solver_cost": [round(c, 6) for c in (result.cost_history[0], result.cost_history[-1])],
        }
        return RetargetResult(result.root_pos_w, result.root_quat_w, result.joint_pos, info)
