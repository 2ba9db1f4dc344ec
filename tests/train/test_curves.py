"""Training curves read back from a real TensorBoard event file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from humimic.errors import HumimicError
from humimic.train.curves import first_and_last, plot_training_curves, read_scalars, smooth


def write_log(run: Path, tag: str, values: list[float]) -> None:
    writer = SummaryWriter(str(run))
    for step, value in enumerate(values):
        writer.add_scalar(tag, value, step)
    writer.close()


def test_first_and_last_skip_the_first_iterations(tmp_path: Path) -> None:
    # 20 points; window = 2 (10 %), skip = 1: first = mean(v[1:3]), last = mean(v[18:20]).
    values = [100.0] + [float(i) for i in range(1, 20)]
    write_log(tmp_path, "/Progress/reward_per_step", values)
    first, last = first_and_last(tmp_path, "/Progress/reward_per_step")
    assert first == pytest.approx(1.5)
    assert last == pytest.approx(18.5)
    steps, read = read_scalars(tmp_path)["/Progress/reward_per_step"]
    np.testing.assert_allclose(read, values, rtol=1e-6)
    np.testing.assert_array_equal(steps, np.arange(20))


def test_smooth_is_a_trailing_mean() -> None:
    np.testing.assert_allclose(smooth(np.array([2.0, 4.0, 6.0, 8.0]), 2), [2.0, 3.0, 5.0, 7.0])


def test_plot_needs_a_known_series(tmp_path: Path) -> None:
    write_log(tmp_path, "Other/tag", [1.0, 2.0])
    with pytest.raises(HumimicError, match="none of"):
        plot_training_curves(tmp_path)
    write_log(tmp_path, "Train/mean_episode_length", [10.0, 20.0, 30.0])
    out = plot_training_curves(tmp_path, tmp_path / "c.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
