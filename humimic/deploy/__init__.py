"""Deployment to the Unitree G1: DDS messages, simulated robot, safety runtime.

Nothing under ``humimic.deploy`` may import torch: the deploy stage runs on the robot's
onboard computer with numpy, cyclonedds, mujoco and onnxruntime only.
"""
