"""Readers and writers at the file edge: the only place with Y-up, unit and xyzw conversions."""
