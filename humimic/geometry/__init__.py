"""Rotation math shared by every stage.

Quaternions are ``(w, x, y, z)`` everywhere (scalar first). ``quat_np`` is float64 numpy
for the motion front end and deploy; ``quat_torch`` is the batched torch twin used by
kinematics, rewards and metrics. Converters to other conventions live at file edges only.
"""
