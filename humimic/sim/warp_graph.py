"""Replay of the Warp part of a MuJoCo Warp step as a captured graph.

One graph per decimation value: the first step with a value runs eagerly (Warp compiles
and loads its kernels), the second captures the graph, later steps replay it. On CUDA
the graph is captured and replayed on a side stream, ordered after and before torch's
current stream with events: torch's default stream is CUDA's legacy stream, which cannot
be captured. On Warp's CPU device (tests) graphs are replayed on the current stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any


class StepGraphs:
    """Captured graphs of ``physics(decimation, capture)``, keyed by decimation.

    Iterating yields the decimation values whose graph has been captured.
    """

    def __init__(self, wp: ModuleType, device: Any, physics: Callable[[int, bool], None]) -> None:
        """``device``: the Warp device; ``physics``: the Warp-only part of a step (its
        second argument is True while it is being recorded into a graph)."""
        self._wp, self._device, self._physics = wp, device, physics
        self._graphs: dict[int, Any] = {}
        self._warm: set[int] = set()
        self._side_stream: Any = None

    def launch(self, decimation: int) -> None:
        """Run the step for ``decimation``: eagerly the first time, then from its graph
        (inside the caller's Warp device and stream scope)."""
        wp = self._wp
        if decimation not in self._warm:
            self._warm.add(decimation)
            self._physics(decimation, False)
            return
        if not self._device.is_cuda:  # Warp's CPU graphs (tests)
            wp.capture_launch(self._graph(decimation))
            return
        main = wp.get_stream()  # torch's current stream (see the backend's _scope)
        if self._side_stream is None:
            self._side_stream = wp.Stream(self._device)
        side = self._side_stream
        side.wait_stream(main)  # the targets written by torch
        with wp.ScopedStream(side):
            wp.capture_launch(self._graph(decimation))
        main.wait_stream(side)  # torch reads the new state

    def _graph(self, decimation: int) -> Any:
        """The captured graph for ``decimation`` (captured on the current stream)."""
        graph = self._graphs.get(decimation)
        if graph is None:
            with self._wp.ScopedCapture() as recording:
                self._physics(decimation, True)
            graph = self._graphs[decimation] = recording.graph
        return graph

    def clear(self) -> None:
        """Drop the graphs and the side stream."""
        self._graphs.clear()
        self._side_stream = None

    def __iter__(self) -> Iterator[int]:
        return iter(self._graphs)

    def __len__(self) -> int:
        return len(self._graphs)
