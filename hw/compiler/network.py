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

With ``HardwareOptions.writable_weights`` the network has one more input, ``w_stream``: the
beats of :meth:`Network.weight_beats`, routed to each weighted layer in turn (as many beats as
its unit takes, then the next layer's), so one load rewrites every weight memory.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
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
    w_stream : In(stream.Signature(unsigned(bits)))
        Only with ``options.writable_weights``: new weights, the beats of
        :meth:`weight_beats`; ``bits`` is the widest weighted layer's ``SIMD * weight bits``
        and a narrower layer takes the low bits of its beats.

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
        self._units = []
        lanes = folding.input_lanes
        for kind, lowered, fold in zip(self._kinds, self._lowered, folding.layers):
            self._units.append(kind.build(lowered, fold, lanes, options))
            lanes = kind.out_lanes(fold)
        members = {
            "i_stream": In(stream.Signature(data.ArrayLayout(
                element_shape(artifact.input.encoding), folding.input_lanes))),
            "o_stream": Out(stream.Signature(result_layout(self._score_shape,
                                                           artifact.num_classes))),
        }
        # (layer index, unit) of every unit with a weight stream, in layer order; none
        # without writable weights
        self._weighted = tuple((index, unit) for index, unit in enumerate(self._units)
                               if "w_stream" in unit.signature.members)
        if self._weighted:
            bits = max(len(unit.w_stream.payload) for _, unit in self._weighted)
            members["w_stream"] = In(stream.Signature(unsigned(bits)))
        super().__init__(members)

    @property
    def artifact(self) -> Artifact:
        return self._artifact

    @property
    def lowered(self) -> tuple:
        """Each layer's hardware form, as its kind lowered it."""
        return self._lowered

    @property
    def units(self) -> tuple[wiring.Component, ...]:
        """Each layer's unit, as its kind built it."""
        return tuple(self._units)

    @property
    def folding(self) -> Folding:
        return self._folding

    @property
    def options(self) -> HardwareOptions:
        return self._options

    def weight_stream(self) -> dict | None:
        """Return the weight stream's ``design.json`` entry, or None without writable weights:
        its beat width and, in load order, each weighted layer's beats and the low bits of a
        beat that it takes."""
        if not self._weighted:
            return None
        return {"beat_bits": len(self.w_stream.payload),
                "layers": [{"name": self._artifact.layers[index].name,
                            "beats": unit.load_beats, "beat_bits": len(unit.w_stream.payload)}
                           for index, unit in self._weighted]}

    def weight_beats(self, artifact: Artifact) -> list[int]:
        """Return the ``w_stream`` beats that load the weights of ``artifact`` into this
        network: every weighted layer's beats, in layer order. ``artifact`` must differ from
        the built one in its weights only; thresholds and every other constant stay built in.

        Raises
        ------
        ValueError
            If the network was built without writable weights, or ``artifact`` differs from
            the built one in anything but its weights (its layers, their shapes, encodings
            or output constants, its input rule).
        """
        if not self._weighted:
            raise ValueError("the network was built without writable weights "
                             "(HardwareOptions.writable_weights)")
        own = self._artifact
        if artifact.input != own.input:
            raise ValueError("the loaded artifact's input rule differs from the built one")
        ops = [layer.op for layer in artifact.layers]
        if ops != [layer.op for layer in own.layers]:
            raise ValueError(f"the loaded artifact's layers are {ops}, not "
                             f"{[layer.op for layer in own.layers]}")
        beats = []
        for index, unit in self._weighted:
            beats += unit.weight_beats(self._kinds[index].lower(artifact.layers[index]))
        weighted = {index for index, _ in self._weighted}
        for index, layer in enumerate(artifact.layers):  # weightless layers: all must match
            if index not in weighted and layer != own.layers[index]:
                raise ValueError(f"the loaded artifact's layer {layer.name!r} differs from the "
                                 f"built one")
        return beats

    def layer_summaries(self) -> list[dict]:
        """Return each layer's design.json entry, as its kind writes it."""
        lanes = stream_lanes(self._artifact.layers, self._folding)
        return [kind.summary(lowered, fold, width) for kind, lowered, fold, width
                in zip(self._kinds, self._lowered, self._folding.layers, lanes)]

    def elaborate(self, platform):
        m = Module()
        units = self._units
        for unit, layer in zip(units, self._artifact.layers):
            m.submodules[layer.name] = unit
        lanes = self._kinds[-1].out_lanes(self._folding.layers[-1])
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
        if self._weighted:
            self._weight_router(m)
        return m

    def _weight_router(self, m: Module) -> None:
        """Route ``w_stream`` to the weighted units in layer order, each for as many beats as
        its load has (counted here, so a unit needs no output to say its load ended)."""
        w = self.w_stream
        weighted = [unit for _, unit in self._weighted]
        loads = [unit.load_beats for unit in weighted]
        target = Signal(range(len(weighted)), name="weight_target")
        beat = Signal(range(max(loads)), name="weight_beat")
        last = Signal(name="weight_last")
        for k, unit in enumerate(weighted):
            port = unit.w_stream
            m.d.comb += [port.payload.eq(w.payload[:len(port.payload)]),
                         port.valid.eq(w.valid & (target == k))]
        with m.Switch(target):
            for k, unit in enumerate(weighted):
                with m.Case(k):
                    m.d.comb += [w.ready.eq(unit.w_stream.ready), last.eq(beat == loads[k] - 1)]
        with m.If(w.valid & w.ready):
            m.d.sync += beat.eq(beat + 1)
            with m.If(last):
                m.d.sync += [beat.eq(0), target.eq(target + 1)]
                with m.If(target == len(weighted) - 1):
                    m.d.sync += target.eq(0)
