"""The main job on built-in defaults: what ``humimic demo`` runs on a fresh machine.

Each stage writes into one output folder and prints what it made:
1. robot check: every G1 variant compiles, matches its spec and stands on PD alone;
2. a shipped reference clip is re-assessed (feasibility report, plots, side-by-side video).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from humimic.files import atomic_write
from humimic.paths import MOTIONS_DIR

DEFAULT_CLIP = MOTIONS_DIR / "cmu_02_01_walk.npz"


@dataclass
class DemoResult:
    """Paths and figures of a demo run."""

    out_dir: Path
    artifacts: list[Path] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)


def robot_check(variants: list[str], seconds: float = 5.0) -> dict[str, dict[str, float]]:
    """Compile each variant, check it against its spec and let it stand on PD alone.

    Returns:
        Per variant: total mass (kg), pelvis height after 1 s and at the end (m).
    """
    import mujoco

    from humimic.robot.model import (
        build_model,
        check_model_matches_spec,
        default_qpos,
        set_actuator_gains,
    )
    from humimic.robot.spec import load_robot_spec

    out: dict[str, dict[str, float]] = {}
    for variant in variants:
        spec = load_robot_spec(variant)
        model = build_model(spec)
        check_model_matches_spec(model, spec)
        set_actuator_gains(
            model, spec, spec.kp * spec.standing_gains_scale, spec.kd * spec.standing_gains_scale
        )
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(model, spec)
        data.ctrl[:] = spec.default_joint_pos
        steps = round(1.0 / model.opt.timestep)
        mujoco.mj_step(model, data, nstep=steps)
        settled = float(data.qpos[2])
        mujoco.mj_step(model, data, nstep=round((seconds - 1.0) / model.opt.timestep))
        out[variant] = {
            "mass_kg": round(float(np.sum(model.body_mass)), 3),
            "pelvis_height_1s_m": round(settled, 4),
            "pelvis_height_end_m": round(float(data.qpos[2]), 4),
            "stands": bool(abs(float(data.qpos[2]) - settled) < 0.05),
        }
    return out


def run_demo(out_dir: Path, clip_path: Path = DEFAULT_CLIP, video: bool = True) -> DemoResult:
    """Run every stage that exists on built-in defaults; returns what was written."""
    from humimic.config.store import compose
    from humimic.motion.clip import load_clip
    from humimic.motion.pipeline import ClipMaker, InputOptions
    from humimic.motion.report_plots import plot_clip_report
    from humimic.robot.spec import available_variants

    result = DemoResult(out_dir)
    print("[1/2] robot check: compile, match spec, stand 5 s on PD", flush=True)
    checks = robot_check(available_variants())
    for variant, figures in checks.items():
        print(f"      {variant}: {figures}")
    result.figures["robot"] = checks
    if video:
        from humimic.viz.robot_view import show_robot

        result.artifacts.append(
            show_robot("g1_23dof_lock_wrist", out_dir / "robot.mp4", 4.0, 640, 480)
        )

    print(f"[2/2] reference clip: re-assess {clip_path.name}", flush=True)
    clip_in = load_clip(clip_path)
    maker = ClipMaker(compose("retarget", [f"robot={clip_in.variant}"]))
    clip_out = out_dir / clip_path.name
    outcome = maker.run(clip_path, clip_out, InputOptions())
    clip = load_clip(clip_out)
    result.artifacts += [clip_out, *plot_clip_report(clip, clip.report, out_dir, clip_out.stem)]
    print(f"      verdict {outcome.verdict}: " + ("; ".join(outcome.reasons) or "no issues"))
    result.figures["clip"] = {"verdict": outcome.verdict, **outcome.figures}
    if video:
        from humimic.viz.robot_view import show_clip

        result.artifacts.append(
            show_clip(clip_path, out_dir / f"{clip_out.stem}.mp4", None, 640, 480)
        )
    summary = out_dir / "demo.json"
    text = json.dumps(result.figures, indent=2) + "\n"
    result.artifacts.append(atomic_write(summary, lambda tmp: tmp.write_text(text)))
    return result
