"""Robot description: variant spec files (``robots/<robot>/<variant>.yaml``) and MuJoCo scenes.

``spec`` reads and validates a variant's YAML into a :class:`~humimic.robot.spec.RobotSpec`;
``model`` turns a spec plus the robot's MJCF into a ready-to-simulate MuJoCo scene;
``lookup`` finds the spec's joints and feet in a compiled model.
"""
