"""Map a source skeleton's joint names onto humimic's canonical joints.

Names are first normalised (namespace and rig prefixes dropped, the side read from
``left``/``right``/``l``/``r`` tokens, the rest lower-cased and joined), then looked up in
small per-family alias tables. The family that explains the most required joints wins, so a
name such as ``LeftShoulder`` (a clavicle in CMU/Mixamo) and ``left_shoulder`` (the upper-arm
ball joint in SMPL) each land on the right canonical joint.

Where each family's joints sit (checked against real data in the tests): CMU/LAFAN/Mixamo
BVH ``LeftArm`` is at the shoulder, ``LeftForeArm`` the elbow, ``LeftUpLeg`` the hip ball
joint, ``LeftLeg`` the knee, ``LeftFoot`` the ankle. humimic's ASF reader puts each bone's
joint at its proximal end, so ``lhumerus`` is the shoulder and ``lfemur`` the hip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from humimic.errors import HumimicError, InputFileError
from humimic.motion.human import CANONICAL_JOINTS, REQUIRED_JOINTS


@dataclass(frozen=True)
class _Family:
    """Alias table of one naming family: canonical part -> normalised bases, best first."""

    name: str
    centre: Mapping[str, tuple[str, ...]]
    sided: Mapping[str, tuple[str, ...]]


_FAMILIES: tuple[_Family, ...] = (
    _Family(  # CMU BVH, LAFAN1/Ubisoft, Mixamo, Biped-like "LeftUpLeg" names
        "bvh",
        centre={
            "pelvis": ("hips", "pelvis"),
            "spine": ("spine",),
            "chest": ("spine2", "spine1", "chest"),
            "neck": ("neck",),
            "head": ("head",),
        },
        sided={
            "shoulder": ("arm",),
            "elbow": ("forearm",),
            "wrist": ("hand",),
            "hip": ("upleg",),
            "knee": ("leg",),
            "ankle": ("foot",),
            "toe": ("toebase", "toe", "toes"),
        },
    ),
    _Family(  # Acclaim ASF (CMU), bones named after anatomy
        "asf",
        centre={
            "pelvis": ("root", "hips", "pelvis"),
            "spine": ("upperback", "lowerback"),
            "chest": ("thorax",),
            "neck": ("lowerneck", "neck"),
            "head": ("head",),
        },
        sided={
            "shoulder": ("humerus",),
            "elbow": ("radius",),
            "wrist": ("wrist",),
            "hip": ("femur",),
            "knee": ("tibia",),
            "ankle": ("foot",),
            "toe": ("toes",),
        },
    ),
    _Family(  # SMPL / SMPL-X / PHC: "left_shoulder" is already the upper-arm joint
        "smpl",
        centre={
            "pelvis": ("pelvis",),
            "spine": ("spine1", "torso"),
            "chest": ("spine3", "chest", "spine2"),
            "neck": ("neck",),
            "head": ("head",),
        },
        sided={
            "shoulder": ("shoulder",),
            "elbow": ("elbow",),
            "wrist": ("wrist",),
            "hip": ("hip",),
            "knee": ("knee",),
            "ankle": ("ankle",),
            "toe": ("foot", "toe"),
        },
    ),
    _Family(  # game and DCC rigs: Unreal, Unity humanoid, Blender, 3ds Max Biped
        "game",
        centre={
            "pelvis": ("pelvis", "hips", "hip"),
            "spine": ("spine01", "spine", "spine1", "lowerspine"),
            "chest": ("upperchest", "chest", "spine03", "spine02", "spine2", "upperspine"),
            "neck": ("neck01", "neck"),
            "head": ("head",),
        },
        sided={
            "shoulder": ("upperarm", "uparm"),
            "elbow": ("lowerarm", "forearm", "elbow"),
            "wrist": ("hand", "wrist"),
            "hip": ("thigh", "upperleg", "upleg"),
            "knee": ("calf", "shin", "lowerleg", "knee"),
            "ankle": ("foot", "ankle"),
            "toe": ("ball", "toe", "toes", "toe0", "toebase"),
        },
    ),
)

# Bases that are never a body part name of their own, but appear glued to one.
_RIG_PREFIXES: tuple[str, ...] = ("mixamorig", "bip001", "bip01", "bip", "def", "jnt", "bn")
# Extra known bases (clavicles, hands) so that "lclavicle", "rthumb" also lose their side letter.
_OTHER_BASES: frozenset[str] = frozenset(
    {"hipjoint", "clavicle", "collar", "thumb", "fingers", "handindex1", "fingerbase", "hand"}
)
_KNOWN_BASES: frozenset[str] = _OTHER_BASES.union(
    *(set(a) for f in _FAMILIES for table in (f.centre, f.sided) for a in table.values())
)
_STRIPPABLE: frozenset[str] = _KNOWN_BASES.union(
    s + b for s in ("left", "right", "l", "r") for b in _KNOWN_BASES
)
_SIDE_TOKENS = {"l": "left", "left": "left", "r": "right", "right": "right"}
_TOKEN_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def normalize_joint_name(name: str) -> tuple[str | None, str]:
    """Split a joint name into ``(side, base)``.

    Args:
        name: Source joint name, e.g. ``"mixamorig:LeftForeArm"``, ``"upperarm_l"``,
            ``"Thigh.R"``, ``"lfemur"``, ``"L_Hip"``.

    Returns:
        ``side`` is ``"left"``, ``"right"`` or ``None``; ``base`` is the lower-case name
        without side, separators and rig prefixes (``"forearm"``, ``"upperarm"``, ...).
    """
    tail = re.split(r"[:|/]", name)[-1]
    tokens = [t.lower() for t in _TOKEN_RE.findall(tail)]
    side = None
    rest: list[str] = []
    for tok in tokens:
        if side is None and tok in _SIDE_TOKENS:
            side = _SIDE_TOKENS[tok]
        else:
            rest.append(tok)
    base = _strip_rig_prefix("".join(rest))
    if side is None and base not in _KNOWN_BASES:
        side, base = _glued_side(base)
    return side, base


def _strip_rig_prefix(base: str) -> str:
    for prefix in _RIG_PREFIXES:
        if base.startswith(prefix) and base[len(prefix) :] in _STRIPPABLE:
            return base[len(prefix) :]
    return base


def _glued_side(base: str) -> tuple[str | None, str]:
    """Side written without a separator, e.g. ``lfemur`` or ``leftupleg``."""
    for glued, side in (("left", "left"), ("right", "right"), ("l", "left"), ("r", "right")):
        if base.startswith(glued) and base[len(glued) :] in _KNOWN_BASES:
            return side, base[len(glued) :]
    return None, base


def _family_map(family: _Family, index: Mapping[tuple[str | None, str], str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part, aliases in family.centre.items():
        hit = next((index[(None, a)] for a in aliases if (None, a) in index), None)
        if hit is not None:
            found[part] = hit
    for part, aliases in family.sided.items():
        for side in ("left", "right"):
            hit = next((index[(side, a)] for a in aliases if (side, a) in index), None)
            if hit is not None:
                found[f"{side}_{part}"] = hit
    return found


def detect_canonical_map(joint_names: Sequence[str]) -> dict[str, str]:
    """Canonical joint -> source joint name, from the naming family that fits best.

    Args:
        joint_names: ``K`` source joint names.

    Returns:
        Map for every canonical joint that could be recognised (possibly incomplete; use
        :func:`resolve_canonical_map` to require the joints retargeting needs).
    """
    index: dict[tuple[str | None, str], str] = {}
    for name in joint_names:
        index.setdefault(normalize_joint_name(name), name)
    best: dict[str, str] = {}
    best_score = (-1, -1)
    for family in _FAMILIES:
        found = _family_map(family, index)
        if len(set(found.values())) != len(found):  # one source joint used twice: not this family
            continue
        score = (sum(j in found for j in REQUIRED_JOINTS), len(found))
        if score > best_score:
            best, best_score = found, score
    return {j: best[j] for j in CANONICAL_JOINTS if j in best}


def load_skeleton_map(path: str | Path) -> dict[str, str]:
    """Read a user skeleton map YAML (``canonical_name: source_joint_name`` per line).

    Raises:
        InputFileError: File missing, not YAML, not a flat string map, or an unknown
            canonical name.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(path, "skeleton map file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(path, f"cannot read skeleton map YAML ({first})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InputFileError(path, "skeleton map must be a mapping 'canonical_name: joint_name'")
    unknown = sorted(set(data) - set(CANONICAL_JOINTS))
    if unknown:
        raise InputFileError(
            path, f"unknown canonical joints {unknown}; allowed: {', '.join(CANONICAL_JOINTS)}"
        )
    return dict(data)


def resolve_canonical_map(
    joint_names: Sequence[str],
    user_map: Mapping[str, str] | None = None,
    source: str | Path | None = None,
) -> dict[str, str]:
    """Detected map overridden by the user's entries; every required joint must be present.

    Args:
        joint_names: ``K`` source joint names.
        user_map: ``canonical_name -> source_joint_name`` entries that win over detection.
        source: File the skeleton came from, named in error messages.

    Raises:
        HumimicError: (an :class:`InputFileError` when ``source`` is given) when a user entry
            names a joint not in the skeleton or required joints stay unmapped. The first
            line of the message is the summary; a YAML example follows.
    """
    mapping = detect_canonical_map(joint_names)
    user_map = dict(user_map or {})
    absent = sorted(v for v in user_map.values() if v not in joint_names)
    if absent:
        _raise(source, f"skeleton map names joints not in the skeleton: {absent}")
    mapping.update(user_map)
    missing = [j for j in REQUIRED_JOINTS if j not in mapping]
    if missing:
        example = "\n".join(f"  {j}: <joint name in the file>" for j in missing[:4])
        shown = ", ".join(list(joint_names)[:40]) + (" ..." if len(joint_names) > 40 else "")
        _raise(
            source,
            f"unknown skeleton: cannot find required joints {missing}; pass --skeleton-map "
            f"with a YAML file mapping them\nexample skeleton map YAML:\n{example}\n"
            f"joints in the file: {shown}",
        )
    return {j: mapping[j] for j in CANONICAL_JOINTS if j in mapping}


def _raise(source: str | Path | None, problem: str) -> None:
    if source is not None:
        raise InputFileError(source, problem)
    raise HumimicError(problem)
