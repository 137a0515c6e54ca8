"""Folding a layer's float tail into integer thresholds, from the graph's own float arithmetic.

After a ``MatMul``/``Gemm``/``Conv`` a QONNX graph computes, per output channel, a float
function of the integer accumulator: the scales (``s_w * (alpha * acc + beta * sum(w))``), then
batch-norm, ``Mul``/``Add``/``Sub``/``Div`` and ``Relu`` nodes, then an activation quantizer
(``Quant``, ``BipolarQuant`` or ``MultiThreshold``). Rather than re-deriving that function as a
float formula that happens to be close, :class:`Tail` *runs the graph's own nodes* on integer
accumulator values: the standard nodes through ONNX Runtime one node at a time (as QONNX's
executor runs them), the quantizers with QONNX's rules. The composition is monotone per channel,
so a binary search over the accumulator range ``-B..B`` finds, for each channel and output level,
the exact accumulator at which the level is first reached: the integer threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encoding import BIPOLAR, Encoding, uint
from ..inputs import FloatQuantizer
from ..outputs import MultiThresholdActivation, ThresholdActivation

__all__ = ["Levels", "Tail", "cast_type", "fold_activation"]


@dataclass(frozen=True)
class Levels:
    """An activation quantizer as a map from its float input to an output level.

    ``level`` is the artifact's value ``u``: ``+1``/``-1`` for a bipolar output, else the number
    of steps above the lowest code, ``0 .. 2**bits - 1``. The quantizer's float output is
    ``alpha * u + beta``.
    """

    encoding: Encoding
    alpha: float
    beta: float
    quantizer: FloatQuantizer | None = None
    thresholds: np.ndarray | None = None
    """QONNX ``MultiThreshold`` thresholds ``(channels or 1, T)``, when that is the quantizer."""

    def level(self, x: np.ndarray) -> np.ndarray:
        """Return the levels of float inputs ``x`` of shape ``(n, channels, ...)``."""
        if self.thresholds is not None:  # QONNX's multithreshold: #{t : x >= t} per channel
            counts = np.sum(np.moveaxis(x, 1, -1)[..., None] >= self.thresholds, axis=-1)
            counts = np.moveaxis(counts, -1, 1).astype(np.int64)
            return 2 * counts - 1 if self.encoding == BIPOLAR else counts
        codes = self.quantizer.codes(x)
        return codes if self.encoding == BIPOLAR else codes - self.quantizer.min_code


class Tail:
    """The float nodes between a weighted node and its activation quantizer, runnable on
    candidate accumulators.

    Parameters
    ----------
    nodes : list of onnx.NodeProto
        The chain, in order; each reads the previous one's output as its first input.
    constants : dict of str to numpy.ndarray
        The values of every other input the nodes read.
    opset : int
        The default domain's opset version.
    spatial : int
        Trailing axes of size 1 to give candidates (2 after a ``Conv``: ``(n, C, 1, 1)``).
    dtype : numpy dtype
        The chain's float type.
    """

    def __init__(self, nodes: list, constants: dict, opset: int, spatial: int,
                 dtype: np.dtype) -> None:
        self._spatial = spatial
        self.dtype = np.dtype(dtype)
        self._steps = []  # an ONNX Runtime session per node; a Cast is numpy's astype
        current = self.dtype
        for node in nodes:
            if node.op_type == "Cast":
                current = cast_type(node)
                self._steps.append(current)
            else:
                self._steps.append(_session(node, constants, opset, spatial, current))

    def run(self, x: np.ndarray) -> np.ndarray:
        """Return the chain's output for inputs ``x`` of shape ``(n, channels)``."""
        x = np.asarray(x, dtype=self.dtype).reshape(*x.shape, *(1,) * self._spatial)
        for step in self._steps:
            x = x.astype(step) if isinstance(step, np.dtype) else step.run(None, {"x": x})[0]
        return x


def cast_type(node) -> np.dtype:
    """Return the float type a ``Cast`` node converts to (float32 or float64).

    Raises
    ------
    ValueError
        If it converts to anything else.
    """
    from onnx import TensorProto

    to = next((attribute.i for attribute in node.attribute if attribute.name == "to"), None)
    types = {TensorProto.FLOAT: np.dtype(np.float32), TensorProto.DOUBLE: np.dtype(np.float64)}
    if to not in types:
        raise ValueError("a Cast must convert to float32 or float64")
    return types[to]


def _session(node, constants: dict, opset: int, spatial: int, dtype: np.dtype):
    """Return an ONNX Runtime session running ``node`` alone on input ``x`` (any batch)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.DOUBLE if np.dtype(dtype) == np.float64 else TensorProto.FLOAT
    copy = helper.make_node(node.op_type, ["x", *node.input[1:]], ["y"], domain=node.domain)
    copy.attribute.extend(node.attribute)
    shape = [None, None] + [None] * spatial
    graph = helper.make_graph(
        [copy], "tail", [helper.make_tensor_value_info("x", elem, shape)],
        [helper.make_tensor_value_info("y", elem, shape)],
        initializer=[numpy_helper.from_array(constants[name], name)
                     for name in dict.fromkeys(node.input[1:]) if name])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 9)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def fold_activation(tail: Tail, levels: Levels, inputs, bound: int, channels: int,
                    hint: np.ndarray) -> ThresholdActivation | MultiThresholdActivation:
    """Return the integer output rule of a layer whose accumulators lie in ``-bound..bound``.

    Parameters
    ----------
    tail : Tail
        The float nodes after the weighted node.
    levels : Levels
        The activation quantizer.
    inputs : callable
        ``inputs(acc)``: the weighted node's float output for integer accumulators ``acc``
        ``(n, channels)`` (the scales applied), the tail's input.
    bound : int
        The layer's accumulator bound ``B``.
    hint : numpy.ndarray
        The direction (+1/-1) of each channel's float slope: the direction of a channel whose
        level is the same over the whole range (either would do; this one round-trips).
    """
    def level(acc: np.ndarray) -> np.ndarray:
        return levels.level(tail.run(inputs(acc))).reshape(acc.shape)

    ends = level(np.array([[-bound] * channels, [bound] * channels], dtype=np.int64))
    directions = np.where(ends[0] > ends[1], -1, np.where(ends[0] < ends[1], 1, hint))
    directions = directions.astype(np.int64)
    if levels.encoding == BIPOLAR:
        targets = np.array([1])
    else:
        targets = np.arange(1, 1 << levels.encoding.bits)
    # smallest t in -bound..bound + 1 with level(direction * t) >= target (bound + 1: never)
    low = np.full((len(targets), channels), -bound, dtype=np.int64)
    high = np.full((len(targets), channels), bound + 1, dtype=np.int64)
    while np.any(low < high):
        active = low < high
        middle = (low + high) // 2
        reached = level(directions * np.minimum(middle, bound)) >= targets[:, None]
        reached &= middle <= bound
        high = np.where(active & reached, middle, high)
        low = np.where(active & ~reached, middle + 1, low)
    thresholds = low.T
    if levels.encoding == BIPOLAR:
        return ThresholdActivation(thresholds=thresholds[:, 0], directions=directions)
    return MultiThresholdActivation(thresholds=thresholds, directions=directions,
                                    encoding=uint(levels.encoding.bits))
