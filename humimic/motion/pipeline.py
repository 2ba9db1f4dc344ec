"""One motion file in, one validated robot clip and its report out.

The stages run in order and each adds a section to the report: ``source``, ``normalize``,
``filter``, ``contact``, ``correct``, ``retarget``, ``feasibility``. The verdict is the
worst of the filter, the retarget quality and the feasibility checks, with reasons.
Robot clips from other tools skip the human stages and are only converted and assessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import mujoco
import numpy as np

from humimic.config.retarget import RetargetCfg
from humimic.errors import InputFileError
from humimic.files import file_sha256
from humimic.motion.clip import RobotClip, save_clip
from humimic.motion.human import HumanMotion
from humimic.motion.report import ClipReport, clip_report, worst
from humimic.robot.spec import RobotSpec


@dataclass
class InputOptions:
    """Per-input options from the command line (not part of the typed config)."""

    asf: Path | None = None
    skeleton_map: Path | None = None
    body_models: Path | None = None
    trust_pickle: bool = False
    extra_formats: list[str] = field(default_factory=list)
    """Also write each clip as ``beyondmimic`` (``<clip>.beyondmimic.npz``) and/or
    ``unitree_csv`` (``<clip>.unitree.csv``)."""


@dataclass
class Outcome:
    """What happened to one input, as the batch summary lists it."""

    source: str
    output: str
    verdict: str
    reasons: list[str] = field(default_factory=list)
    frames_in: int = 0
    frames_out: int = 0
    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)


class ClipMaker:
    """Everything expensive to set up for one robot variant, reused across files."""

    def __init__(self, cfg: RetargetCfg) -> None:
        from humimic.motion.retarget.retarget import Retargeter
        from humimic.robot.model import build_model
        from humimic.robot.spec import load_robot_spec

        self.cfg = cfg
        self.spec: RobotSpec = load_robot_spec(cfg.robot)
        self.model: mujoco.MjModel = build_model(self.spec)
        self.retargeter = Retargeter(self.spec, self.model, cfg.solver)
        self.settings = _settings(cfg)

    def run(self, source: Path, output: Path, options: InputOptions) -> Outcome:
        """Process ``source`` into the clip ``output`` (and ``<output>.report.json``)."""
        from humimic.motion.io.detect import ROBOT_FORMATS, detect_format

        start = time.perf_counter()
        fmt = detect_format(source, trust_pickle=options.trust_pickle)
        if fmt in ROBOT_FORMATS:
            clip, report, frames_in = self._convert_robot_clip(source, fmt, options)
        else:
            clip, report, frames_in = self._retarget_human(source, options)
        report["timing_s"] = round(time.perf_counter() - start, 4)
        typed = ClipReport.from_json(report, f"{output} report")  # the contract, checked
        clip.report = typed.to_json()
        save_clip(clip, output)
        write_extra_formats(clip, output, options.extra_formats)
        return Outcome(
            source=str(source),
            output=str(output),
            verdict=typed.verdict,
            reasons=list(typed.reasons),
            frames_in=frames_in,
            frames_out=clip.num_frames,
            seconds=report["timing_s"],
            figures=_figures(typed),
        )

    def _retarget_human(self, source: Path, options: InputOptions) -> tuple[RobotClip, dict, int]:
        """Human motion: read, normalise, filter, contacts, correct, retarget, assess."""
        from humimic.motion.contact import contact_summary, foot_contact_mask
        from humimic.motion.correct import blend_frame_count, blend_with_pose, correct
        from humimic.motion.io.detect import read_human_motion
        from humimic.motion.normalize import normalize
        from humimic.motion.physics_filter import stability
        from humimic.motion.robot_clip import make_robot_clip

        cfg = self.cfg
        motion = read_human_motion(
            source,
            asf=options.asf,
            skeleton_map=options.skeleton_map,
            body_models=options.body_models,
            units=cfg.units,
        )
        frames_in = motion.num_frames
        report: dict[str, Any] = {"source": _source_entry(source, motion)}
        motion, report["normalize"] = normalize(motion, cfg.normalize)
        filter_result = stability(motion, cfg.filter)
        report["filter"] = {
            **filter_result.summary(),
            "distance_m": _rounded(filter_result.distance_m),
        }
        contact = foot_contact_mask(motion, cfg.contact)
        motion, report["correct"] = correct(motion, contact, cfg.correct)
        report["contact"] = contact_summary(contact, motion.fps)
        result = self.retargeter(motion, contact)
        report["retarget"] = result.info
        root_pos, root_quat, joint_pos = result.root_pos_w, result.root_quat_w, result.joint_pos
        human: HumanMotion | None = motion
        if cfg.correct.blend_in_s > 0 or cfg.correct.blend_out_s > 0:
            root_pos, root_quat, joint_pos = blend_with_pose(
                root_pos, root_quat, joint_pos,
                np.array([0.0, 0.0, self.spec.default_root_height]),
                np.array([1.0, 0.0, 0.0, 0.0]),
                np.asarray(self.spec.default_joint_pos, np.float64),
                motion.fps, cfg.correct.blend_in_s, cfg.correct.blend_out_s,
            )  # fmt: skip
            pad_in = blend_frame_count(cfg.correct.blend_in_s, motion.fps)
            pad_out = blend_frame_count(cfg.correct.blend_out_s, motion.fps)
            contact = np.concatenate(
                [np.ones((pad_in, 2), bool), contact, np.ones((pad_out, 2), bool)]
            )
            human = None  # the blend frames have no human counterpart
        clip = make_robot_clip(
            self.spec, self.model, root_pos, root_quat, joint_pos, motion.fps,
            contact_mask=contact.astype(np.float64), source_file=source,
            settings=self.settings, human=human,
        )  # fmt: skip
        report["source"]["sha256"] = clip.source_sha256  # hashed once, by make_robot_clip
        self.assess(clip, report, filter_verdict=filter_result)
        return clip, report, frames_in

    def _convert_robot_clip(
        self, source: Path, fmt: str, options: InputOptions
    ) -> tuple[RobotClip, dict, int]:
        """Robot clips from other tools: convert by joint name, then assess."""
        from humimic.motion.clip import load_clip
        from humimic.motion.io import robot_formats

        variant = self.spec.variant
        if fmt == "humimic_clip":
            clip = load_clip(source)
            if clip.variant != variant:
                raise InputFileError(source, f"clip is for {clip.variant}, not {variant}")
        elif fmt == "lafan_csv":
            clip = robot_formats.read_lafan_csv(source, variant)
        elif fmt == "beyondmimic":
            clip = robot_formats.read_beyondmimic_npz(source, variant)
        else:
            clip = robot_formats.read_pbhc_pkl(source, variant, trust_pickle=options.trust_pickle)
        own = fmt == "humimic_clip"
        if own:  # the stages that made the motion keep their settings; only the checks rerun
            clip.settings = {**clip.settings, "feasibility": self.settings["feasibility"]}
        else:
            clip.settings = {**clip.settings, **self.settings}
        report: dict[str, Any] = {
            "source": {
                "file": str(source),
                "format": fmt,
                "sha256": file_sha256(source),
                "notes": _import_notes(clip.settings),
            }
        }
        earlier, unreadable = _stored_report(clip, source) if own else (None, None)
        if unreadable:
            report["source"]["notes"].append(unreadable)
        stored_filter = None
        if earlier is not None:
            report = _carried_over(earlier, report["source"])
            stored_filter = _StoredFilter.of(earlier)
        self.assess(clip, report, filter_verdict=stored_filter)
        return clip, report, clip.num_frames

    def assess(self, clip: RobotClip, report: dict[str, Any], filter_verdict: Any = None) -> None:
        """Add the feasibility checks and the overall verdict with reasons to ``report``."""
        from humimic.motion.feasibility import assess_clip

        feasibility = assess_clip(clip, self.spec, self.model, self.cfg.feasibility)
        report["feasibility"] = feasibility.to_json()
        verdict, reasons = feasibility.verdict, list(feasibility.reasons)
        severity = getattr(filter_verdict, "severity", "pass")
        if filter_verdict is not None and severity != "pass":
            verdict = worst(verdict, severity)
            reasons.insert(0, f"physics filter: {filter_verdict.reason}")
        height = report.get("source", {}).get("meta", {}).get("height_m")
        if isinstance(height, float) and not _plausible_height(height):
            from humimic.motion.io.skeleton import PLAUSIBLE_HEIGHT_M

            verdict = worst(verdict, "warn")
            low, high = PLAUSIBLE_HEIGHT_M
            reasons.append(
                f"source: the skeleton is {height:.2f} m from ankle to head, outside "
                f"{low}-{high} m for a person: check its unit (units=..., --units)"
            )
        error = report.get("retarget", {}).get("key_point_error_mean_m")
        if error is not None and error > self.cfg.batch.max_key_point_error_m:
            verdict = worst(verdict, "warn")
            reasons.append(
                f"retarget: mean key-point error {error * 100:.1f} cm "
                f"> {self.cfg.batch.max_key_point_error_m * 100:.1f} cm"
            )
        report["verdict"] = verdict
        report["reasons"] = reasons


def _plausible_height(height_m: float) -> bool:
    from humimic.motion.io.skeleton import PLAUSIBLE_HEIGHT_M

    return PLAUSIBLE_HEIGHT_M[0] <= height_m <= PLAUSIBLE_HEIGHT_M[1]


_CARRIED_SECTIONS = ("normalize", "filter", "correct", "contact", "retarget")
"""What a humimic clip's own report keeps when the clip is given back as input: the stages
that made its motion, which re-assessment leaves unchanged."""


def _stored_report(clip: RobotClip, source: Path) -> tuple[ClipReport | None, str | None]:
    """A humimic clip's own report (None: it has none), or why it could not be read: a
    damaged report does not stop the re-assessment that replaces it."""
    try:
        return clip_report(clip, str(source)), None
    except InputFileError as err:
        return None, f"the clip's stored report could not be read ({err}); assessed afresh"


def _carried_over(earlier: ClipReport, given: dict[str, Any]) -> dict[str, Any]:
    """The report of a humimic clip given back as input, before its checks run again.

    The motion is not retargeted again, so its provenance (the recording it came from) and
    the stage sections that made it stay; a note names the file that was re-assessed.
    Feasibility, verdict and reasons are left to :meth:`ClipMaker.assess`.

    Args:
        earlier: The report stored in the clip.
        given: The ``source`` entry of the clip file itself (file, format, sha256, notes).
    """
    stored = earlier.to_json()
    note = (
        f"re-assessed from {given['file']} (humimic clip, sha256 {given['sha256'][:12]}): "
        "motion unchanged, feasibility and verdict from this version's checks"
    )
    source = stored.get("source")
    if isinstance(source, dict):
        source = {**source, "notes": [*source.get("notes", []), note]}
    else:  # a bare label such as "synthetic": the clip file is the source
        label = [f"the clip's earlier report names its source {source!r}"] if source else []
        source = {**given, "notes": [*given["notes"], *label, note]}
    report = {"source": source}
    report.update({key: stored[key] for key in _CARRIED_SECTIONS if key in stored})
    return report


class _StoredFilter(NamedTuple):
    """The physics filter's verdict as a clip's report recorded it (what :meth:`ClipMaker.
    assess` folds into the verdict); reports from before ``severity`` was written grade a
    passed filter "pass" and a failed one "fail"."""

    severity: str
    reason: str

    @classmethod
    def of(cls, report: ClipReport) -> _StoredFilter | None:
        if report.filter is None:
            return None
        passed = "pass" if report.filter.passed else "fail"
        return cls(str(report.filter.figures.get("severity") or passed), report.filter.reason)


def _import_notes(settings: dict[str, Any]) -> list[str]:
    """What the importer changed to bring another tool's clip to humimic's conventions."""
    notes = []
    shift = settings.get("grounded_by_m")
    if shift is not None:
        way = "lowered" if shift < 0 else "raised"
        notes.append(
            f"grounded: {way} by {abs(shift) * 100:.1f} cm (the soles "
            f"{'floated above' if shift < 0 else 'sank below'} the ground)"
        )
    frames = settings.get("contact_recomputed_frames")
    if frames:
        notes.append(
            f"contact: {frames} frames padded with 0.5 (unknown), recomputed from the feet"
        )
    if settings.get("dropped_joints"):
        notes.append(f"dropped joints the robot lacks: {', '.join(settings['dropped_joints'])}")
    return notes


EXTRA_FORMATS = {"beyondmimic": ".beyondmimic.npz", "unitree_csv": ".unitree.csv"}


def write_extra_formats(clip: RobotClip, output: Path, formats: list[str]) -> list[Path]:
    """Write ``clip`` in other tools' formats beside ``output``."""
    from humimic.motion.io.robot_writers import write_beyondmimic_npz, write_unitree_csv

    writers = {"beyondmimic": write_beyondmimic_npz, "unitree_csv": write_unitree_csv}
    return [
        writers[name](clip, output.with_name(output.stem + EXTRA_FORMATS[name])) for name in formats
    ]


def _source_entry(source: Path, motion: HumanMotion) -> dict[str, Any]:
    """Report entry describing the input file."""
    return {
        "file": str(source),
        "format": motion.source_format,
        "sha256": "",  # filled in from the clip (one hash per input)
        "frames": motion.num_frames,
        "fps": motion.fps,
        "joints": len(motion.joint_names),
        "canonical_map": motion.canonical,
        "meta": {k: v for k, v in motion.meta.items() if isinstance(v, str | int | float | bool)},
    }


def _settings(cfg: RetargetCfg) -> dict[str, Any]:
    """The resolved config as a plain dict, stored in every clip."""
    from humimic.config.store import to_dict

    return to_dict(cfg)


def _rounded(values: np.ndarray, digits: int = 4) -> list[float]:
    """A short JSON list of floats."""
    return [round(float(v), digits) for v in np.asarray(values).ravel()]


def _figures(report: ClipReport) -> dict[str, float]:
    """Headline numbers for the batch summary table."""
    out: dict[str, float] = {}
    if report.retarget is not None:
        out["key_point_error_m"] = round(report.retarget.key_point_error_mean_m, 4)
    for check, key in (
        ("foot_skating", "mean_mps"),
        ("foot_skating", "max_mps"),
        ("ground_penetration", "max_depth_m"),
        ("joint_speed", "worst_fraction"),
        ("joint_speed", "frame_to_frame_max_rad_s"),
        ("root_speed", "max_mps"),
        ("torque", "worst_fraction"),
    ):
        result = report.check(check)
        value = result.figures.get(key) if result is not None else None
        if isinstance(value, int | float):
            out[f"{check}_{key}"] = round(float(value), 4)
    unstable = report.filter.figures.get("longest_unstable_s") if report.filter else None
    if isinstance(unstable, int | float):
        out["longest_unstable_s"] = float(unstable)
    return out
