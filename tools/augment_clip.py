"""New training clips from a robot clip: its left-right mirror image and/or another speed.

    python tools/augment_clip.py motions/cmu_07_05_walk.npz --mirror -o walk_mirror.npz
    python tools/augment_clip.py motions/cmu_07_05_walk.npz --speed 1.25 -o walk_fast.npz
    python tools/augment_clip.py motions/cmu_07_05_walk.npz --speed 0.8 --mirror -o walk_slow_m.npz

The speed change comes first, then the mirror. Body poses, velocities and the report are
rebuilt: the new clip is assessed for feasibility as ``humimic retarget`` assesses a robot
clip (a faster clip can need more torque than the robot has), and the report's source notes
say how it was made. Used to widen a multi-clip prior (``tools/make_prior.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Write the augmented clip and its report; exit code 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", type=Path, help="a humimic robot clip (.npz)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output clip (.npz)")
    parser.add_argument("--mirror", action="store_true", help="mirror left and right")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="playback speed, > 0 (1.25 = 25%% faster; default 1)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.mirror and args.speed == 1.0:
        print("augment_clip: error: nothing to do: give --mirror and/or --speed", file=sys.stderr)
        return 2
    if args.out.suffix != ".npz":
        print(f"augment_clip: error: --out {args.out}: must end in .npz", file=sys.stderr)
        return 2
    from humimic.errors import HumimicError
    from humimic.motion.augment import check_speed

    try:
        check_speed(args.speed)  # before the clip and the model are loaded
        verdict = augment(args.clip, args.out, mirror=args.mirror, speed=args.speed)
    except HumimicError as err:
        print(f"augment_clip: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} (verdict: {verdict})")
    return 0


def augment(source: Path, out: Path, *, mirror: bool, speed: float) -> str:
    """Augment ``source`` into ``out`` (and its report); returns the new clip's verdict."""
    from humimic.config.retarget import RetargetCfg
    from humimic.files import file_sha256
    from humimic.motion.augment import mirror_clip, retime_clip
    from humimic.motion.clip import load_clip, save_clip
    from humimic.motion.pipeline import ClipMaker
    from humimic.motion.report import ClipReport

    clip = load_clip(source)
    maker = ClipMaker(RetargetCfg(robot=clip.variant))
    notes = []
    if speed != 1.0:
        clip = retime_clip(clip, maker.spec, maker.model, speed)
        notes.append(f"augmented: played {speed:g}x as fast")
    if mirror:
        clip = mirror_clip(clip, maker.spec, maker.model)
        notes.append("augmented: mirrored left-right (y -> -y)")
    entry = {"file": str(source), "format": "humimic_clip", "sha256": file_sha256(source)}
    report: dict[str, Any] = {"source": {**entry, "notes": notes}}
    maker.assess(clip, report)
    clip.report = ClipReport.from_json(report, f"{out} report").to_json()
    save_clip(clip, out)
    return str(report["verdict"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
