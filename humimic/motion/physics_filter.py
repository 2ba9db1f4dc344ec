"""Physics-based clip filter: is the centre of mass over the centre of pressure (PBHC §2.2)?

A frame is *stable* when the ground projections of the centre of mass (CoM) and the centre of
pressure (CoP) are not farther apart than ``stability_threshold_m`` (at the millimetre). A clip
passes when no run of unstable frames lasts longer than ``max_unstable_s`` (PBHC's rule), and,
beyond PBHC, when it never leaves the feet for longer than ``max_off_feet_s`` and never flies
longer than ``max_airborne_s``. PBHC also rejects clips whose first or last frame is unstable;
here that is a warning (``severity="warn"``): short and cut clips have one and track fine.

Frames are sorted by heights above the ground plane z = 0:

* **on the feet**: the lowest canonical foot joint is at most ``airborne_height_m`` high.
  Stable when the CoM–CoP distance is below the threshold, else unstable.
* **flight**: the feet are up and the CoM falls ballistically: over a flight of at least
  0.2 s, the vertical acceleration of a parabola fitted to the CoM height is within
  ``flight_accel_tol_mps2`` of −g (shorter flights, as in running, are taken as ballistic; on
  the CMU jumps the fitted value is −9.1 to −12.0 m/s²). The CoP is undefined, so flight is
  neither stable nor unstable: it does not break or extend an unstable run.
* **off the feet**: everything else: the feet are up and the body is held by something else
  (hands in a cartwheel or handstand, knees, lying; or a non-ballistic "flight", which means the
  body rests on something we cannot see). Unstable, and limited on its own by
  ``max_off_feet_s``: a G1 tracking policy keeps its weight on its feet.

Dimension names: ``T`` frames, ``P`` points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humimic.config.motion_schema import FilterCfg
from humimic.motion.contact import foot_points_w, mask_runs
from humimic.motion.human import HumanMotion

# de Leva (1996) "Adjustments to Zatsiorsky-Seluyanov's segment inertia parameters", J.
# Biomech. 29(9), Table 4, male column. Mass in % of body mass; CoM in % of segment length from
# the first endpoint. Masses sum to 100 %.
#
# | segment        | endpoints (de Leva)          | mass % | CoM %  | length mm | our endpoints    |
# |----------------|------------------------------|--------|--------|-----------|------------------|
# | head + neck    | vertex – mid-gonion          |  6.94  | 59.76  |           | head joint       |
# | upper trunk    | suprasternale – xiphoid      | 15.96  | 29.99  |   170.7   | trunk line       |
# | middle trunk   | xiphoid – omphalion          | 16.33  | 45.02  |   215.5   | trunk line       |
# | lower trunk    | omphalion – mid-hip          | 11.17  | 61.15  |   145.7   | trunk line       |
# | upper arm (×2) | shoulder – elbow centre      |  2.71  | 57.72  |   281.7   | same             |
# | forearm (×2)   | elbow – wrist centre         |  1.62  | 45.74  |   268.9   | same             |
# | hand (×2)      | wrist – 3rd metacarpale      |  0.61  | 79.00  |    86.2   | forearm extended |
# | thigh (×2)     | hip – knee centre            | 14.16  | 40.95  |           | same             |
# | shank (×2)     | knee centre – lat. malleolus |  4.33  | 44.59  |           | knee – ankle     |
# | foot (×2)      | heel – toe tip               |  1.37  | 44.15  |   258.1   | ankle – toe 0.5  |
#
# Approximations (joints carry no surface landmarks): the head+neck CoM is put at the head
# joint (≤ 0.1 m off, ≤ 7 mm on the body CoM); the trunk is the straight line from the shoulder
# midpoint to the hip midpoint, the three trunk parts placed along it with de Leva's lengths
# (mocap spine and neck joints sit on the back, several cm behind the sternum landmarks, and
# moved the CoM of standing CMU subjects behind their ankles); the hand extends the forearm by
# 86.2/268.9 of its length; the foot CoM sits halfway from ankle to toe joint (44 % from the
# heel ≈ 47 % from the lateral malleolus to the toe joint), or at the ankle without a toe.
_TRUNK_LENGTHS_MM = np.array([170.7, 215.5, 145.7])
_TRUNK_COM = np.array([0.2999, 0.4502, 0.6115])
_TRUNK_MASS = np.array([0.1596, 0.1633, 0.1117])
_TRUNK_FRACTIONS = (
    np.concatenate([[0.0], np.cumsum(_TRUNK_LENGTHS_MM)[:-1]]) + _TRUNK_COM * _TRUNK_LENGTHS_MM
) / _TRUNK_LENGTHS_MM.sum()
_HEAD_MASS = 0.0694
# (mass fraction, proximal joint, distal joint, CoM fraction proximal -> distal), per side.
_LIMB_SEGMENTS: tuple[tuple[float, str, str, float], ...] = (
    (0.0271, "shoulder", "elbow", 0.5772),
    (0.0162, "elbow", "wrist", 0.4574),
    (0.0061, "elbow", "wrist", 1.0 + 0.79 * 86.2 / 268.9),
    (0.1416, "hip", "knee", 0.4095),
    (0.0433, "knee", "ankle", 0.4459),
    (0.0137, "ankle", "toe", 0.5),
)


_GRAVITY_MPS2 = 9.81
_MIN_CHECKED_FLIGHT_S = 0.2
_HEEL_BEHIND_ANKLE = 1.0 / 3.0  # heel ≈ 5 cm behind the ankle, ball ≈ 15 cm ahead


@dataclass
class FilterResult:
    """Verdict and per-frame measurements of :func:`stability`.

    Attributes:
        passed: Whether the clip passes.
        reason: One line saying why it passed or failed.
        severity: ``"pass"``, ``"warn"`` (only the end frames are unstable) or ``"fail"``.
        distance_m: ``(T,)`` horizontal CoM–CoP distance in metres; finite everywhere (JSON
            safe) but meaningless on flight frames, which the statistics leave out.
        stable: ``(T,)`` frames on the feet with the distance below the threshold.
        airborne: ``(T,)`` ballistic flight frames.
        off_feet: ``(T,)`` frames held up by something other than the feet.
        longest_unstable_s: Longest run of unstable frames, in seconds (frames / fps).
        first_stable: Index of the first stable frame, or None.
        last_stable: Index of the last stable frame, or None.
        fps: Frame rate of the measured motion in Hz.
    """

    passed: bool
    reason: str
    distance_m: NDArray[np.float64]
    stable: NDArray[np.bool_]
    airborne: NDArray[np.bool_]
    off_feet: NDArray[np.bool_]
    longest_unstable_s: float
    first_stable: int | None
    last_stable: int | None
    fps: float
    severity: str = "pass"

    def summary(self) -> dict[str, object]:
        """Report entry: verdict, reason and distance statistics (metres, seconds)."""
        d = self.distance_m[~self.airborne]
        return {
            "passed": self.passed,
            "severity": self.severity,
            "reason": self.reason,
            "distance_median_m": round(float(np.median(d)), 4) if d.size else None,
            "distance_max_m": round(float(np.max(d)), 4) if d.size else None,
            "stable_fraction": round(float(self.stable.mean()), 4),
            "airborne_fraction": round(float(self.airborne.mean()), 4),
            "off_feet_fraction": round(float(self.off_feet.mean()), 4),
            "longest_unstable_s": round(self.longest_unstable_s, 3),
            "first_stable": self.first_stable,
            "last_stable": self.last_stable,
        }


def center_of_mass_w(motion: HumanMotion) -> NDArray[np.float64]:
    """Whole-body centre of mass.

    Args:
        motion: Motion; ``motion.com_w`` is returned when set, else de Leva segment masses are
            placed on the canonical joints (see the table above).

    Returns:
        ``(T, 3)`` CoM in the world frame, metres.
    """
    if motion.com_w is not None:
        return np.asarray(motion.com_w, dtype=np.float64)
    pos = {name: motion.canonical_pos_w(name) for name in motion.canonical}
    com = _HEAD_MASS * pos["head"]
    top = 0.5 * (pos["left_shoulder"] + pos["right_shoulder"])
    bottom = 0.5 * (pos["left_hip"] + pos["right_hip"])
    for mass, frac in zip(_TRUNK_MASS, _TRUNK_FRACTIONS):
        com = com + mass * (top + frac * (bottom - top))
    for side in ("left", "right"):
        for mass, prox, dist, frac in _LIMB_SEGMENTS:
            a = pos[f"{side}_{prox}"]
            b = pos.get(f"{side}_{dist}", a)  # only the toe is optional
            com = com + mass * (a + frac * (b - a))
    return com


def cop_weights(height_m: ArrayLike, k: float, w: float) -> NDArray[np.float64]:
    """PBHC pressure weights of points at heights ``h`` above the ground (z = 0).

    ``1 − k·h`` below the ground (grows with penetration), ``exp(−w·h)`` above it.
    """
    h = np.asarray(height_m, dtype=np.float64)
    return np.where(h < 0.0, 1.0 - k * h, np.exp(-w * np.maximum(h, 0.0)))


def support_points(motion: HumanMotion) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Points that may carry pressure and their heights above the sole.

    With ``ground_points_w`` (a body mesh) these are the points and their z, as in PBHC.
    Otherwise each foot gets a sole made from its joints (our approximation): heel (behind the
    ankle by a third of the ankle→toe step), ankle, mid-foot and toe, placed at the joints'
    ground positions. Their heights are the joints' heights above their own clip-wide 5th
    percentile, so a flat foot has all its sole points at height ≈ 0 whatever the skeleton's
    ankle height; the heel follows the ankle (it rises only when the ankle does).

    Returns:
        ``(T, P, 2)`` ground positions (x, y) in metres and ``(T, P)`` heights in metres.
    """
    if motion.ground_points_w is not None:
        pts = np.asarray(motion.ground_points_w, dtype=np.float64)
        return pts[..., :2], pts[..., 2]
    xy, height = [], []
    for pts in foot_points_w(motion).values():
        h = pts[..., 2] - np.percentile(pts[..., 2], 5.0, axis=0)
        ankle, h_ankle = pts[:, 0, :2], h[:, 0]
        toe, h_toe = (pts[:, 1, :2], h[:, 1]) if pts.shape[1] > 1 else (ankle, h_ankle)
        heel = ankle - _HEEL_BEHIND_ANKLE * (toe - ankle)
        xy += [heel, ankle, 0.5 * (ankle + toe), toe]
        height += [h_ankle, h_ankle, 0.5 * (h_ankle + h_toe), h_toe]
    return np.stack(xy, axis=1), np.stack(height, axis=1)


def center_of_pressure_w(motion: HumanMotion, cfg: FilterCfg | None = None) -> NDArray[np.float64]:
    """Centre of pressure: PBHC-weighted mean of :func:`support_points` on the ground.

    Args:
        motion: Motion with the ground at z = 0.
        cfg: Weight constants (``cop_k``, ``cop_w``); defaults when None.

    Returns:
        ``(T, 3)`` CoP in the world frame with z = 0, metres.
    """
    cfg = cfg or FilterCfg()
    xy, height = support_points(motion)
    wts = cop_weights(height, cfg.cop_k, cfg.cop_w)
    cop = np.zeros((xy.shape[0], 3))
    cop[:, :2] = np.einsum("tp,tpc->tc", wts, xy) / wts.sum(axis=1, keepdims=True)
    return cop


def _foot_heights(motion: HumanMotion) -> NDArray[np.float64]:
    """``(T,)`` height (m) of the lowest canonical foot joint."""
    feet = foot_points_w(motion)
    return np.minimum(feet["left"][..., 2].min(axis=1), feet["right"][..., 2].min(axis=1))


def _ballistic(
    high: NDArray[np.bool_], com_z: NDArray[np.float64], fps: float, cfg: FilterCfg
) -> NDArray[np.bool_]:
    """``(T,)`` frames of ``high`` runs whose CoM height falls like a thrown body."""
    out = high.copy()
    starts, lengths = mask_runs(high)
    for s, n in zip(starts, lengths):
        if not high[s] or n / fps < _MIN_CHECKED_FLIGHT_S:
            continue
        accel = 2.0 * np.polyfit(np.arange(n) / fps, com_z[s : s + n], 2)[0]
        out[s : s + n] = abs(accel + _GRAVITY_MPS2) <= cfg.flight_accel_tol_mps2
    return out


def stability(motion: HumanMotion, cfg: FilterCfg) -> FilterResult:
    """Run the CoM–CoP stability filter on a motion whose ground is at z = 0.

    Args:
        motion: Normalised motion (ground at z = 0).
        cfg: Thresholds.

    Returns:
        The verdict with per-frame distances; see the module docstring for the rules.
    """
    com = center_of_mass_w(motion)
    cop = center_of_pressure_w(motion, cfg)
    foot_low = _foot_heights(motion)
    on_feet = foot_low <= cfg.airborne_height_m
    airborne = _ballistic(~on_feet, com[:, 2], motion.fps, cfg)
    off_feet = ~on_feet & ~airborne
    dist = np.linalg.norm(com[:, :2] - cop[:, :2], axis=1)
    stable = on_feet & ~_beyond(dist, cfg.stability_threshold_m)
    runs = {
        "unstable": _longest_run(~stable & ~airborne, motion.fps),
        "off_feet": _longest_run(off_feet, motion.fps),
        "airborne": _longest_run(airborne, motion.fps),
    }
    failure = _verdict(cfg, dist, foot_low, airborne, runs)
    warning = _end_frames(cfg, dist, foot_low, airborne)
    idx = np.flatnonzero(stable)
    run_s = runs["unstable"][0]
    passed = failure is None
    reason = failure or warning
    severity = "fail" if failure else "warn" if warning else "pass"
    if reason is None:
        reason = f"stable (longest unstable run {run_s:.2f} s, limit {cfg.max_unstable_s:.2f} s)"
    if not cfg.enabled:
        passed, severity, reason = True, "pass", f"filter disabled (measured: {reason})"
    return FilterResult(
        passed=passed,
        reason=str(reason),
        distance_m=dist,
        stable=stable,
        airborne=airborne,
        off_feet=off_feet,
        longest_unstable_s=run_s,
        first_stable=int(idx[0]) if idx.size else None,
        last_stable=int(idx[-1]) if idx.size else None,
        fps=float(motion.fps),
        severity=severity,
    )


def _longest_run(flags: NDArray[np.bool_], fps: float) -> tuple[float, float]:
    """Duration (frames / fps) and start time (s) of the longest run of True, or (0, 0)."""
    starts, lengths = mask_runs(flags)
    true_runs = [(int(n), int(s)) for s, n in zip(starts, lengths) if flags[s]]
    if not true_runs:
        return 0.0, 0.0
    n, s = max(true_runs, key=lambda r: (r[0], -r[1]))
    return n / fps, s / fps


def _beyond(value: ArrayLike, limit: float) -> NDArray[np.bool_]:
    """``value > limit`` at the millimetre the reports print: no "0.10 > 0.10"."""
    return np.round(np.asarray(value, np.float64), 3) > round(limit, 3)


def _end_frames(
    cfg: FilterCfg,
    dist: NDArray[np.float64],
    foot_low: NDArray[np.float64],
    airborne: NDArray[np.bool_],
) -> str | None:
    """Why the first or last frame is not stable (a warning), or None."""
    ends = ((0, "first"), (len(dist) - 1, "last")) if cfg.require_stable_ends else ()
    for i, label in ends:
        if airborne[i]:
            return (
                f"{label} frame airborne (nothing within {cfg.airborne_height_m:.2f} m of ground)"
            )
        if foot_low[i] > cfg.airborne_height_m:
            return f"{label} frame not on the feet (lowest foot joint {foot_low[i]:.2f} m up)"
        if _beyond(dist[i], cfg.stability_threshold_m):
            return (
                f"{label} frame unstable (CoM–CoP {dist[i]:.3f} m > "
                f"{cfg.stability_threshold_m:.3f} m)"
            )
    return None


def _verdict(
    cfg: FilterCfg,
    dist: NDArray[np.float64],
    foot_low: NDArray[np.float64],
    airborne: NDArray[np.bool_],
    runs: dict[str, tuple[float, float]],
) -> str | None:
    """Reason the clip fails (an unstable, off-the-feet or airborne run too long), or None."""
    limits = {
        "unstable": ("unstable", cfg.max_unstable_s),
        "off_feet": ("off the feet", cfg.max_off_feet_s),
        "airborne": ("airborne", cfg.max_airborne_s),
    }
    for key, (words, limit) in limits.items():
        run_s, start_s = runs[key]
        if round(run_s, 2) > round(limit, 2):
            return f"{words} for {run_s:.2f} s from {start_s:.2f} s (limit {limit:.2f} s)"
    return None
