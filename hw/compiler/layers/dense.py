"""The dense layer kind, hardware side: lowering, folding and cycles, unit, summary entry.

A dense layer is one :class:`~qnnforge.hw.cores.mvu.MatrixVectorUnit`: its dot-product kind
(:mod:`..dots`) multiplies the lanes and its output stage (:mod:`..outputs`) finishes each
channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape

from ....sw.layers import DenseLayer
from ...cores.mvu import MatrixVectorUnit, mvu_registers
from ..dots import DotKind, dot_for
from ..folding import (LayerFolding, check_lanes, check_matrix_folding, fold_matrix,
                       layer_cycles)
from ..lowering import element_shape
from ..options import HardwareOptions
from ..outputs import OutputStage, lower_output

__all__ = ["LoweredDense", "DenseHardware"]

@dataclass(frozen=True)
class LoweredDense:
    """A dense layer as the matrix-vector unit builds it.

    Attributes
    ----------
    name : str
        The artifact layer name.
    fan_in, fan_out : int
        Input and output vector lengths.
    dot : DotKind
        What one lane computes and in which domain the accumulator counts.
    input_shape, weight_shape : Shape
        Shapes of one input element and one weight code.
    weight_codes : numpy.ndarray
        ``(fan_out, fan_in)`` unsigned weight codes (bipolar: 1 = +1, 0 = -1; otherwise the
        two's complement or unsigned pattern of ``weight_shape``).
    acc_shape : Shape
        Shape of the accumulator over the whole fan-in (from the artifact's worst-case bound).
    output : OutputStage
        The output rule lowered into the accumulator's domain.
    """

    name: str
    fan_in: int
    fan_out: int
    dot: DotKind
    input_shape: Shape
    weight_shape: Shape
    weight_codes: np.ndarray
    acc_shape: Shape
    output: OutputStage

    @property
    def output_shape(self) -> Shape:
        """Shape of one output element."""
        return self.output.output_shape


class DenseHardware:
    """The hardware of :class:`~qnnforge.sw.layers.dense.DenseLayer`."""

    op = DenseLayer.op
    latency_exact = True

    def input_lanes(self, layer: DenseLayer, target_cycles: int, out_lanes: int) -> int:
        # the input buffer fills while the previous vector is computed: the producer, not this
        # layer, sets the pace of its input
        return 1

    def fold(self, layer: DenseLayer, target_cycles: int, in_lanes: int,
             out_lanes: int) -> LayerFolding:
        return fold_matrix(layer.in_features, layer.out_features, target_cycles, out_lanes)

    def check_folding(self, index: int, layer: DenseLayer, folding: LayerFolding,
                      in_lanes: int) -> None:
        check_matrix_folding(index, layer.in_features, layer.out_features, folding)
        check_lanes(index, "the fan-in", layer.in_features, in_lanes)

    def cycles(self, layer: DenseLayer, folding: LayerFolding, in_lanes: int) -> int:
        return layer_cycles(layer.in_features, layer.out_features, folding.pe, folding.simd)

    def latency(self, layer: DenseLayer, folding: LayerFolding, in_lanes: int,
                options: HardwareOptions) -> int:
        return self.cycles(layer, folding, in_lanes) + mvu_registers(folding.simd, options)

    def out_lanes(self, folding: LayerFolding) -> int:
        return folding.pe

    def lower(self, layer: DenseLayer) -> LoweredDense:
        """Return the hardware form of ``layer``.

        Raises
        ------
        UnsupportedPrecisionError
            If the layer's precision pair has no hardware implementation.
        """
        dot = dot_for(f"layer {layer.name!r}", layer.input_encoding, layer.weight_encoding)
        fan_in, bound = layer.in_features, layer.accumulator_bound
        acc_shape = dot.accumulator_shape(fan_in, bound)
        return LoweredDense(
            name=layer.name, fan_in=fan_in, fan_out=layer.out_features, dot=dot,
            input_shape=element_shape(layer.input_encoding),
            weight_shape=element_shape(layer.weight_encoding),
            weight_codes=layer.weight_encoding.to_code(layer.weights).astype(np.int64),
            acc_shape=acc_shape,
            output=lower_output(layer.output, dot, layer.weights, bound, acc_shape))

    def build(self, lowered: LoweredDense, folding: LayerFolding, in_lanes: int,
              options: HardwareOptions) -> MatrixVectorUnit:
        return MatrixVectorUnit(lowered, pe=folding.pe, simd=folding.simd, in_lanes=in_lanes,
                                options=options)

    def summary(self, lowered: LoweredDense, folding: LayerFolding, in_lanes: int) -> dict:
        cycles = layer_cycles(lowered.fan_in, lowered.fan_out, folding.pe, folding.simd)
        word = folding.pe * folding.simd * lowered.weight_shape.width
        return {
            "name": lowered.name, "op": self.op, "fan_in": lowered.fan_in,
            "fan_out": lowered.fan_out, "dot": lowered.dot.name, "pe": folding.pe,
            "simd": folding.simd, "synapse_folds": -(-lowered.fan_in // folding.simd),
            "neuron_folds": lowered.fan_out // folding.pe, "cycles_per_vector": cycles,
            "cycles": cycles,
            "input_bits": lowered.input_shape.width,
            "accumulator_bits": lowered.acc_shape.width,
            "output_bits": lowered.output_shape.width,
            "weight_memory": {"width": word, "depth": cycles, "bits": word * cycles},
        }
