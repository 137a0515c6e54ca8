"""The whole accelerator: one unit per layer, streamed layer to layer, then an argmax.

::

    i_stream [-> SkidBuffer] -> unit 0 -> unit 1 -> ... -> unit L [-> SkidBuffer] -> Argmax
             -> o_stream

Each layer's kind (:mod:`.layers`) lowers it and builds its unit (a matrix-vector unit, a
sliding-window unit feeding one, a pool); each arrow is an ``amaranth.lib.stream`` valid/ready
connection. The output beat width of one layer is the input beat width of the next, so no width
converter is needed. A pipelined network (``HardwareOptions.pipeline``) starts with a
:class:`~..cores.skid_buffer.SkidBuffer`, so its producer's ``valid`` stops there instead of
reaching the first input buffer's write logic, and has another between its last layer and the
argmax, so the argmax's ``ready`` (its consumer's, through one LUT) stops there instead of
reaching the last layer's enables; that one holds a beat of scores, narrower than a result of
all of them with the class (between layers, the input buffers' ``ready`` is a register).
"""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.artifact import Artifact
from ..cores.argmax import Argmax, result_layout
from ..cores.skid_buffer import SkidBuffer
from .folding import Folding
from .layers import hardware_for
from .lowering import element_shape
from .options import HardwareOptions
from .plan import check_folding, stream_lanes

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
    FoldingError
        If the folding does not have one entry per layer or does not fit a layer.
    UnsupportedPrecisionError
        If a layer's precision pair has no hardware implementation.
    """

    def __init__(self, artifact: Artifact, folding: Folding, *,
                 options: HardwareOptions = HardwareOptions()):
        check_folding(artifact.layers, folding)
        if not isinstance(options, HardwareOptions):
            raise TypeError(f"options must be a HardwareOptions, not {options!r}")
        self._artifact = artifact
        self._folding = folding
        self._options = options
        self._kinds = tuple(hardware_for(layer) for layer in artifact.layers)
        self._lowered = tuple(kind.lower(layer)
                              for kind, layer in zip(self._kinds, artifact.layers))
        self._score_shape = signed(artifact.score_bits)
        super().__init__({
            "i_stream": In(stream.Signature(data.ArrayLayout(
                element_shape(artifact.input.encoding), folding.input_lanes))),
            "o_stream": Out(stream.Signature(result_layout(self._score_shape,
                                                           artifact.num_classes))),
        })

    @property
    def artifact(self) -> Artifact:
        return self._artifact

    @property
    def lowered(self) -> tuple:
        """Each layer's hardware form, as its kind lowered it."""
        return self._lowered

    @property
    def folding(self) -> Folding:
        return self._folding

    @property
    def options(self) -> HardwareOptions:
        return self._options

    def layer_summaries(self) -> list[dict]:
        """Return each layer's design.json entry, as its kind writes it."""
        lanes = stream_lanes(self._artifact.layers, self._folding)
        return [kind.summary(lowered, fold, width) for kind, lowered, fold, width
                in zip(self._kinds, self._lowered, self._folding.layers, lanes)]

    def elaborate(self, platform):
        m = Module()
        lanes = self._folding.input_lanes
        units = []
        for kind, lowered, fold, layer in zip(self._kinds, self._lowered, self._folding.layers,
                                              self._artifact.layers):
            unit = kind.build(lowered, fold, lanes, self._options)
            m.submodules[layer.name] = unit
            units.append(unit)
            lanes = kind.out_lanes(fold)
        m.submodules.argmax = argmax = Argmax(self._score_shape, self._artifact.num_classes,
                                              lanes, pipelined=self._options.pipelined)
        if self._options.pipelined:
            # the producer's valid would otherwise reach the first input buffer's write logic
            m.submodules.source = source = SkidBuffer(self.i_stream.payload.shape())
            wiring.connect(m, wiring.flipped(self.i_stream), source.i_stream)
            wiring.connect(m, source.o_stream, units[0].i_stream)
        else:
            wiring.connect(m, wiring.flipped(self.i_stream), units[0].i_stream)
        for producer, consumer in zip(units[:-1], units[1:]):
            wiring.connect(m, producer.o_stream, consumer.i_stream)
        if self._options.pipelined:
            # the argmax's ready would otherwise reach every register of the last layer
            m.submodules.scores = scores = SkidBuffer(units[-1].o_stream.payload.shape())
            wiring.connect(m, units[-1].o_stream, scores.i_stream)
            wiring.connect(m, scores.o_stream, argmax.i_stream)
        else:
            wiring.connect(m, units[-1].o_stream, argmax.i_stream)
        wiring.connect(m, argmax.o_stream, wiring.flipped(self.o_stream))
        return m
