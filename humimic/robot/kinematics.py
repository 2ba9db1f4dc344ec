"""Batched, differentiable forward kinematics of a MuJoCo body tree in torch.

The static tree (body offsets, joint axes and anchors, ``qpos0``) is read once from an
``mujoco.MjModel``. Each body becomes a short chain of *nodes*, one per joint that moves it, so
every node has at most one hinge or slide joint. A node's pose relative to its parent is then
linear in ``(1, cos θ, sin θ, d)`` (hinge angle θ, slide displacement d) with constant
coefficient matrices, precomputed here. The tree is walked one depth level at a time: all nodes
of a level are composed with their parents by one batched GEMM for rotation and position and
one for the quaternion, so the Python loop runs over the tree depth (12 levels for the G1), not
over the bodies. On the G1 (CPU, float32) this is about 2x faster than the same step run
body by body, at batch 64 and at batch 4096.

Frames follow ``mj_kinematics``: a body's frame is its parent's frame times the body offset
``(body_pos, body_quat)``, then each of its joints in model order. A hinge rotates by
``q - qpos0`` about its axis through the anchor ``jnt_pos`` (both in the body frame); a slide
translates by ``q - qpos0`` along its axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import mujoco
import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.geometry import quat_np, quat_torch

_NONE, _HINGE, _SLIDE = 0, 1, 2
_IDENTITY_QUAT = np.array([1.0, 0.0, 0.0, 0.0])


@dataclass
class _Node:
    """One link of the expanded chain: a constant offset, then at most one active joint."""

    parent: int  # node index, -1 for the root pose input
    offset_pos: np.ndarray
    offset_quat: np.ndarray
    kind: int = _NONE
    column: int = -1  # column of joint_pos driving this node
    axis: np.ndarray = field(default_factory=lambda: np.zeros(3))
    anchor: np.ndarray = field(default_factory=lambda: np.zeros(3))


def _right_product_matrix(r: np.ndarray) -> np.ndarray:
    """4x4 matrix ``M`` with ``p ⊗ r = M @ p`` for every quaternion ``p``."""
    return np.stack([quat_np.multiply(e, r) for e in np.eye(4)], axis=-1)


def _compose(
    pos: np.ndarray, quat: np.ndarray, sub_pos: np.ndarray, sub_quat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pose ``(pos, quat) ∘ (sub_pos, sub_quat)``."""
    return pos + quat_np.rotate(quat, sub_pos), quat_np.multiply(quat, sub_quat)


def _held_joint_pose(model: mujoco.MjModel, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant local pose of a joint held at ``qpos0`` (identity unless it is a ball)."""
    if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_BALL:
        return np.zeros(3), _IDENTITY_QUAT.copy()
    adr = model.jnt_qposadr[j]
    rot = model.qpos0[adr : adr + 4] / np.linalg.norm(model.qpos0[adr : adr + 4])
    anchor = model.jnt_pos[j].astype(np.float64)
    return anchor - quat_np.rotate(rot, anchor), rot


def _body_name(model: mujoco.MjModel, b: int) -> str:
    return mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or f"body{b}"


def _expand_tree(model: mujoco.MjModel, columns: dict[int, int]) -> tuple[list[_Node], list[int]]:
    """Nodes of the expanded chain and, per body (model order), the node that is its frame."""
    roots = [b for b in range(1, model.nbody) if model.body_parentid[b] == 0]
    if len(roots) != 1:
        raise ConfigError(
            f"kinematics model: expected one body tree under world, found {len(roots)}"
        )
    nodes: list[_Node] = []
    body_node = [-1] * model.nbody
    for b in range(1, model.nbody):
        if model.body_mocapid[b] >= 0:
            raise ConfigError(
                f"kinematics model: mocap body {_body_name(model, b)!r} not supported"
            )
        if b == roots[0]:  # the root pose input replaces the root offset, as a free joint does
            offset = (np.zeros(3), _IDENTITY_QUAT.copy())
            body_node[b] = _append_body(model, b, -1, offset, columns, nodes)
        else:
            offset = (model.body_pos[b].astype(np.float64), model.body_quat[b].astype(np.float64))
            parent = body_node[model.body_parentid[b]]
            body_node[b] = _append_body(model, b, parent, offset, columns, nodes)
    return nodes, body_node[1:]


def _append_body(
    model: mujoco.MjModel,
    b: int,
    parent: int,
    offset: tuple[np.ndarray, np.ndarray],
    columns: dict[int, int],
    nodes: list[_Node],
) -> int:
    """Append the nodes of body ``b`` (one per active joint) and return its frame's node."""
    pos, quat = offset
    emitted = False
    first = model.body_jntadr[b]
    for j in range(first, first + model.body_jntnum[b]):
        jtype = model.jnt_type[j]
        if jtype == mujoco.mjtJoint.mjJNT_FREE:
            if not (parent == -1 and j == first):
                name = _body_name(model, b)
                raise ConfigError(f"kinematics model: free joint on non-root body {name!r}")
            continue
        if j not in columns:
            pos, quat = _compose(pos, quat, *_held_joint_pose(model, j))
            continue
        kind = _HINGE if jtype == mujoco.mjtJoint.mjJNT_HINGE else _SLIDE
        axis = model.jnt_axis[j] / np.linalg.norm(model.jnt_axis[j])
        anchor = model.jnt_pos[j].astype(np.float64)
        nodes.append(_Node(parent, pos, quat, kind, columns[j], axis, anchor))
        parent, pos, quat = len(nodes) - 1, np.zeros(3), _IDENTITY_QUAT.copy()
        emitted = True
    if not emitted or np.any(pos != 0.0) or np.any(quat != _IDENTITY_QUAT):
        nodes.append(_Node(parent, pos, quat))
    return len(nodes) - 1


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def _node_constants(node: _Node) -> tuple[np.ndarray, np.ndarray]:
    """Constant matrices ``W (4, 12)`` and ``H (4, 8)`` that map a parent's pose to the node's.

    With ``c, s`` the cos/sin of the hinge angle, ``ch, sh`` those of the half angle and ``d`` the
    slide displacement, the node's local pose is ``R = C0 + c C1 + s C2``,
    ``p = P0 + c P1 + s P2 + d P3`` and ``q = q_s ⊗ (ch, sh a)``. Block ``b`` of ``W`` is
    ``[C_b | P_b]ᵀ``, so ``[R_p | R_p p] = Σ_b t_b R_p W_bᵀ`` with ``t = (1, c, s, d)``. ``H``
    holds the right-product matrices of ``q_s`` and ``q_s ⊗ (0, a)`` side by side, so the node
    quaternion is ``H @ [ch q_p; sh q_p]``.
    """
    rot_s = quat_np.to_matrix(node.offset_quat)
    rots = [rot_s, np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 3))]
    offsets = [node.offset_pos, np.zeros(3), np.zeros(3), np.zeros(3)]
    m1 = np.zeros((4, 4))
    a, anchor = node.axis, node.anchor
    if node.kind == _HINGE:
        # Rodrigues about the anchor: R(a, θ) = a aᵀ + c (I - a aᵀ) + s [a]×.
        outer = np.outer(a, a)
        perp = np.eye(3) - outer
        rots[:3] = [rot_s @ outer, rot_s @ perp, rot_s @ _skew(a)]
        offsets[0] = node.offset_pos + rot_s @ (anchor - outer @ anchor)
        offsets[1], offsets[2] = -rot_s @ perp @ anchor, -rot_s @ np.cross(a, anchor)
        m1 = _right_product_matrix(quat_np.multiply(node.offset_quat, np.concatenate(([0.0], a))))
    elif node.kind == _SLIDE:
        offsets[3] = rot_s @ a
    w = np.concatenate([np.column_stack((r, p)).T for r, p in zip(rots, offsets)], axis=1)
    h = np.concatenate((_right_product_matrix(node.offset_quat), m1), axis=1)
    return w, h


class RobotKinematics:
    """Forward kinematics of a MuJoCo model's body tree in torch.

    Batched over any leading dimensions and differentiable with respect to the root pose and the
    joint positions. Matches ``mujoco.mj_kinematics`` ``xpos``/``xquat``.

    Attributes:
        body_names: All bodies except the world body, in model order (``B`` of them).
        joint_names: Hinge/slide joints driven by the ``joint_pos`` columns, in column order
            (``J`` of them). Other joints are held at ``qpos0``.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        joint_names: Sequence[str] | None = None,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        """Read the static tree of ``model``.

        Args:
            model: Model with one body tree under the world body; its root body either has a free
                joint (floating base) or none (fixed base). Either way the root pose inputs of
                :meth:`forward` are the root body's pose in world.
            joint_names: Hinge/slide joint names in the order of the ``joint_pos`` columns.
                Default: every hinge joint in model order.
            device: Torch device of the constants and outputs.
            dtype: Floating dtype of inputs and outputs (float32 or float64).

        Raises:
            ConfigError: Unknown, repeated or non hinge/slide joint names, or an unsupported tree.
        """
        self.body_names = [_body_name(model, b) for b in range(1, model.nbody)]
        self.joint_names = self._resolve_joints(model, joint_names)
        columns = {
            mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n): i
            for i, n in enumerate(self.joint_names)
        }
        nodes, body_node = _expand_tree(model, columns)
        self._build_levels(nodes, body_node)
        qpos0 = [model.qpos0[model.jnt_qposadr[j]] for j in columns]
        ordered = [nodes[i] for i in self._order]
        consts = [_node_constants(node) for node in ordered]
        unused = len(columns)  # index of the zero column appended to the joint angles
        self._tensors = {
            "qpos0": torch.tensor(qpos0, dtype=torch.float64),
            "W": torch.from_numpy(np.stack([w for w, _ in consts])),
            "H": torch.from_numpy(np.stack([h for _, h in consts])),
            "hinge_col": torch.tensor([n.column if n.kind == _HINGE else unused for n in ordered]),
            "slide_col": torch.tensor([n.column if n.kind == _SLIDE else unused for n in ordered]),
        }
        self._has_slide = any(n.kind == _SLIDE for n in nodes)
        self._device = torch.device("cpu")
        self._dtype = torch.float64
        self.to(device, dtype=dtype)

    @staticmethod
    def _resolve_joints(model: mujoco.MjModel, joint_names: Sequence[str] | None) -> list[str]:
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in range(model.njnt)]
        if joint_names is None:
            return [
                n for j, n in enumerate(names) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
            ]
        joint_names = list(joint_names)
        unknown = [n for n in joint_names if n not in names]
        if unknown:
            raise ConfigError(f"joint_names: unknown joints {unknown}")
        if len(set(joint_names)) != len(joint_names):
            raise ConfigError("joint_names: repeated names")
        movable = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
        bad = [n for n in joint_names if int(model.jnt_type[names.index(n)]) not in movable]
        if bad:
            raise ConfigError(f"joint_names: {bad} are not hinge or slide joints")
        return joint_names

    def _build_levels(self, nodes: list[_Node], body_node: list[int]) -> None:
        """Sort nodes by depth and record, per level, the parents' positions in the level before."""
        depth = [0] * len(nodes)
        for i, node in enumerate(nodes):  # parents come before children
            depth[i] = 1 if node.parent < 0 else depth[node.parent] + 1
        self._order = sorted(range(len(nodes)), key=lambda i: (depth[i], i))
        rank = {node: r for r, node in enumerate(self._order)}
        level_start: dict[int, int] = {}
        for r, i in enumerate(self._order):
            level_start.setdefault(depth[i], r)
        self._levels: list[tuple[int, int, Tensor | None]] = []
        for d, start in sorted(level_start.items()):
            end = level_start.get(d + 1, len(nodes))
            prev_start = level_start.get(d - 1, 0)
            parents = [
                0 if nodes[i].parent < 0 else rank[nodes[i].parent] - prev_start
                for i in self._order[start:end]
            ]
            prev_size = start - prev_start if d > 1 else 1
            # A level whose parents are the previous level in order needs no gather.
            same = prev_size == end - start and parents == list(range(end - start))
            self._levels.append((start, end, None if same else torch.tensor(parents)))
        self._body_rank = torch.tensor([rank[n] for n in body_node])

    @property
    def device(self) -> torch.device:
        """Device of the constants and outputs."""
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of inputs and outputs."""
        return self._dtype

    def to(
        self, device: str | torch.device | None = None, *, dtype: torch.dtype | None = None
    ) -> RobotKinematics:
        """Move the constants to ``device`` and/or cast them to ``dtype`` in place; return self."""
        device = self._device if device is None else torch.device(device)
        dtype = self._dtype if dtype is None else dtype
        if not dtype.is_floating_point:
            raise ConfigError(f"kinematics dtype: {dtype} is not a floating dtype")
        for key, value in self._tensors.items():
            value_dtype = dtype if value.is_floating_point() else value.dtype
            self._tensors[key] = value.to(device=device, dtype=value_dtype)
        self._levels = [(s, e, p if p is None else p.to(device)) for s, e, p in self._levels]
        self._body_rank = self._body_rank.to(device)
        self._device, self._dtype = device, dtype
        return self

    def body_indices(self, names: Sequence[str]) -> Tensor:
        """Indices into the body axis of :meth:`forward` outputs, in the order of ``names``.

        Raises:
            ConfigError: Some names are not bodies of the model.
        """
        lookup = {n: i for i, n in enumerate(self.body_names)}
        unknown = [n for n in names if n not in lookup]
        if unknown:
            raise ConfigError(f"body names: unknown bodies {unknown}")
        return torch.tensor([lookup[n] for n in names], dtype=torch.long, device=self._device)

    def forward(
        self, root_pos_w: Tensor, root_quat_w: Tensor, joint_pos: Tensor
    ) -> tuple[Tensor, Tensor]:
        """World poses of all bodies.

        Leading dimensions of the three inputs broadcast against each other.

        Args:
            root_pos_w: Root body position in world (m). Shape (..., 3).
            root_quat_w: Root body orientation in world, wxyz (normalized here). Shape (..., 4).
            joint_pos: Joint positions (rad or m) in :attr:`joint_names` order. Shape (..., J).

        Returns:
            ``body_pos_w`` of shape (..., B, 3) in m and ``body_quat_w`` of shape (..., B, 4),
            wxyz, unit norm, sign not canonicalized; bodies in :attr:`body_names` order.
        """
        self._check_inputs(root_pos_w, root_quat_w, joint_pos)
        lead = torch.broadcast_shapes(
            root_pos_w.shape[:-1], root_quat_w.shape[:-1], joint_pos.shape[:-1]
        )
        root_pos = root_pos_w.expand(*lead, 3).reshape(-1, 3)
        root_quat = quat_torch.normalize(root_quat_w.expand(*lead, 4).reshape(-1, 4))
        trig = self._joint_terms(joint_pos.expand(*lead, joint_pos.shape[-1]))
        # Node-major, frame-last layouts turn the constant products into GEMMs and keep the
        # broadcasts (and their backward reductions) contiguous: rotations (n, 3 columns,
        # 3 rows, M), positions (n, 3, M), quaternions (n, 4, M).
        rot = quat_torch.to_matrix(root_quat).permute(2, 1, 0).unsqueeze(0)
        pose: tuple[Tensor, ...] = (rot, root_pos.T.unsqueeze(0), root_quat.T.unsqueeze(0))
        pos_blocks, quat_blocks = [], []
        for start, end, parents in self._levels:
            if parents is not None:
                pose = tuple(x.index_select(0, parents) for x in pose)
            pose = self._level_step(pose, start, end, [t[start:end] for t in trig])
            pos_blocks.append(pose[1])
            quat_blocks.append(pose[2])
        body_pos = torch.cat(pos_blocks).index_select(0, self._body_rank).permute(2, 0, 1)
        body_quat = torch.cat(quat_blocks).index_select(0, self._body_rank).permute(2, 0, 1)
        nbody = len(self.body_names)
        return body_pos.reshape(*lead, nbody, 3), body_quat.reshape(*lead, nbody, 4)

    __call__ = forward

    def _check_inputs(self, *inputs: Tensor) -> None:
        if inputs[2].shape[-1] != len(self.joint_names):
            raise ConfigError(
                f"joint_pos: expected {len(self.joint_names)} columns, got {inputs[2].shape[-1]}"
            )
        for name, x in zip(("root_pos_w", "root_quat_w", "joint_pos"), inputs):
            same_device = x.device.type == self._device.type and (
                self._device.index is None or x.device.index == self._device.index
            )
            if x.dtype != self._dtype or not same_device:
                raise ConfigError(
                    f"{name}: {x.dtype} on {x.device}, kinematics expect {self._dtype} on"
                    f" {self._device} (use .to())"
                )

    def _joint_terms(self, joint_pos: Tensor) -> list[Tensor]:
        """Per node ``c, s, ch, sh, d`` (cos/sin of angle and half angle, slide), each (n, 1, M)."""
        t = self._tensors
        delta = (joint_pos.reshape(-1, joint_pos.shape[-1]) - t["qpos0"]).T
        padded = torch.cat((delta, delta.new_zeros(1, delta.shape[1])))
        half = 0.5 * padded.index_select(0, t["hinge_col"]).unsqueeze(1)
        slide = padded.index_select(0, t["slide_col"]).unsqueeze(1)
        ch, sh = torch.cos(half), torch.sin(half)
        return [1.0 - 2.0 * sh * sh, 2.0 * sh * ch, ch, sh, slide]

    def _level_step(
        self, parent: tuple[Tensor, ...], start: int, end: int, terms: list[Tensor]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Poses of the nodes ``start:end`` of one level from their parents' poses."""
        rot_p, pos_p, quat_p = parent
        c, s, ch, sh, d = terms
        count, _, _, frames = rot_p.shape
        # One GEMM gives [R | R_p p_local] from the stack (R_p, c R_p, s R_p[, d R_p]).
        blocks = [rot_p, c.unsqueeze(1) * rot_p, s.unsqueeze(1) * rot_p]
        if self._has_slide:
            blocks.append(d.unsqueeze(1) * rot_p)
        stacked = torch.cat(blocks, dim=1).view(count, 3 * len(blocks), 3 * frames)
        w = self._tensors["W"][start:end, :, : stacked.shape[1]]
        rot, offset = (w @ stacked).view(count, 4, 3, frames).split((3, 1), dim=1)
        pos = pos_p + offset.squeeze(1)
        quat = self._tensors["H"][start:end] @ torch.cat((ch * quat_p, sh * quat_p), dim=1)
        return rot, pos, quat
