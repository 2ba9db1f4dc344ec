"""Moved to :mod:`humimic.testing.synthetic_clips` (a test and benchmark helper, not part
of the environment); this name stays until every caller imports from there."""

from humimic.testing.synthetic_clips import arm_wave_clip, clip_from_joint_trajectory

__all__ = ["arm_wave_clip", "clip_from_joint_trajectory"]
