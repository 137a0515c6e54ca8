"""The protocol every layer kind follows on the hardware side."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from amaranth.lib import wiring

from ....sw.layers import Layer
from ..folding import LayerFolding
from ..options import HardwareOptions

__all__ = ["LayerHardware"]


class LayerHardware(Protocol):
    """What the generator asks of a layer kind: folding, cycles, lowering, unit, summary.

    One instance per kind is registered in :data:`~qnnforge.hw.compiler.layers.HARDWARE_KINDS`
    under the manifest ``op`` of its software side (:mod:`qnnforge.sw.layers`).
    """

    op: ClassVar[str]
    latency_exact: ClassVar[bool]
    """Whether :meth:`latency` is exact (the layer waits for its whole input) or a bound."""

    def input_lanes(self, layer: Layer, target_cycles: int, out_lanes: int) -> int:
        """Return the fewest elements per input beat that keep the layer within
        ``target_cycles``, given that the next layer needs ``out_lanes`` per output beat (a
        kind that carries its input's lanes through must be fed at least those)."""

    def fold(self, layer: Layer, target_cycles: int, in_lanes: int,
             out_lanes: int) -> LayerFolding:
        """Return the cheapest folding of ``layer`` within ``target_cycles`` (else the fastest),
        given ``in_lanes`` elements per input beat and at least ``out_lanes`` per output beat
        (where the kind chooses them)."""

    def check_folding(self, index: int, layer: Layer, folding: LayerFolding,
                      in_lanes: int) -> None:
        """Raise :class:`~..folding.FoldingError` if ``folding`` (with ``in_lanes`` elements per
        input beat) does not fit layer ``index``."""

    def cycles(self, layer: Layer, folding: LayerFolding, in_lanes: int) -> int:
        """Return the layer's steady-state cycles per inference (its slowest part)."""

    def latency(self, layer: Layer, folding: LayerFolding, in_lanes: int,
                options: HardwareOptions) -> int:
        """Return the cycles from the layer's last input to its last output, when idle and built
        with ``options`` (their pipeline registers count), for a layer that works on windows an
        upper bound: its whole cycles plus its registers."""

    def out_lanes(self, folding: LayerFolding) -> int:
        """Return the elements per beat of the layer's output stream."""

    def lower(self, layer: Layer) -> Any:
        """Return the layer's hardware constants and shapes."""

    def build(self, lowered: Any, folding: LayerFolding, in_lanes: int,
              options: HardwareOptions) -> wiring.Component:
        """Return the layer's unit, with stream ports ``i_stream`` and ``o_stream``."""

    def summary(self, lowered: Any, folding: LayerFolding, in_lanes: int) -> dict:
        """Return the layer's entry in design.json."""
