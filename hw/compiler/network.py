"""The whole accelerator: matrix-vector units streamed layer to layer, then an argmax.

::

    i_stream -> MVU fc0 -> MVU fc1 -> ... -> MVU fcL -> Argmax -> o_stream

Each arrow is an ``amaranth.lib.stream`` valid/ready connection; the output beat width of one
layer (its PE) is the input beat width of the next, so no width converter is needed.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.artifact import Artifact
from ..cores.argmax import Argmax, result_layout
from .folding import Folding, check_layer_folding
from .options import HardwareOptions
from .lowering import LoweredLayer, element_shape, lower_layer
from ..cores.mvu import MatrixVectorUnit

__all__ = ["Network"]


class Network(wiring.Component):
    """Dataflow accelerator for an artifact with a given folding.

    Parameters
    ----------
    artifact : Artifact
        The validated integer network.
    folding : Folding
        PE/SIMD per layer and the input stream width.
    options : HardwareOptions
        DSP use and popcount architecture of every layer.

    Attributes
    ----------
    i_stream : In(stream.Signature(ArrayLayout(input_shape, input_lanes)))
        Quantized input codes, ``in_features / input_lanes`` beats per inference.
    o_stream : Out(stream.Signature(result_layout))
        One result per inference: ``cls`` and all class ``scores``.

    Raises
    ------
    ValueError
        If the folding does not have one entry per layer or does not fit a layer.
    """

    def __init__(self, artifact: Artifact, folding: Folding, *,
                 options: HardwareOptions = HardwareOptions()):
        if len(folding.layers) != len(artifact.layers):
            raise ValueError(f"folding has {len(folding.layers)} layers, the artifact "
                             f"{len(artifact.layers)}")
        for index, (layer, layer_folding) in enumerate(zip(artifact.layers, folding.layers)):
            check_layer_folding(index, layer.in_features, layer.out_features, layer_folding)
        if artifact.in_features % folding.input_lanes:
            raise ValueError(f"input lanes must divide the input size {artifact.in_features}, "
                             f"not {folding.input_lanes}")
        self._artifact = artifact
        self._folding = folding
        if not isinstance(options, HardwareOptions):
            raise TypeError(f"options must be a HardwareOptions, not {options!r}")
        self._options = options
        self._lowered = tuple(lower_layer(layer) for layer in artifact.layers)
        last = self._lowered[-1]
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(
                element_shape(artifact.input.encoding), folding.input_lanes))),
            "o_stream": Out(stream.Signature(result_layout(last.output_shape, last.fan_out))),
        })

    @property
    def lowered(self) -> tuple[LoweredLayer, ...]:
        return self._lowered

    @property
    def folding(self) -> Folding:
        return self._folding

    @property
    def options(self) -> HardwareOptions:
        return self._options

    def elaborate(self, platform):
        m = Module()
        lanes = self._folding.input_lanes
        units = []
        for layer, layer_folding in zip(self._lowered, self._folding.layers):
            unit = MatrixVectorUnit(layer, pe=layer_folding.pe, simd=layer_folding.simd,
                                    in_lanes=lanes, dsp=self._options.dsp,
                                    popcount=self._options.popcount,
                                    lut_inputs=self._options.lut_inputs)
            m.submodules[layer.name] = unit
            units.append(unit)
            lanes = layer_folding.pe
        last = self._lowered[-1]
        m.submodules.argmax = argmax = Argmax(last.output_shape, last.fan_out, lanes)
        wiring.connect(m, wiring.flipped(self.i_stream), units[0].i_stream)
        for producer, consumer in zip(units[:-1], units[1:]):
            wiring.connect(m, producer.o_stream, consumer.i_stream)
        wiring.connect(m, units[-1].o_stream, argmax.i_stream)
        wiring.connect(m, argmax.o_stream, wiring.flipped(self.o_stream))
        return m
