"""Children that a test stops with Ctrl-C (SIGINT) must be able to receive it."""

from __future__ import annotations

import signal


def sigint_reaches_child() -> None:
    """``preexec_fn`` for a child the test interrupts: SIGINT back to its default action.

    A shell without job control starts background commands with SIGINT ignored, and the
    children inherit that (Python then installs no KeyboardInterrupt handler), so a suite
    run as ``bash .ci/run &`` would see interrupted children run on.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
