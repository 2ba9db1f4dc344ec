"""Command-line entry points: thin wrappers that parse, validate and call library code."""
