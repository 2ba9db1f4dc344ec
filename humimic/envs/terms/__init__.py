"""Observation, reward and termination terms, registered by name (see envs.registry)."""
