"""Schema of the motion front end's stage settings (``configs/retarget.yaml`` sections).

The dataclasses live here, not in the stage modules, so that reading the retarget schema
imports no torch or MuJoCo; the stages import their settings from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from humimic.errors import ConfigError


@dataclass
class ContactCfg:
    """Thresholds of the foot contact detector.

    Attributes:
        max_speed_mps: A foot point faster than this (m/s) is not in contact. PBHC uses a squared
            step of 0.002 m² per frame at 30 fps, i.e. sqrt(0.002) · 30 ≈ 1.34 m/s, which lets
            the first and last frames of a low swing count as contact. We use 0.9 m/s, chosen
            on the shared CMU clips (mean stance fraction of both feet): walks 02_01 and 07_05
            give 0.57 and 0.60 at 0.6 m/s, 0.63 and 0.65 at 0.9 m/s, 0.66 and 0.69 at 1.34 m/s,
            against the usual 0.60–0.62 of walking; the fast run 09_06 gives 0.19, 0.24, 0.30
            (fast running: about 0.25–0.30). The threshold is in m/s, so it does not depend
            on the frame rate (50 and 120 fps give the same fractions within 0.02).
        ankle_height_m: An ankle above this height (m) is not in contact (PBHC: 0.15).
        toe_height_m: A toe (or any other sole point) above this height is not in contact
            (PBHC: 0.10).
        min_duration_s: Contact runs and gaps shorter than this (s) are flipped to match their
            neighbours; runs touching the clip's first or last frame are kept (their true
            length is unknown).
        speed_window_s: Speed is the central difference over this span (s), rounded to whole
            frames (at least one frame each side): 1/15 s is PBHC's one-frame step at 30 fps
            made symmetric, and keeps the speed noise the same at 30 and 120 fps.
    """

    max_speed_mps: float = 0.9
    ankle_height_m: float = 0.15
    toe_height_m: float = 0.10
    min_duration_s: float = 0.1
    speed_window_s: float = 1.0 / 15.0

    def __post_init__(self) -> None:
        for name in ("max_speed_mps", "ankle_height_m", "toe_height_m", "speed_window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"ContactCfg.{name} must be a positive number, got {value}")
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0):
            raise ConfigError(
                f"ContactCfg.min_duration_s must be >= 0 seconds, got {self.min_duration_s}"
            )


@dataclass
class CorrectCfg:
    """Options of the motion correction step.

    Attributes:
        fix_ground: Apply :func:`correct_ground`.
        smooth_ground_s: Gaussian sigma (s) of the ground offset over time.
        stance_percentile: Percentile (0–50) of a stance run's lowest-foot-joint height used as
            that run's offset (joint-only skeletons); robust to a glitch frame in the run.
        smooth_joints: Apply :func:`smooth_positions`.
        smooth_sigma_s: Gaussian sigma (s) of :func:`smooth_positions`.
        blend_in_s: Robot side: seconds of blend from the default pose (0 = none).
        blend_out_s: Robot side: seconds of blend back to the default pose (0 = none).
    """

    fix_ground: bool = True
    smooth_ground_s: float = 0.1
    stance_percentile: float = 10.0
    smooth_joints: bool = False
    smooth_sigma_s: float = 0.03
    blend_in_s: float = 0.0
    blend_out_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("smooth_ground_s", "smooth_sigma_s", "blend_in_s", "blend_out_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"CorrectCfg.{name} must be >= 0 seconds, got {value}")
        if not (0.0 <= self.stance_percentile <= 50.0):
            raise ConfigError(
                f"CorrectCfg.stance_percentile must be in [0, 50], got {self.stance_percentile}"
            )


@dataclass
class NormalizeCfg:
    """Options of :func:`normalize`.

    Attributes:
        target_fps: Frame rate (Hz) to resample to.
        ground_percentile: The ground is this percentile (0–50) of the per-frame lowest foot
            point, so a few glitch frames (under 5 % of the clip) with a foot far below the
            floor do not lift the whole motion, while the feet of a clip that is mostly in
            flight still define the floor.
        center_xy: Shift x and y so frame 0's pelvis is at x = y = 0.
        exact_fps: Resample to exactly ``target_fps``, dropping the last partial frame period
            (under 1/target_fps s); when False the first and last frame times are kept and the
            rate is ``(n − 1) / duration``, within half a frame of ``target_fps``.
        start_s: Keep the source from this time on (s from its first frame).
        end_s: Keep the source up to this time (s); ``None`` keeps it to the end.
    """

    target_fps: float = 50.0
    ground_percentile: float = 5.0
    center_xy: bool = True
    exact_fps: bool = False
    start_s: float = 0.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_fps) and self.target_fps > 0):
            raise ConfigError(f"NormalizeCfg.target_fps must be positive, got {self.target_fps}")
        if not (0.0 <= self.ground_percentile <= 50.0):
            raise ConfigError(
                f"NormalizeCfg.ground_percentile must be in [0, 50], got {self.ground_percentile}"
            )
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ConfigError(f"normalize.start_s must be >= 0 s, got {self.start_s}")
        if self.end_s is not None and not self.end_s > self.start_s:
            raise ConfigError(
                f"normalize.end_s ({self.end_s}) must be after normalize.start_s ({self.start_s})"
            )


@dataclass
class FilterCfg:
    """Thresholds of the CoM–CoP stability filter (PBHC's numbers unless said otherwise).

    Attributes:
        stability_threshold_m: A frame is stable when the horizontal CoM–CoP distance (m) is
            below this (PBHC ε_stab = 0.1).
        max_unstable_s: Longest allowed run of unstable frames (s). PBHC rejects a gap of 100
            frames between stable frames at 30 fps; 100/30 ≈ 3.33 s keeps that limit in seconds.
        cop_k: CoP weight slope below the ground, ``1 − k·h`` (PBHC 100 per metre).
        cop_w: CoP weight decay above the ground, ``exp(−w·h)`` (PBHC 10 per metre).
        enabled: When False the filter still measures but always passes.
        airborne_height_m: A frame whose lowest canonical foot joint is above this height (m)
            is not on the feet: flight if the CoM is ballistic, else off the feet. 0.2 m leaves
            room for dancers on tiptoe (CMU 05_06 holds its weight on a toe joint 0.15 m up).
        max_airborne_s: Longest allowed flight (s); about twice the hang time of a 1 m jump.
        max_off_feet_s: Longest allowed run of frames off the feet (s).
        flight_accel_tol_mps2: Allowed gap (m/s²) between a flight's fitted CoM vertical
            acceleration and −9.81.
        require_stable_ends: Flag a first or last frame that is not stable (PBHC rejects
            such clips). Only a warning here: clips cut mid-run have one (CMU 09_06: CoM 0.25 m
            ahead of the stance foot on frame 0) and a tracker starts and ends them anyway.
    """

    stability_threshold_m: float = 0.1
    max_unstable_s: float = 100.0 / 30.0
    cop_k: float = 100.0
    cop_w: float = 10.0
    enabled: bool = True
    airborne_height_m: float = 0.2
    max_airborne_s: float = 1.0
    max_off_feet_s: float = 0.25
    flight_accel_tol_mps2: float = 4.0
    require_stable_ends: bool = True

    def __post_init__(self) -> None:
        for name in (
            "stability_threshold_m",
            "max_unstable_s",
            "cop_k",
            "cop_w",
            "airborne_height_m",
            "max_airborne_s",
            "max_off_feet_s",
            "flight_accel_tol_mps2",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"FilterCfg.{name} must be a positive number, got {value}")


@dataclass
class SolverCfg:
    """Weights and iteration budget of the whole-sequence solver."""

    iterations: int = 15
    """Gauss-Newton iterations (each one banded solve over the whole clip)."""
    posture_weight: float = 0.03
    """Pull of each joint toward the default pose, per rad."""
    ground_weight: float = 20.0
    """Contact-foot sole points on the ground and no sole point below it, per m."""
    penetration_weight: float = 100.0
    """Any sole point below the ground, per m (one-sided)."""
    contact_pin_weight: float = 100.0
    """Stance-foot sole points keep still in x-y between frames, per m."""
    smooth_weight: float = 2.0
    """Second differences of root and joints at 50 fps, per m or rad."""
    velocity_limit_weight: float = 10.0
    """Joint speed beyond ``velocity_limit_fraction`` of its limit, per rad/frame."""
    velocity_limit_fraction: float = 0.9
    """Fraction of each joint's velocity limit the solution should stay under."""
    root_velocity_weight: float = 5.0
    """Root steps between frames follow the human pelvis's steps (position and rotation), per
    m or rad of difference at 50 fps. Without it the root stick-slips against pinned feet:
    it lags a turn, then catches up in one jump (0.8 rad in a frame on a turn in place)."""
    speed_repair_weight: float = 100.0
    """Weight of the joint-speed term in a repair pass, run when a solved joint moves faster
    than its velocity limit between two frames (a branch flip: a hip yaw from one limit to
    the other); 0 turns the repair off."""
    limit_margin_rad: float = 0.01
    """Solutions stay this far inside the joint limits."""
    sole_band_m: float = 0.01
    """Sole points within this height of a contact foot's lowest point bear load and are
    pinned; the others may lift, so feet can roll over heel and toe."""
    collision_weight: float = 10.0
    """Self-collision avoidance between the robot's collision capsules, per m."""
    collision_margin_m: float = 0.01
    """Extra clearance kept between collision capsules, m."""
    tolerance: float = 0.01
    """Stop when an iteration lowers the cost by less than this fraction."""
    coarse_stride: int = 4
    """Solve every n-th frame first and start the full solve from its interpolation
    (1 = no coarse pass)."""

    def __post_init__(self) -> None:
        """Reject values that make the problem meaningless."""
        if self.iterations < 1:
            raise ConfigError("solver.iterations must be >= 1")
        if self.coarse_stride < 1:
            raise ConfigError("solver.coarse_stride must be >= 1")
        if not 0.0 <= self.tolerance < 1.0:
            raise ConfigError("solver.tolerance must be in [0, 1)")
        for name in ("posture_weight", "ground_weight", "contact_pin_weight", "smooth_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"solver.{name} must be >= 0")
        if not 0.0 < self.velocity_limit_fraction <= 1.5:
            raise ConfigError("solver.velocity_limit_fraction must be in (0, 1.5]")


@dataclass
class FeasibilityCfg:
    """Thresholds of the checks: a value above ``*_warn`` warns, above ``*_fail`` fails.

    Attributes:
        joint_limit_warn_rad, joint_limit_fail_rad: Worst excursion beyond a joint range, rad.
        joint_speed_warn_fraction: Peak |joint speed| / limit of the clip's (smoothed) joint
            velocities above which a clip warns: the actuator saturates and the tracker lags.
        joint_jump_fail_fraction: Frame-to-frame |Δq|·fps / limit above which a clip fails: a
            discontinuity (a solver flip), not a motion; no smoothing hides it.
        skating_warn_mps, skating_fail_mps: Mean horizontal speed of the contact feet, m/s
            (per frame the slowest sole point of the foot, so pivoting on heel or toe is allowed).
        skating_p95_warn_mps, skating_peak_warn_mps: 95th percentile and peak of the same
            speeds above which a clip warns (a mean hides a few frames of sliding).
        root_speed_warn_mps: 99th percentile of the root's horizontal speed above which a clip
            warns (beyond what the robot runs).
        root_jump_fail_mps: Frame-to-frame root speed above which a clip fails (a teleport).
        penetration_warn_m, penetration_fail_m: Deepest robot collision geom below z = 0, m.
        self_collision_depth_m: Robot-robot contacts deeper than this count, m.
        self_collision_warn_fraction, self_collision_fail_fraction: Fraction of frames with one.
        torque_warn_fraction, torque_fail_fraction: ``torque_percentile`` percentile over
            frames of |τ| / effort limit, worst joint (single-frame peaks of differentiated
            mocap are noise; the peak is reported too).
        torque_percentile: Percentile used for the torque check.
        unsupported_force_warn_fraction, unsupported_force_fail_fraction: Percentile (below) of
            the residual root force the feet cannot supply, as a fraction of the body weight,
            over the frames where a foot can push.
        unsupported_cop_warn_m, unsupported_cop_fail_m: Same percentile of the residual root
            torque divided by the body weight, m (how far the centre of pressure would have to
            leave the feet).
        unsupported_percentile: Percentile over frames used for the two checks above (robust to
            single-frame spikes of differentiated mocap).
        hover_force_fraction: On frames where no foot can push, a residual force above this
            fraction of the weight means the body is held up by nothing (non-ballistic flight).
        max_hover_s: Longest such run before the clip fails; shorter runs (take-off and
            landing timing of a jump) warn.
        ground_touch_m: A sole within this height of the ground can push even when the clip's
            contact mask says the foot is up (masks of other tools and of fast gaits miss
            stance frames), m.
        friction: Friction coefficient of the linearised cone at the sole points.
        sole_contact_band_m: A contact foot pushes through its sole points within this height
            of its lowest one, m (a rolling foot pushes through its toes only).
        contact_max_height_m: Sole points higher than this above the ground cannot push, even
            when the contact mask says the foot is down, m.
        accel_sigma_s: Gaussian smoothing (s) of ``qvel`` before differencing to ``qacc``; in
            seconds so that 30 and 120 fps clips are smoothed alike (acceleration noise grows
            with the frame rate squared).
        ridge: Ridge weight that spreads the contact forces over the sole points.
        worst_pairs: Self-colliding geom pairs listed.
        series_joints: Joints whose torque ratio over time is stored for plots.
    """

    joint_limit_warn_rad: float = 0.01
    joint_limit_fail_rad: float = 0.05
    joint_speed_warn_fraction: float = 1.0
    joint_jump_fail_fraction: float = 3.0
    skating_warn_mps: float = 0.02
    skating_fail_mps: float = 0.10
    skating_p95_warn_mps: float = 0.2
    skating_peak_warn_mps: float = 1.0
    root_speed_warn_mps: float = 3.0
    root_jump_fail_mps: float = 10.0
    penetration_warn_m: float = 0.005
    penetration_fail_m: float = 0.03
    self_collision_depth_m: float = 0.005
    self_collision_warn_fraction: float = 0.0
    self_collision_fail_fraction: float = 0.05
    torque_warn_fraction: float = 1.0
    torque_fail_fraction: float = 2.0
    torque_percentile: float = 99.0
    unsupported_force_warn_fraction: float = 0.2
    unsupported_force_fail_fraction: float = 0.5
    unsupported_cop_warn_m: float = 0.15
    unsupported_cop_fail_m: float = 0.30
    unsupported_percentile: float = 95.0
    hover_force_fraction: float = 0.5
    max_hover_s: float = 0.25
    ground_touch_m: float = 0.02
    friction: float = 1.0
    sole_contact_band_m: float = 0.01
    contact_max_height_m: float = 0.05
    accel_sigma_s: float = 0.05
    ridge: float = 1e-4
    worst_pairs: int = 5
    series_joints: int = 3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"FeasibilityCfg.{f.name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"FeasibilityCfg.{f.name} must be >= 0, got {value}")
            warn = f.name.replace("_fail", "_warn")
            if warn != f.name and hasattr(self, warn) and getattr(self, warn) > value:
                raise ConfigError(f"FeasibilityCfg.{warn} must not exceed {f.name} ({value})")
        for name in ("unsupported_percentile", "torque_percentile"):
            if not 0 < getattr(self, name) <= 100:
                raise ConfigError(f"FeasibilityCfg.{name} must be in (0, 100]")
        for name in ("friction", "ridge"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"FeasibilityCfg.{name} must be positive, got {getattr(self, name)}"
                )
        for name in ("worst_pairs", "series_joints"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"FeasibilityCfg.{name} must be an integer")
