"""Checks of the world ids and reset tensors the MuJoCo Warp backend is given.

Both convert to tensors on the backend's device; host (CPU) inputs are checked fully,
device inputs only by shape (reading them back would wait for the GPU).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from humimic.errors import ConfigError
from humimic.sim.backend import RESET_NAMES


def device_world_ids(
    world_ids: Tensor | np.ndarray, num_worlds: int, device: torch.device
) -> Tensor:
    """Ids as a long tensor (M,) on ``device``; host ids are range-checked (device ids come
    from the env and are not read back to check them).

    Raises:
        ConfigError: Not 1-D, or a host id outside ``[0, num_worlds)``.
    """
    raw = torch.as_tensor(world_ids)
    ids = raw.to(device).long().flatten()
    if raw.ndim != 1 or (
        raw.device.type == "cpu"
        and ids.numel()
        and (int(raw.min()) < 0 or int(raw.max()) >= num_worlds)
    ):
        raise ConfigError(f"sim: world_ids must be a 1-D array of ids in [0, {num_worlds})")
    return ids


def reset_tensors(
    m: int, joints: int, values: tuple[Tensor, ...], device: torch.device
) -> list[Tensor]:
    """The six reset tensors of :data:`RESET_NAMES` as float32 on ``device``, shapes
    (m, 3), (m, 4), (m, 3), (m, 3), (m, joints), (m, joints).

    Raises:
        ConfigError: A tensor has another shape (named).
    """
    shapes = ((m, 3), (m, 4), (m, 3), (m, 3), (m, joints), (m, joints))
    tensors = [torch.as_tensor(v).to(device, torch.float32) for v in values]
    for name, shape, tensor in zip(RESET_NAMES, shapes, tensors):
        if tuple(tensor.shape) != shape:
            raise ConfigError(
                f"sim reset: {name} must have shape {shape}, got {tuple(tensor.shape)}"
            )
    return tensors
