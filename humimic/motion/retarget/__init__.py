"""Retargeting: fit the human's proportions to the robot, then solve the whole sequence."""
