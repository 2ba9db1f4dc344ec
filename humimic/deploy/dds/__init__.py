"""Unitree G1 "hg" DDS layer: IDL message types, CRC, motor slot maps and channel helpers."""
