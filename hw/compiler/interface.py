"""The interface of a generated design: what its streams carry and how its result is laid out.

``generate`` writes this description into ``design.json`` under ``"interface"``. It is the
contract between the generator and everything that talks to the design (the cocotb testbenches,
the board builds, the host driver), so none of them re-derives a width or a bit order::

    input stream -> fc0 -> fc1 -> ... -> fcL -> argmax -> result word
    (lanes elements per beat, element 0 of a vector in lane 0 of its first beat,
     lane 0 in the low bits of the beat)

A :class:`StreamFormat` describes one of the arrows: its lanes, the elements of one vector and
how each element's bits are read (an :class:`~qnnforge.sw.encoding.Encoding`); the layers'
output streams are the ones named after the layers (the score layer's elements are its signed
class scores). A :class:`ResultLayout` gives the bit offsets of the class index and of every
score in the argmax's result word.

Everything is computed from the artifact and the folding alone: element widths from the
artifact's encodings, the score width from :attr:`~qnnforge.sw.artifact.Artifact.score_bits`, and
the result's bit order from :func:`~qnnforge.hw.cores.argmax.result_layout`, the very layout the
argmax stage drives. :meth:`DesignInterface.from_json` validates a loaded description and names
the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from amaranth.hdl import signed

from ...sw.artifact import Artifact
from ...sw.encoding import KINDS, Encoding, sint
from ...sw.errors import QnnforgeError
from ..cores.argmax import result_layout
from .folding import Folding
from .layers import hardware_for
from .plan import check_folding

__all__ = ["INTERFACE_VERSION", "InterfaceError", "StreamFormat",
           "ResultLayout", "DesignInterface", "design_interface"]

INTERFACE_VERSION = 1
"""Version of the ``"interface"`` section that this module writes and reads."""



class InterfaceError(QnnforgeError, ValueError):
    """A design's interface description is missing, malformed or inconsistent.

    Parameters
    ----------
    field : str
        Path of the offending field, e.g. ``interface.layers[1].lanes``.
    message : str
        What is wrong with it.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def within(self, path: str) -> InterfaceError:
        """Return this error with its field path prefixed by ``path``."""
        return InterfaceError(f"{path}.{self.field}" if self.field else path, self.message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(field: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise InterfaceError(field, f"must be a positive integer, not {value!r}")


def _object(data: Any) -> dict:
    """Return ``data`` if it is a JSON object (the caller's path names it in the error)."""
    if not isinstance(data, dict):
        raise InterfaceError("", f"must be an object, not {data!r}")
    return data


def _get(mapping: dict, key: str, kind: type) -> Any:
    """Return ``mapping[key]`` if it is of ``kind`` (``key`` names the field in the error)."""
    if key not in mapping:
        raise InterfaceError(key, "is missing")
    value = mapping[key]
    if not (_is_int(value) if kind is int else isinstance(value, kind)):
        raise InterfaceError(key, f"must be {_TYPE_NAMES[kind]}, not {value!r}")
    return value


_TYPE_NAMES = {int: "an integer", bool: "a boolean", str: "a string", dict: "an object",
               list: "a list"}


def _derived(mapping: dict, key: str, expected: Any) -> None:
    """Check a redundant field (written for readers' convenience) against its derivation."""
    value = mapping.get(key)
    if value != expected:
        raise InterfaceError(key, f"must be {expected!r}, not {value!r}")


def _element_to_json(element: Encoding) -> dict:
    return {**element.to_json(), "signed": element.signed}


def _element_from_json(data: Any) -> Encoding:
    """Return the :class:`Encoding` an ``element`` entry describes (``signed`` is derived)."""
    data = _object(data)
    kind, bits = _get(data, "kind", str), _get(data, "bits", int)
    try:
        element = Encoding(kind, bits)
    except ValueError as error:
        raise InterfaceError("bits" if kind in KINDS else "kind", str(error)) from None
    _get(data, "signed", bool)
    _derived(data, "signed", element.signed)
    return element


@dataclass(frozen=True)
class StreamFormat:
    """One valid/ready stream of the design: ``lanes`` elements a beat, lane 0 in the low bits.

    Parameters
    ----------
    name : str
        ``"input"`` for the design's input, otherwise the layer whose output it carries.
    lanes : int
        Elements per beat (the input lanes or the layer's PE).
    elements : int
        Elements of one vector (one inference).
    element : Encoding
        How each element's bits are read (the artifact's encodings; class scores are ``int``
        of the artifact's score width).

    Raises
    ------
    InterfaceError
        If ``name`` is not an identifier or ``lanes`` does not divide ``elements``.
    """

    name: str
    lanes: int
    elements: int
    element: Encoding

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise InterfaceError("name", f"must be an identifier, not {self.name!r}")
        _positive("elements", self.elements)
        _positive("lanes", self.lanes)
        if self.elements % self.lanes:
            raise InterfaceError("lanes", f"must divide elements ({self.elements}), "
                                          f"not {self.lanes}")
        if not isinstance(self.element, Encoding):
            raise InterfaceError("element", f"must be an Encoding, not {self.element!r}")

    @property
    def beats(self) -> int:
        """Beats per vector."""
        return self.elements // self.lanes

    @property
    def beat_bits(self) -> int:
        """Width of one beat's payload."""
        return self.lanes * self.element.bits

    def to_json(self) -> dict:
        return {"name": self.name, "lanes": self.lanes, "elements": self.elements,
                "beats": self.beats, "beat_bits": self.beat_bits,
                "element": _element_to_json(self.element)}

    @classmethod
    def from_json(cls, data: Any) -> StreamFormat:
        """Return the stream ``data`` describes (see :meth:`to_json`).

        Raises
        ------
        InterfaceError
            If a field is missing, of the wrong type or inconsistent.
        """
        data = _object(data)
        try:
            element = _element_from_json(_get(data, "element", dict))
        except InterfaceError as error:
            raise error.within("element") from None
        stream = cls(_get(data, "name", str), _get(data, "lanes", int),
                     _get(data, "elements", int), element)
        _derived(data, "beats", stream.beats)
        _derived(data, "beat_bits", stream.beat_bits)
        return stream


@dataclass(frozen=True)
class ResultLayout:
    """The argmax's result word: the class index and every class score, at fixed bit offsets.

    Parameters
    ----------
    classes : int
        Scores per result.
    cls_bits : int
        Width of the class index (unsigned).
    score_bits : int
        Width of one score (two's complement).
    cls_offset : int
        Bit offset of the class index in the word.
    score_offsets : tuple of int
        Bit offset of each class's score.

    Raises
    ------
    InterfaceError
        If a width is too narrow, there is not one offset per class, or two fields overlap.
    """

    classes: int
    cls_bits: int
    score_bits: int
    cls_offset: int
    score_offsets: tuple[int, ...]

    def __post_init__(self) -> None:
        _positive("classes", self.classes)
        needed = max(1, (self.classes - 1).bit_length())
        if not _is_int(self.cls_bits) or not needed <= self.cls_bits <= 63:
            raise InterfaceError("cls_bits", f"must be an integer in {needed}..63 for "
                                             f"{self.classes} classes, not {self.cls_bits!r}")
        if not _is_int(self.score_bits) or not 2 <= self.score_bits <= 63:
            raise InterfaceError("score_bits", f"must be an integer in 2..63, not "
                                               f"{self.score_bits!r}")
        if len(self.score_offsets) != self.classes:
            raise InterfaceError("score_offsets", f"must hold one offset per class "
                                                  f"({self.classes}), not "
                                                  f"{len(self.score_offsets)}")
        fields = [("cls_offset", self.cls_offset, self.cls_bits)] + [
            (f"score_offsets[{index}]", offset, self.score_bits)
            for index, offset in enumerate(self.score_offsets)]
        end = 0
        for name, offset, width in sorted(fields, key=lambda field: field[1]):
            if not _is_int(offset) or offset < end:
                raise InterfaceError(name, f"must be an integer offset not overlapping another "
                                           f"field (from bit {end}), not {offset!r}")
            end = offset + width

    @classmethod
    def for_scores(cls, classes: int, score_bits: int) -> ResultLayout:
        """Return the layout the argmax stage drives for ``classes`` scores of ``score_bits``."""
        layout = result_layout(signed(score_bits), classes)
        scores = layout["scores"]
        return cls(classes=classes, cls_bits=layout["cls"].shape.width, score_bits=score_bits,
                   cls_offset=layout["cls"].offset,
                   score_offsets=tuple(scores.offset + scores.shape[index].offset
                                       for index in range(classes)))

    @property
    def width(self) -> int:
        """Width of the result word."""
        return max([self.cls_offset + self.cls_bits]
                   + [offset + self.score_bits for offset in self.score_offsets])

    def decode(self, word: int) -> tuple[int, tuple[int, ...]]:
        """Return the class index and the scores carried by one result ``word``."""
        cls = (word >> self.cls_offset) & ((1 << self.cls_bits) - 1)
        scores = sint(self.score_bits).from_code([(word >> offset) & ((1 << self.score_bits) - 1)
                                    for offset in self.score_offsets])
        return cls, tuple(int(score) for score in scores)

    def to_json(self) -> dict:
        return {"classes": self.classes, "cls_bits": self.cls_bits,
                "score_bits": self.score_bits, "cls_offset": self.cls_offset,
                "score_offsets": list(self.score_offsets), "width": self.width}

    @classmethod
    def from_json(cls, data: Any) -> ResultLayout:
        """Return the layout ``data`` describes (see :meth:`to_json`).

        Raises
        ------
        InterfaceError
            If a field is missing, of the wrong type or inconsistent.
        """
        data = _object(data)
        layout = cls(_get(data, "classes", int), _get(data, "cls_bits", int),
                     _get(data, "score_bits", int), _get(data, "cls_offset", int),
                     tuple(_get(data, "score_offsets", list)))
        _derived(data, "width", layout.width)
        return layout


@dataclass(frozen=True)
class DesignInterface:
    """Everything outside a generated design needs to know to drive it and read it.

    Parameters
    ----------
    input : StreamFormat
        The design's input stream (``i_stream``): the artifact's input codes.
    layers : tuple of StreamFormat
        Each layer's output stream (``<layer>.o_stream`` inside the design), in order; the last
        carries the class scores.
    result : ResultLayout
        The design's output stream (``o_stream``): one result word per inference.

    Raises
    ------
    InterfaceError
        If there is no layer, two streams share a name, or the last layer's scores disagree with
        the result layout.
    """

    input: StreamFormat
    layers: tuple[StreamFormat, ...]
    result: ResultLayout

    def __post_init__(self) -> None:
        if not self.layers:
            raise InterfaceError("layers", "must hold at least one layer")
        names = ["input"]
        for index, layer in enumerate(self.layers):
            if layer.name in names:
                raise InterfaceError(f"layers[{index}].name", f"must be unique, not "
                                                              f"{layer.name!r}")
            names.append(layer.name)
        scores = self.layers[-1]
        expected = sint(self.result.score_bits)
        if scores.element != expected or scores.elements != self.result.classes:
            raise InterfaceError(f"layers[{len(self.layers) - 1}]", f"must carry the "
                                 f"{self.result.classes} int{self.result.score_bits} scores of "
                                 f"the result, not {scores.elements} {scores.element} "
                                 f"elements")

    @property
    def score_bits(self) -> int:
        """Width of one class score."""
        return self.result.score_bits

    @property
    def classes(self) -> int:
        return self.result.classes

    def layer(self, name: str) -> StreamFormat:
        """Return the output stream of the layer called ``name``.

        Raises
        ------
        KeyError
            If no layer has that name.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_json(self) -> dict:
        """Return the ``"interface"`` section of ``design.json``."""
        return {"version": INTERFACE_VERSION, "input": self.input.to_json(),
                "layers": [layer.to_json() for layer in self.layers],
                "result": self.result.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> DesignInterface:
        """Return the interface that a ``design.json`` ``"interface"`` section describes.

        Raises
        ------
        InterfaceError
            If the section is missing, of another version, or a field is missing, of the wrong
            type or inconsistent; the message names the field (``interface.layers[1].lanes``).
        """
        try:
            if not isinstance(data, dict):
                raise InterfaceError("interface", f"must be an object, not {data!r} (was the "
                                                  f"design generated by an older qnnforge?)")
            version = data.get("version")
            if version != INTERFACE_VERSION:
                raise InterfaceError("version", f"must be {INTERFACE_VERSION}, not {version!r}")
            parts = {}
            for key, reader in (("input", StreamFormat.from_json),
                                ("result", ResultLayout.from_json)):
                section = _get(data, key, dict)
                try:
                    parts[key] = reader(section)
                except InterfaceError as error:
                    raise error.within(key) from None
            layers = []
            for index, entry in enumerate(_get(data, "layers", list)):
                try:
                    layers.append(StreamFormat.from_json(entry))
                except InterfaceError as error:
                    raise error.within(f"layers[{index}]") from None
            return cls(parts["input"], tuple(layers), parts["result"])
        except InterfaceError as error:
            if error.field == "interface":
                raise
            raise error.within("interface") from None


def design_interface(artifact: Artifact, folding: Folding) -> DesignInterface:
    """Return the interface of the design generated for ``artifact`` with ``folding``.

    Only the folding's lanes matter (the input lanes and each layer kind's output lanes); the
    SIMD of a layer changes its timing, not its streams.

    Raises
    ------
    FoldingError
        If the folding does not fit the artifact.
    """
    check_folding(artifact.layers, folding)
    stream = StreamFormat("input", folding.input_lanes, artifact.in_features,
                          artifact.input.encoding)
    layers = []
    for layer, layer_folding in zip(artifact.layers, folding.layers):
        # a layer without an activation encoding outputs the class scores
        element = layer.output_encoding or sint(artifact.score_bits)
        lanes = hardware_for(layer).out_lanes(layer_folding)
        layers.append(StreamFormat(layer.name, lanes, layer.out_features, element))
    return DesignInterface(stream, tuple(layers),
                           ResultLayout.for_scores(artifact.num_classes, artifact.score_bits))
