"""Stage 1, the motion front end: human motion files to validated G1 reference clips.

numpy only (float64); torch enters only in the retarget solver through robot kinematics.
"""
