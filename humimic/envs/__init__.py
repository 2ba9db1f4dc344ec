"""Motion-tracking environments: reference clips, terms, managers and the env itself."""
