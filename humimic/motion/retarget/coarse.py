"""Coarse-to-fine support for the sequence solver: subsample a problem, upsample a result.

Solving every ``stride``-th frame first costs a fraction of a full iteration and leaves the
full solve little to do; the coarse solution is interpolated back to every frame.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from humimic.geometry import quat_np
from humimic.motion.retarget.jacobian import State

if TYPE_CHECKING:
    from humimic.motion.retarget.solver import SolveProblem, SolveResult


def take(state: State, stride: int) -> State:
    """Every ``stride``-th frame of a state, always keeping the last frame."""
    index = _coarse_index(state[0].shape[0], stride)
    return state[0][index], state[1][index], state[2][index]


def _coarse_index(num_frames: int, stride: int) -> NDArray[np.int64]:
    """Frame indices ``0, stride, 2 stride, ...`` and always the last frame."""
    index = np.arange(0, num_frames, stride)
    return index if index[-1] == num_frames - 1 else np.append(index, num_frames - 1)


def subsample(problem: SolveProblem, stride: int) -> SolveProblem:
    """The same problem on every ``stride``-th frame (a contact counts if any frame had it)."""
    index = _coarse_index(problem.targets_w.shape[0], stride)
    contact = np.logical_and.reduceat(problem.contact, index, axis=0)
    return replace(
        problem,
        targets_w=problem.targets_w[index],
        contact=contact,
        fps=problem.fps / stride,
        root_pos_w=problem.root_pos_w[index],
        root_quat_w=problem.root_quat_w[index],
    )


def upsample(coarse: SolveResult, num_frames: int, stride: int) -> State:
    """Interpolate a coarse solution back to every frame (slerp for the root)."""
    index = _coarse_index(num_frames, stride)
    t = np.arange(num_frames)
    seg = np.clip(np.searchsorted(index, t, side="right") - 1, 0, len(index) - 2)
    alpha = (t - index[seg]) / (index[seg + 1] - index[seg])
    lerp = lambda x: x[seg] + alpha[:, None] * (x[seg + 1] - x[seg])  # noqa: E731
    quat = quat_np.slerp(coarse.root_quat_w[seg], coarse.root_quat_w[seg + 1], alpha)
    return lerp(coarse.root_pos_w), quat, lerp(coarse.joint_pos)
