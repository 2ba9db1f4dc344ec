"""Operator stand-in for unattended runs against the simulated robot (never on hardware).

It watches the safety machine instead of a clock: ``start`` once the machine has sat in
DAMPING with no watchdog firing for ``settle_steps`` control steps, ``A`` once it has sat in
WAIT_START as long. A slow start-up (a loaded machine, a slow first LowState, a stale-state
blip before start) only delays the presses. Once started, a fault means no further press: it
never restarts a faulted run. The deploy
runtime only accepts it on an interface whose address is loopback
(:func:`humimic.deploy.dds.channel.is_loopback_interface`).
"""

from __future__ import annotations

from collections.abc import Iterable

from humimic.deploy.safety import SafetyMachine, SafetyState


class UnattendedOperator:
    """Presses ``start`` once, then ``A`` once, each when the machine is ready for it.

    Args:
        machine: the runtime's safety machine (read, never changed).
        settle_steps: control steps the machine must stay in the state before a press.
    """

    def __init__(self, machine: SafetyMachine, settle_steps: int = 5) -> None:
        self.machine = machine
        self.settle_steps = settle_steps
        self._plan = [(SafetyState.DAMPING, "start"), (SafetyState.WAIT_START, "A")]
        self._steady = 0
        self._last_state: SafetyState | None = None

    def __call__(self) -> Iterable[str]:
        """Buttons held at this control step (each press lasts one step)."""
        m = self.machine
        same = m.state == self._last_state and not m.fault_active
        self._steady = self._steady + 1 if same else 0
        self._last_state = m.state
        started = len(self._plan) < 2
        if not self._plan or m.exit_requested or m.fatal is not None or (started and m.faulted):
            return ()
        wanted, button = self._plan[0]
        if m.state == wanted and self._steady >= self.settle_steps:
            self._plan.pop(0)
            self._steady = 0
            return (button,)
        return ()
