"""The tracking-metrics contract: what :func:`~humimic.eval.metrics.compute_metrics` returns
and what ``humimic eval`` writes as ``metrics.json``, read and written here only.

Layout of ``metrics.json`` (version 3)::

    {"schema_version": 3,
     "E_g_mpbpe": {"mean", "std"}, ... every key of UNITS ...,
     "per_joint": {name: 1e-3 rad}, "units": {key: unit}, "num_episodes": E,
     "per_episode": {"success", "E_mpbpe", "E_g_mpbpe", "length_ratio",
                     "upright"},                                          # E values each
     "per_frame": {"time_s", "body_pos_global_mm", "body_pos_local_mm",
                   "joint_pos_l2_mrad", "num_episodes"},                  # T values each
     "ELR_0.7m": {"mean", "std"}, "checkpoint", "motion", "sigma": {term: value},
     "observation_noise", "domain_randomization", "plots": [png], "video"?}

Version 3 added ``upright_rate`` and ``per_episode.upright``; a file of version 2 (the same
keys without those two) or 1 (as 2, without ``schema_version``) reads with them NaN. The
sim-to-sim report (:mod:`humimic.deploy.sim2sim_report`) embeds :class:`TrackingMetrics` too.
Numpy and the standard library only (the robot-side install reads these).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from humimic.json_contract import JsonReader, load_json_object, read_schema_version

METRICS_FILE = "metrics.json"
"""The report's file name in an evaluation (or controller) folder."""
SCHEMA_VERSION = 3
"""3: ``upright_rate`` and ``per_episode.upright`` added; 2: ``schema_version`` written; 1: the
layout of 2 without it."""
_UPRIGHT_SINCE = 3
"""First version with the upright entries (older files read them as NaN)."""

METRIC_KEYS = ("E_g_mpbpe", "E_mpbpe", "E_mpjpe", "E_mpjpe_per_joint", "E_mpjve", "E_mpbve",
               "E_mpbae", "success_rate", "upright_rate", "episode_length_ratio")  # fmt: skip
"""The summarised metrics, in file order (``humimic.eval.metrics.UNITS`` has their units)."""


@dataclass(frozen=True)
class Summary:
    """Mean and population std over episodes (NaN when no episode qualifies)."""

    mean: float
    std: float


@dataclass(frozen=True)
class PerEpisode:
    """What each of the E episodes did (success and upright 1.0 / 0.0, errors in mm, length
    ratio; upright NaN when read from a file without it)."""

    success: tuple[float, ...]
    E_mpbpe: tuple[float, ...]
    E_g_mpbpe: tuple[float, ...]
    length_ratio: tuple[float, ...]
    upright: tuple[float, ...]


@dataclass(frozen=True)
class PerFrame:
    """Errors at each of T frames, averaged over the episodes still valid there."""

    time_s: tuple[float, ...]
    body_pos_global_mm: tuple[float, ...]
    body_pos_local_mm: tuple[float, ...]
    joint_pos_l2_mrad: tuple[float, ...]
    num_episodes: tuple[int, ...]


@dataclass(frozen=True)
class TrackingMetrics:
    """PBHC's tracking metrics of a batch of episodes (definitions: :mod:`humimic.eval.metrics`)."""

    E_g_mpbpe: Summary
    E_mpbpe: Summary
    E_mpjpe: Summary
    E_mpjpe_per_joint: Summary
    E_mpjve: Summary
    E_mpbve: Summary
    E_mpbae: Summary
    success_rate: Summary
    upright_rate: Summary
    episode_length_ratio: Summary
    per_joint: Mapping[str, float]
    units: Mapping[str, str]
    num_episodes: int
    per_episode: PerEpisode
    per_frame: PerFrame

    @classmethod
    def build(
        cls,
        summaries: Mapping[str, Summary],
        per_joint: Mapping[str, float],
        units: Mapping[str, str],
        num_episodes: int,
        per_episode: PerEpisode,
        per_frame: PerFrame,
    ) -> TrackingMetrics:
        """From the summaries by name (every key of :data:`METRIC_KEYS`) and the rest."""
        s = summaries
        return cls(s["E_g_mpbpe"], s["E_mpbpe"], s["E_mpjpe"], s["E_mpjpe_per_joint"],
                   s["E_mpjve"], s["E_mpbve"], s["E_mpbae"], s["success_rate"],
                   s["upright_rate"], s["episode_length_ratio"], per_joint, units, num_episodes,
                   per_episode, per_frame)  # fmt: skip

    def summary(self, key: str) -> Summary:
        """The summary named ``key`` (one of :data:`METRIC_KEYS`)."""
        if key not in METRIC_KEYS:
            raise KeyError(key)
        value: Summary = getattr(self, key)
        return value

    def to_json(self) -> dict[str, Any]:
        """The metrics as JSON-ready values, in the file layout."""
        out: dict[str, Any] = {k: _summary_json(self.summary(k)) for k in METRIC_KEYS}
        out["per_joint"] = dict(self.per_joint)
        out["units"] = dict(self.units)
        out["num_episodes"] = self.num_episodes
        out["per_episode"] = {f.name: list(getattr(self.per_episode, f.name))
                              for f in fields(PerEpisode)}  # fmt: skip
        out["per_frame"] = {f.name: list(getattr(self.per_frame, f.name))
                            for f in fields(PerFrame)}  # fmt: skip
        return out

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], where: str, upright: bool | None = None
    ) -> TrackingMetrics:
        """Validate the metric entries of a report.

        Args:
            data: the report's JSON object.
            where: the file, for errors.
            upright: whether the file has ``upright_rate`` and ``per_episode.upright``
                (required) or predates them (read as NaN); None: as found, for a report that
                embeds these metrics under its own version (sim2sim's).

        Raises:
            InputFileError: ``<where>: <entry> ...`` for a missing or mistyped entry.
        """
        r = JsonReader(data, where)
        if upright is None:
            upright = "upright_rate" in data
        nan = float("nan")
        summaries = {k: read_summary(r, k) for k in METRIC_KEYS if upright or k != "upright_rate"}
        summaries.setdefault("upright_rate", Summary(nan, nan))
        n = r.integer("num_episodes", minimum=1)
        episode = r.object("per_episode")
        frame = r.object("per_frame")
        pe = JsonReader(episode, where, "per_episode.")
        success, local, world, ratio = (
            pe.numbers(k, n) for k in ("success", "E_mpbpe", "E_g_mpbpe", "length_ratio")
        )
        up = pe.numbers("upright", n) if upright else (nan,) * n
        per_episode = PerEpisode(success, local, world, ratio, up)
        pf = JsonReader(frame, where, "per_frame.")
        t = len(times := pf.numbers("time_s"))
        errors = ("body_pos_global_mm", "body_pos_local_mm", "joint_pos_l2_mrad")
        counts = tuple(int(c) for c in pf.numbers("num_episodes", t))
        glob, loc, joint = (pf.numbers(k, t) for k in errors)
        per_frame = PerFrame(times, glob, loc, joint, counts)
        return cls.build(summaries, r.number_map("per_joint"), r.text_map("units"), n,
                         per_episode, per_frame)  # fmt: skip


@dataclass(frozen=True)
class EvalReport:
    """``humimic eval``'s ``metrics.json``: the metrics and what was evaluated.

    Attributes:
        metrics: the tracking metrics.
        elr_0_7m: PBHC's episode length ratio at 0.7 m (file key ``ELR_0.7m``).
        checkpoint / motion: the checkpoint and clip evaluated.
        sigma: the adaptive reward sigmas at the checkpoint, per term.
        observation_noise / domain_randomization: training noise / randomisation kept on.
        plots: PNG file names beside the report.
        video: the MP4 name or why it was not rendered (None: not asked for).
        schema_version: version of the file it was read from, or :data:`SCHEMA_VERSION`.
    """

    metrics: TrackingMetrics
    elr_0_7m: Summary
    checkpoint: str
    motion: str
    sigma: Mapping[str, float]
    observation_noise: bool
    domain_randomization: bool
    plots: tuple[str, ...] = ()
    video: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        out = {"schema_version": SCHEMA_VERSION, **self.metrics.to_json(),
               "ELR_0.7m": _summary_json(self.elr_0_7m), "checkpoint": self.checkpoint,
               "motion": self.motion, "sigma": dict(self.sigma),
               "observation_noise": self.observation_noise,
               "domain_randomization": self.domain_randomization,
               "plots": list(self.plots)}  # fmt: skip
        if self.video is not None:
            out["video"] = self.video
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> EvalReport:
        """Validate a parsed ``metrics.json`` (see the module docstring).

        Raises:
            InputFileError: one line naming the file and the bad entry.
        """
        version = read_schema_version(data, where, SCHEMA_VERSION)
        r = JsonReader(data, where)
        metrics = TrackingMetrics.from_json(data, where, upright=version >= _UPRIGHT_SINCE)
        return cls(metrics, read_summary(r, "ELR_0.7m"),
                   r.text("checkpoint"), r.text("motion"), r.number_map("sigma"),
                   r.flag("observation_noise"), r.flag("domain_randomization"),
                   r.texts("plots"), r.text("video") if "video" in data else None,
                   version)  # fmt: skip


def read_eval_report(path: str | Path) -> EvalReport:
    """Read and validate ``humimic eval``'s ``metrics.json``.

    Raises:
        InputFileError: one line naming the file and what is wrong.
    """
    return EvalReport.from_json(load_json_object(path), str(path))


def read_summary(r: JsonReader, key: str) -> Summary:
    """The ``{"mean", "std"}`` object ``key`` of a reader's object."""
    inner = JsonReader(r.object(key), r.where, f"{r.prefix}{key}.")
    return Summary(inner.number("mean"), inner.number("std"))


def _summary_json(s: Summary) -> dict[str, float]:
    return {"mean": s.mean, "std": s.std}
