"""QONNX to artifact: a Brevitas (or qnnforge-exported) QONNX model as an integer-only artifact.

The graph is read after QONNX's own cleanup (:mod:`.graph`) and walked from its input to its
output as a chain of stages:

* **input**: reorders (``Reshape``/``Flatten``/``Transpose``) and scalar ``Mul``/``Add``/``Sub``/
  ``Div`` up to the first ``Quant``/``BipolarQuant``: the artifact's float input rule
  (:class:`~qnnforge.sw.inputs.FloatInputQuantizer`), or the integer rule that a qnnforge export
  names in its metadata when the graph computes exactly that on every raw integer;
* **activation**: a quantized tensor, ``value = alpha * u + beta`` with ``u`` the artifact's
  integer, through reorders, scalar scales and ``MaxPool``;
* **layer**: ``Gemm``/``MatMul``/``Conv`` with ``Quant``/``BipolarQuant`` weights (the integer
  weights, their scale per tensor or per output channel), then its float tail (batch-norm,
  ``Mul``/``Add``/``Sub``/``Div``, ``Relu``) up to the next activation quantizer (folded into
  thresholds by :func:`~.folding.fold_activation`) or to the graph output (integer class
  scores).

Before anything is built, every node is checked; :class:`~.graph.QonnxImportError` lists every
node that cannot be imported, by name and op type with the reason, in one message.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifact import Artifact
from ..encoding import BIPOLAR, TERNARY, Encoding, sint, uint
from ..inputs import FloatInputQuantizer, FloatQuantizer, InputQuantizer, Rounding, Step, StepOp
from ..layers import Conv2dLayer, DenseLayer, MaxPool2dLayer
from ..layers.dense import MAX_WEIGHT_BITS, accumulator_bound
from ..manifest import ArtifactError
from ..outputs import MultiThresholdActivation, RequantizeOutput, ScoreOutput
from .folding import Levels, Tail, cast_type, fold_activation
from .graph import Graph, Problem, QonnxImportError, load_graph

__all__ = ["import_qonnx", "QonnxImportError", "SUPPORTED_OPS"]

SUPPORTED_OPS = ("Quant", "BipolarQuant", "MultiThreshold", "Gemm", "MatMul", "Conv",
                 "BatchNormalization", "Mul", "Add", "Sub", "Div", "Relu", "MaxPool", "Reshape",
                 "Flatten", "Transpose", "Cast", "Pad")
"""Every op type the importer reads (each within the limits its stage checks)."""

_REASONS = {
    "Sigmoid": "a float activation without a quantizer has no exact integer form",
    "Tanh": "a float activation without a quantizer has no exact integer form",
    "Softmax": "a float activation without a quantizer has no exact integer form",
    "AveragePool": "average pooling divides, which has no exact integer form here",
    "GlobalAveragePool": "average pooling divides, which has no exact integer form here",
    "Concat": "joins branches; only a chain of layers is supported",
}
_SCALAR_OPS = {"Mul": StepOp.MUL, "Add": StepOp.ADD, "Sub": StepOp.SUB, "Div": StepOp.DIV}
_REORDERS = ("Reshape", "Flatten", "Transpose")
_TAIL_OPS = ("Mul", "Add", "Sub", "Div", "BatchNormalization", "Relu", "Cast")
_QUANTIZERS = ("Quant", "BipolarQuant", "MultiThreshold")
_WEIGHTED = ("Gemm", "MatMul", "Conv")
_MAX_ACTIVATION_BITS = MultiThresholdActivation.MAX_BITS
_EXACT_RAW_RANGE = 1 << 20
"""Largest raw range on which a qnnforge export's integer input rule is checked value by value."""


@dataclass
class _Activation:
    """A quantized tensor: element ``i`` (ONNX order) is ``alpha * u[perm[i]] + beta``."""

    tensor: str
    encoding: Encoding
    alpha: float
    beta: float
    perm: np.ndarray


class _Refused(Exception):
    """A stage cannot go on; its problems are already recorded."""


def import_qonnx(path: str | os.PathLike, name: str | None = None) -> Artifact:
    """Import the QONNX model file ``path`` as an artifact.

    Parameters
    ----------
    path : path
        A ``.onnx`` file as Brevitas's ``export_qonnx`` or ``qnnforge export`` writes it.
    name : str, optional
        The artifact's name (default: the model's ``qnnforge.name`` metadata, else the file's
        stem).

    Raises
    ------
    QonnxImportError
        If the file is unreadable, or any node cannot be imported (all such nodes are listed).
    """
    graph = load_graph(path)
    importer = _Importer(graph, Path(path))
    return importer.run(name)


class _Importer:
    def __init__(self, graph: Graph, path: Path) -> None:
        self.graph = graph
        self.path = path
        self.problems: list[Problem] = []
        self.visited: set[str] = set()
        self.layers: list = []
        self.names: set[str] = set()

    # --- the walk ---------------------------------------------------------------------------

    def run(self, name: str | None) -> Artifact:
        graph = self.graph
        self._check_op_types()
        rule = None
        try:
            rule, activation = self._input_stage()
            while True:
                activation = self._activation_stage(activation)
                if activation is None:
                    break
        except _Refused:
            pass
        self._check_unvisited()
        if self.problems:
            lines = "\n".join(f"  {problem}" for problem in self.problems)
            count = len(self.problems)
            raise QonnxImportError(f"{self.path}: {count} node{'s' if count > 1 else ''} "
                                   f"cannot be imported:\n{lines}")
        metadata = self._metadata()
        name = name or graph.metadata("qnnforge.name") or self.path.stem
        rule = self._exported_integer_rule(rule)
        try:
            return Artifact(name=name, input=rule, layers=tuple(self.layers), metadata=metadata)
        except ArtifactError as error:
            raise QonnxImportError(f"{self.path}: the imported network is not a valid "
                                   f"artifact ({error})") from None

    def _metadata(self) -> dict:
        """Return a qnnforge export's metadata, else where the model came from."""
        try:
            metadata = json.loads(self.graph.metadata("qnnforge.metadata") or "null")
        except ValueError:
            metadata = None
        return metadata if isinstance(metadata, dict) else {"imported_from": self.path.name}

    def _refuse(self, node, reason: str) -> _Refused:
        """Record why ``node`` cannot be imported (once a node) and return the exception that
        stops the walk."""
        if all(problem.node != self.graph.label(node) for problem in self.problems):
            self.problems.append(self.graph.problem(node, reason))
        self.visited.add(node.name)
        return _Refused()

    def _check_op_types(self) -> None:
        for node in self.graph.graph.node:
            if node.op_type not in SUPPORTED_OPS:
                self.problems.append(self.graph.problem(node, _REASONS.get(
                    node.op_type, "this op type has no exact integer form in qnnforge")))
                self.visited.add(node.name)

    def _check_unvisited(self) -> None:
        if self.problems:
            return  # the walk stopped early: nodes after it were never reached
        for node in self.graph.graph.node:
            if node.name not in self.visited and not self._is_weight_quantizer(node):
                self.problems.append(self.graph.problem(
                    node, "not on the path from the graph input to its output"))

    def _next(self, tensor: str):
        """Return the one node reading ``tensor``, or None at the graph output.

        A node of an unsupported op type (already reported) is stepped over, so the walk goes
        on checking, and reporting, the nodes after it.
        """
        while True:
            consumers = self.graph.consumers(tensor)
            if tensor == self.graph.output and not consumers:
                return None
            if not consumers:
                raise self._refuse(self._producer(tensor), "its output is never used: the "
                                                           "graph must be one chain to its "
                                                           "output")
            if len(consumers) != 1:
                for other in consumers:
                    self._refuse(other, "the graph branches here; only a chain of layers is "
                                        "supported")
                raise _Refused()
            node = consumers[0]
            self.visited.add(node.name)
            if node.op_type in SUPPORTED_OPS:
                return node
            tensor = node.output[0]

    def _scalar(self, node, index: int, what: str) -> float:
        value = self.graph.constant(node.input[index]) if index < len(node.input) else None
        if value is None or value.size != 1:
            raise self._refuse(node, f"{what} must be a constant scalar")
        return float(value.reshape(()))

    def _other_constant(self, node, tensor: str) -> np.ndarray:
        """Return the constant operand of a binary node reading ``tensor``."""
        inputs = list(node.input)
        if inputs[0] != tensor and node.op_type in ("Sub", "Div"):
            raise self._refuse(node, "the constant must be the second operand")
        other = inputs[1] if inputs[0] == tensor else inputs[0]
        value = self.graph.constant(other)
        if value is None:
            raise self._refuse(node, "the other operand must be a constant "
                                     "(two computed tensors join branches)")
        return value

    # --- input --------------------------------------------------------------------------------

    def _input_stage(self):
        graph = self.graph
        tensor = graph.input
        raw_shape = graph.shape(tensor)
        if raw_shape is None or len(raw_shape) < 2 or raw_shape[0] != 1:
            raise QonnxImportError(f"{self.path}: the graph input must have a batch axis of 1 "
                                   f"and a known shape, not {raw_shape}")
        raw_shape = raw_shape[1:]
        channels_last = len(raw_shape) == 3 and self._first_weighted() == "Conv"
        perm = _channels_last_index(raw_shape) if channels_last else np.arange(
            int(np.prod(raw_shape))).reshape(raw_shape)
        steps = []
        while True:
            node = self._next(tensor)
            if node is None:
                raise QonnxImportError(f"{self.path}: the graph has no layer to import")
            if node.op_type in _REORDERS:
                perm = self._reorder(node, perm)
            elif node.op_type in _SCALAR_OPS:
                value = self._other_constant(node, tensor)
                if value.size != 1:
                    raise self._refuse(node, "the input arithmetic must be scalar (a "
                                             "per-element input scale has no float32 rule here)")
                steps.append(Step(_SCALAR_OPS[node.op_type], float(np.float32(value.reshape(())))))
            elif node.op_type in ("Quant", "BipolarQuant"):
                quantizer = self._quantizer(node)
                if quantizer.bits > 16:
                    raise self._refuse(node, f"an input quantizer of at most 16 bits is "
                                             f"supported, not {quantizer.bits}")
                break
            else:
                raise self._refuse(node, "the graph input must reach a Quant or BipolarQuant "
                                         "through reorders and scalar Mul/Add/Sub/Div only")
            tensor = node.output[0]
        rule = FloatInputQuantizer(encoding=quantizer.unsigned_encoding, raw_shape=raw_shape,
                                   channels_last=channels_last, steps=tuple(steps),
                                   quantizer=quantizer)
        a, b = quantizer.code_affine()
        scale, zero = quantizer.scale, quantizer.zero_point
        encoding = uint(quantizer.bits)
        return rule, _Activation(node.output[0], encoding, scale * a, scale * (b - zero), perm)

    def _first_weighted(self) -> str | None:
        return next((node.op_type for node in self.graph.graph.node
                     if node.op_type in _WEIGHTED), None)

    def _quantizer(self, node) -> FloatQuantizer:
        """Return the ``Quant``/``BipolarQuant`` node as a per-tensor :class:`FloatQuantizer`."""
        if node.op_type == "BipolarQuant":
            scale = self._scalar(node, 1, "the scale")
            if not scale > 0:
                raise self._refuse(node, f"the scale must be positive, not {scale}")
            return FloatQuantizer(scale, 0.0, 1, True, False, Rounding.ROUND)
        scale = self._scalar(node, 1, "the scale (per tensor for an activation)")
        zero = self._scalar(node, 2, "the zero point")
        bits = self._scalar(node, 3, "the bit width")
        if not scale > 0:
            raise self._refuse(node, f"the scale must be positive, not {scale}")
        if bits != int(bits) or not 1 <= bits <= 16:
            raise self._refuse(node, f"the bit width must be an integer in 1..16, not {bits}")
        mode = str(self.graph.attribute(node, "rounding_mode", "ROUND")).upper()
        if mode not in Rounding.__members__:
            raise self._refuse(node, f"rounding mode {mode!r} is unknown")
        return FloatQuantizer(float(np.float32(scale)), float(np.float32(zero)), int(bits),
                              bool(self.graph.attribute(node, "signed", 1)),
                              bool(self.graph.attribute(node, "narrow", 0)), Rounding[mode])

    def _exported_integer_rule(self, rule):
        """Return a qnnforge export's integer input rule if the graph computes exactly it."""
        text = self.graph.metadata("qnnforge.input")
        if text is None:
            return rule
        try:
            entry = json.loads(text)
            integer = InputQuantizer.from_manifest(entry, "qnnforge.input")
            integer.validate("qnnforge.input", (rule.raw_shape[-1],))
        except (ValueError, ArtifactError):
            return rule
        if integer.raw_max - integer.raw_min >= _EXACT_RAW_RANGE:
            return rule
        raw = np.arange(integer.raw_min, integer.raw_max + 1, dtype=np.int64)
        features = int(np.prod(rule.raw_shape))
        batch = np.repeat(raw[:, None], features, axis=1)
        if integer.encoding == rule.encoding and np.array_equal(
                rule.quantize(batch.astype(np.float32)), integer.quantize(batch)):
            return integer
        return rule

    # --- activations and layers -----------------------------------------------------------

    def _activation_stage(self, activation: _Activation) -> _Activation | None:
        tensor = activation.tensor
        while True:
            node = self._next(tensor)
            if node is None:
                raise self._refuse(self._producer(tensor), "the graph must end in class "
                                                          "scores, not a quantized activation")
            if node.op_type in _REORDERS:
                activation.perm = self._reorder(node, activation.perm)
            elif node.op_type == "Cast":
                self._cast(node)  # quantized activations are small integers: exact in either
            elif node.op_type in _SCALAR_OPS:
                value = self._other_constant(node, tensor)
                if value.size != 1:
                    raise self._refuse(node, "a per-channel scale after an activation "
                                             "quantizer has no exact integer form")
                value = float(value.reshape(()))
                if node.op_type == "Mul":
                    activation.alpha, activation.beta = (activation.alpha * value,
                                                         activation.beta * value)
                elif node.op_type == "Div":
                    activation.alpha, activation.beta = (activation.alpha / value,
                                                         activation.beta / value)
                else:
                    activation.beta += value if node.op_type == "Add" else -value
            elif node.op_type == "MaxPool":
                activation = self._maxpool(node, activation)
            elif node.op_type in ("Gemm", "MatMul"):
                return self._dense(node, activation)
            elif node.op_type == "Conv":
                return self._conv(node, activation)
            elif node.op_type == "Pad":
                return self._padded_conv(node, activation)
            else:
                raise self._refuse(node, "expected a layer (Gemm, MatMul, Conv), a reorder, a "
                                         "scalar scale or MaxPool after a quantized activation")
            tensor = activation.tensor = node.output[0]

    def _cast(self, node) -> np.dtype:
        try:
            return cast_type(node)
        except ValueError as error:
            raise self._refuse(node, str(error)) from None

    def _producer(self, tensor: str):
        producer = next((node for node in self.graph.graph.node if tensor in node.output), None)
        if producer is None:  # the graph input itself
            raise QonnxImportError(f"{self.path}: the graph input {tensor!r} reaches no layer")
        return producer

    def _reorder(self, node, perm: np.ndarray) -> np.ndarray:
        if node.op_type == "Transpose":
            order = self.graph.attribute(node, "perm")
            if order is None or order[0] != 0:
                raise self._refuse(node, "a transpose must keep the batch axis first")
            return perm.transpose([axis - 1 for axis in order[1:]])
        shape = self.graph.shape(node.output[0])
        if shape is None or shape[0] != 1 or int(np.prod(shape)) != perm.size:
            raise self._refuse(node, f"a reshape must keep a batch of 1 and every element, "
                                     f"not give {shape}")
        return perm.reshape(shape[1:])

    def _is_weight_quantizer(self, node) -> bool:
        return (node.op_type in ("Quant", "BipolarQuant")
                and self.graph.constant(node.input[0]) is not None)

    def _weights(self, node, tensor: str):
        """Return the integer weights, their encoding and per-element scales (ONNX layout)."""
        producer = next((n for n in self.graph.graph.node if tensor in n.output), None)
        if producer is not None and producer.op_type == "Cast":  # widening exact weight codes
            self._cast(producer)
            self.visited.add(producer.name)
            producer = next((n for n in self.graph.graph.node if producer.input[0] in n.output),
                            None)
        if producer is None or not self._is_weight_quantizer(producer):
            raise self._refuse(node, "the weights must be a constant through a Quant or "
                                     "BipolarQuant node (float weights have no integer form)")
        self.visited.add(producer.name)
        weights = self.graph.constant(producer.input[0]).astype(np.float32)
        if producer.op_type == "BipolarQuant":
            scale = self.graph.constant(producer.input[1])
            zero, bits, signed, narrow, mode = 0.0, 1, True, False, Rounding.ROUND
        else:
            scale, zero_arr, bits_arr = (self.graph.constant(name) for name in producer.input[1:4])
            if scale is None or zero_arr is None or bits_arr is None or bits_arr.size != 1:
                raise self._refuse(producer, "the scale, zero point and bit width of weights "
                                             "must be constants")
            if np.any(zero_arr != 0):
                raise self._refuse(producer, "weights with a non-zero zero point have no "
                                             "exact integer form here")
            zero, bits = 0.0, int(bits_arr.reshape(()))
            signed = bool(self.graph.attribute(producer, "signed", 1))
            narrow = bool(self.graph.attribute(producer, "narrow", 0))
            mode = Rounding[str(self.graph.attribute(producer, "rounding_mode", "ROUND")).upper()]
        if scale is None or np.any(~(scale > 0)):
            raise self._refuse(producer, "the weight scale must be a positive constant")
        try:
            scale = np.broadcast_to(scale.astype(np.float32), weights.shape)
        except ValueError:
            raise self._refuse(producer, f"the weight scale of shape {scale.shape} does not "
                                         f"fit the weights {weights.shape}") from None
        y = weights / scale + np.float32(zero)
        if bits == 1 and signed:
            codes, encoding = np.where(y >= 0, 1, -1).astype(np.int64), BIPOLAR
        else:
            if not 2 <= bits <= MAX_WEIGHT_BITS["int"]:
                raise self._refuse(producer, f"weights of 2..16 bits (or bipolar) are "
                                             f"supported, not {bits}")
            quant = FloatQuantizer(1.0, 0.0, bits, signed, narrow, mode)
            codes = mode.apply(np.clip(y, quant.min_code, quant.max_code)).astype(np.int64)
            encoding = (TERNARY if signed and narrow and bits == 2 else
                        sint(bits) if signed else uint(bits))
        return codes, encoding, scale

    def _dense(self, node, activation: _Activation) -> _Activation | None:
        if node.input[0] != activation.tensor:
            raise self._refuse(node, "the activations must be the first operand")
        if activation.perm.ndim != 1:
            raise self._refuse(node, f"a dense layer needs a flat input, not "
                                     f"{list(activation.perm.shape)} (add a Flatten)")
        codes, encoding, scale = self._weights(node, node.input[1])
        bias = None
        if node.op_type == "Gemm":
            alpha, beta = (self.graph.attribute(node, key, 1.0) for key in ("alpha", "beta"))
            if alpha != 1.0 or self.graph.attribute(node, "transA", 0):
                raise self._refuse(node, "Gemm with alpha != 1 or transA is not supported")
            if self.graph.attribute(node, "transB", 0):
                codes, scale = codes.T, scale.T
            if len(node.input) > 2 and node.input[2]:
                bias = self.graph.constant(node.input[2])
                if bias is None:
                    raise self._refuse(node, "the bias must be a constant")
                bias = np.float32(beta) * bias.astype(np.float32)
        # ONNX layout [in, out] -> the artifact's [out, in] with columns in artifact order
        codes, scale = codes.T, scale.T
        if np.any(scale != scale[:, :1]):
            raise self._refuse(node, "the weight scale must be per tensor or per output "
                                     "channel")
        channels, fan_in = codes.shape
        weights = np.empty_like(codes)
        weights[:, activation.perm] = codes
        layer_scale = scale[:, 0].astype(np.float64)
        if bias is not None:
            bias = np.broadcast_to(bias.reshape(-1), (channels,))
        name = self._layer_name(node)

        def make(output):
            return DenseLayer(name=name, input_encoding=activation.encoding,
                              weight_encoding=encoding, weights=weights, output=output)

        return self._finish(node, activation, weights, encoding, layer_scale, bias, make,
                            spatial=0)

    def _finish(self, node, activation, weights, encoding, scale, bias, make, spatial: int,
                image: bool = False):
        """Fold the layer's tail and append it; return the next activation (None at the end)."""
        channels = len(weights)
        flat = weights.reshape(channels, -1)
        fan_in = flat.shape[1]
        bound = accumulator_bound(fan_in, activation.encoding, encoding)
        weight_sums = flat.sum(axis=1).astype(np.float64)
        alpha, beta = activation.alpha, activation.beta
        tail_nodes, end = self._tail(node.output[0])
        dtype = self._dtype(node)

        def inputs(acc: np.ndarray) -> np.ndarray:
            value = (scale * (alpha * acc + beta * weight_sums)).astype(dtype)
            return value if bias is None else value + bias.astype(dtype)

        if end is None:  # the graph output: class scores
            if image:
                raise self._refuse(node, "a convolution cannot give the class scores (add a "
                                         "dense layer)")
            if self.problems:
                return None
            output = self._scores(node, tail_nodes, scale * alpha,
                                  scale * beta * weight_sums + (0 if bias is None else bias),
                                  bound)
            self.layers.append(make(output))
            return None
        perm = np.arange(channels)
        if image:
            shape = self.graph.shape(end.output[0])
            perm = _channels_last_index(shape[1:]) if shape and len(shape) == 4 else perm
        exact = alpha == 1 and beta == 0 and np.all(scale == 1) and bias is None
        requantized = self._requantization(tail_nodes, end, channels, dtype, spatial, bound) \
            if exact and not self.problems else None
        if requantized is not None:
            output, tensor = requantized
            self.layers.append(make(output))
            return _Activation(tensor, output.encoding, 1.0, 0.0, perm)
        levels = self._levels(end, channels)
        if self.problems:  # the import fails anyway: go on checking, skip the folding
            return _Activation(end.output[0], levels.encoding, levels.alpha, levels.beta, perm)
        constants = {name_: self.graph.constant(name_) for tail_node in tail_nodes
                     for name_ in tail_node.input[1:] if name_}
        tail = Tail(tail_nodes, constants, self.graph.opset, spatial, dtype)
        slope, _ = self._affine(tail_nodes, scale * alpha, np.zeros(channels), scores=False)
        output = fold_activation(tail, levels, inputs, bound, channels,
                                 np.where(slope < 0, -1, 1))
        self.layers.append(make(output))
        return _Activation(end.output[0], output.encoding, levels.alpha, levels.beta, perm)

    def _requantization(self, tail_nodes, end, channels: int, dtype, spatial: int, bound: int):
        """Return ``qnnforge export``'s requantization, ``(RequantizeOutput, output tensor)``, if
        the tail is exactly it (else None, and the tail is folded into thresholds).

        The pattern, on integer accumulators with integer inputs and weights: ``Mul(multiplier)``
        -> ``Add(offset)`` -> ``Quant(scale=2**shift, zero_point, FLOOR)`` -> ``Mul(2**-shift)``
        -> ``Add(zero_point)`` (when non-zero), i.e. ``((acc * multiplier + offset) >> shift) +
        zero_point``, clamped. It is checked against the graph's own nodes before it is used.
        """
        arithmetic = [node for node in tail_nodes if node.op_type != "Cast"]
        if [node.op_type for node in arithmetic] != ["Mul", "Add"] or end.op_type != "Quant" \
                or str(self.graph.attribute(end, "rounding_mode", "ROUND")).upper() != "FLOOR" \
                or self.graph.attribute(end, "narrow", 0):
            return None
        values = [self.graph.constant(name) for name in (
            arithmetic[0].input[1], arithmetic[1].input[1], *end.input[1:4])]
        if any(value is None for value in values) or values[4].size != 1:
            return None
        multiplier, offset, quant_scale, zero = (
            np.broadcast_to(value.astype(np.float64).reshape(-1), (channels,))
            if value.size in (1, channels) else None for value in values[:4])
        if any(value is None or np.any(value != np.round(value))
               for value in (multiplier, offset, zero)) or quant_scale is None:
            return None
        shift = np.round(np.log2(quant_scale)).astype(np.int64)
        if np.any(shift < 0) or np.any(2.0 ** shift != quant_scale):
            return None
        bits, signed = int(values[4].reshape(())), bool(self.graph.attribute(end, "signed", 1))
        if not 2 <= bits <= 16 if signed else not 1 <= bits <= 16:
            return None
        tensor, post = end.output[0], []
        for op, expected in (("Mul", 2.0 ** -shift), ("Add", zero)):
            consumers = self.graph.consumers(tensor)
            if op == "Add" and not np.any(zero):
                break
            if len(consumers) != 1 or consumers[0].op_type != op:
                return None
            constant = self.graph.constant(consumers[0].input[1])
            if constant is None or constant.size not in (1, channels) or np.any(
                    np.broadcast_to(constant.reshape(-1), (channels,)) != expected):
                return None
            post.append(consumers[0])
            tensor = consumers[0].output[0]
        output = RequantizeOutput(multiplier=multiplier.astype(np.int64), shift=shift,
                                  offset=offset.astype(np.int64),
                                  zero_point=zero.astype(np.int64),
                                  encoding=sint(bits) if signed else uint(bits))
        # the graph's own nodes on accumulators across the range must give the same integers
        probe = np.random.default_rng(0).integers(-bound, bound + 1, size=(256, channels))
        probe[:2] = [[-bound] * channels, [bound] * channels]
        constants = {name: self.graph.constant(name) for node in arithmetic
                     for name in node.input[1:]}
        y = Tail(tail_nodes, constants, self.graph.opset, spatial, dtype).run(
            probe.astype(dtype)).reshape(probe.shape).astype(np.float64)
        q = np.floor(y / quant_scale + zero)
        q = np.clip(q, output.encoding.min, output.encoding.max)
        if not np.array_equal(q.astype(np.int64), output.apply(probe)):
            return None
        self.visited.update(node.name for node in post)
        return output, tensor

    def _dtype(self, node) -> np.dtype:
        """Return the float type the weighted ``node`` computes in (its output's type)."""
        inferred = self.graph.float_type(node.output[0])
        if inferred is not None:
            return inferred
        producer = next((n for n in self.graph.graph.node if node.input[1] in n.output), None)
        weights = self.graph.constant(producer.input[0]) if producer is not None else None
        return np.dtype(np.float64) if weights is not None and weights.dtype == np.float64 \
            else np.dtype(np.float32)

    def _layer_name(self, node) -> str:
        """Return a unique identifier for the layer of weighted ``node``: the PyTorch module
        that Brevitas exported it from, or the exporter's ``<layer>.<role>`` prefix."""
        props = {prop.key: prop.value for prop in node.metadata_props}
        original = props.get("qnnforge.original_name", node.name)
        try:
            scopes = ast.literal_eval(props.get("pkg.torch.onnx.name_scopes", "[]"))
        except (ValueError, SyntaxError):
            scopes = []
        if isinstance(scopes, list) and len(scopes) > 2 and scopes[-2]:
            original = str(scopes[-2]).replace(".", "_")  # the module, e.g. features.3
        base = re.sub(r"\W", "_", original.split(".")[0] or node.name)
        base = base if base.isidentifier() else f"layer_{base}"
        name, index = base, 1
        while name in self.names:
            name, index = f"{base}_{index}", index + 1
        self.names.add(name)
        return name

    def _tail(self, tensor: str):
        """Return the float nodes after a weighted node and the quantizer ending them (None at
        the graph output)."""
        nodes = []
        while True:
            node = self._next(tensor)
            if node is None:
                return nodes, None
            if node.op_type in _QUANTIZERS:
                return nodes, node
            if node.op_type not in _TAIL_OPS:
                raise self._refuse(node, "expected batch-norm, Mul/Add/Sub/Div, Relu, Cast or "
                                         "an activation quantizer after a layer")
            if node.op_type == "Cast":
                self._cast(node)
            for operand in node.input:
                if operand != tensor and operand and self.graph.constant(operand) is None:
                    raise self._refuse(node, "every other operand must be a constant")
            if node.op_type in ("Mul", "Add") and node.input[0] != tensor:
                node = _swapped(node)
            elif node.op_type in ("Sub", "Div") and node.input[0] != tensor:
                raise self._refuse(node, "the constant must be the second operand")
            nodes.append(node)
            tensor = node.output[0]

    def _levels(self, node, channels: int) -> Levels:
        if node.op_type == "MultiThreshold":
            thresholds = self.graph.constant(node.input[1])
            if thresholds is None or thresholds.ndim != 2 or thresholds.shape[0] not in (
                    1, channels):
                raise self._refuse(node, "the thresholds must be a constant (channels, T)")
            if self.graph.attribute(node, "data_layout", "NCHW") != "NCHW":
                raise self._refuse(node, "only the NCHW data layout is supported")
            out_scale = float(self.graph.attribute(node, "out_scale", 1.0))
            out_bias = float(self.graph.attribute(node, "out_bias", 0.0))
            count = thresholds.shape[1]
            if count == 1 and (out_scale, out_bias) == (2.0, -1.0):
                return Levels(BIPOLAR, 1.0, 0.0, thresholds=thresholds)
            bits = max(1, math.ceil(math.log2(count + 1)))
            if bits > _MAX_ACTIVATION_BITS or not out_scale > 0:
                raise self._refuse(node, f"a multi-threshold of at most "
                                         f"{(1 << _MAX_ACTIVATION_BITS) - 1} thresholds and a "
                                         f"positive out_scale is supported")
            return Levels(uint(bits), out_scale, out_bias, thresholds=thresholds)
        quantizer = self._quantizer(node)
        if quantizer.bits > _MAX_ACTIVATION_BITS:
            raise self._refuse(node, f"activations of at most {_MAX_ACTIVATION_BITS} bits are "
                                     f"supported (as thresholds), not {quantizer.bits}")
        scale, zero = quantizer.scale, quantizer.zero_point
        if quantizer.bipolar:
            return Levels(BIPOLAR, scale, -zero * scale, quantizer=quantizer)
        return Levels(uint(quantizer.bits), scale, scale * (quantizer.min_code - zero),
                      quantizer=quantizer)

    def _scores(self, node, tail_nodes, slope, offset, bound: int) -> ScoreOutput:
        """Return integer scores ordered as the graph's float scores: ``acc + bias`` where the
        float score is ``m * (acc + bias)`` with one positive ``m`` for every channel."""
        slope, offset = self._affine(tail_nodes, slope, offset, scores=True)
        if not np.allclose(slope, slope[0], rtol=1e-6, atol=0) or not slope[0] > 0:
            raise self._refuse(node, "the scores need one positive scale for every class "
                                     "(per-class scales have no integer argmax)")
        shifts = offset / slope[0]
        bias = np.round(shifts)
        if np.any(np.abs(shifts - bias) > 1e-6 * np.maximum(1, np.abs(bias))):
            raise self._refuse(node, "the class offsets are not whole multiples of the score "
                                     "scale (no exact integer scores)")
        bias = bias.astype(np.int64)
        if np.any(np.abs(bias) > bound):  # a common shift keeps the order
            bias -= (int(bias.max()) + int(bias.min())) // 2
        if np.any(np.abs(bias) > bound):
            raise self._refuse(node, f"the class offsets exceed the accumulator bound {bound}")
        return ScoreOutput(bias=bias)

    def _affine(self, tail_nodes, slope, offset, scores: bool):
        """Return the per-channel ``(slope, offset)`` of the tail in float64 (``Relu`` is
        refused before the scores, and kept monotone, so ignored, before a quantizer)."""
        slope = np.asarray(slope, dtype=np.float64) * np.ones_like(offset, dtype=np.float64)
        offset = np.asarray(offset, dtype=np.float64) * np.ones_like(slope)
        for tail_node in tail_nodes:
            op = tail_node.op_type
            if op == "Relu":
                if scores:
                    raise self._refuse(tail_node, "only affine nodes may follow the last layer "
                                                  "(the scores must keep their order)")
                continue
            constants = [self.graph.constant(name).astype(np.float64).reshape(-1)
                         for name in tail_node.input[1:]]
            if op == "Mul":
                slope, offset = slope * constants[0], offset * constants[0]
            elif op == "Div":
                slope, offset = slope / constants[0], offset / constants[0]
            elif op in ("Add", "Sub"):
                offset = offset + (constants[0] if op == "Add" else -constants[0])
            else:  # BatchNormalization
                gamma, shift, mean, var = constants
                factor = gamma / np.sqrt(var + float(self.graph.attribute(
                    tail_node, "epsilon", 1e-5)))
                slope, offset = slope * factor, (offset - mean) * factor + shift
        return slope, offset

    def _image(self, node, activation: _Activation) -> tuple[int, int, int]:
        """Return the ``(height, width, channels)`` of an NCHW activation stored channels-last."""
        perm = activation.perm
        if perm.ndim != 3 or not np.array_equal(perm, _channels_last_index(perm.shape)):
            raise self._refuse(node, f"needs an NCHW image input in its own order, not a "
                                     f"reordered tensor of shape {list(perm.shape)}")
        channels, height, width = perm.shape
        return height, width, channels

    def _maxpool(self, node, activation: _Activation) -> _Activation:
        in_shape = self._image(node, activation)
        kernel = tuple(self.graph.attribute(node, "kernel_shape", []))
        stride = tuple(self.graph.attribute(node, "strides", kernel))
        if len(kernel) != 2 or any(self.graph.attribute(node, "pads", [0] * 4)) or \
                self.graph.attribute(node, "ceil_mode", 0) or \
                any(d != 1 for d in self.graph.attribute(node, "dilations", [1, 1])) or \
                self.graph.attribute(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise self._refuse(node, "only 2-D max-pooling without padding, dilation or "
                                     "ceil mode is supported")
        if not activation.alpha > 0:
            raise self._refuse(node, "max-pooling a negatively scaled activation has no "
                                     "integer form (the maximum would become a minimum)")
        layer = MaxPool2dLayer(name=self._layer_name(node), input_encoding=activation.encoding,
                               in_shape=in_shape, kernel=kernel, stride=stride)
        self.layers.append(layer)
        height, width, channels = layer.out_shape
        return _Activation(node.output[0], activation.encoding, activation.alpha,
                           activation.beta, _channels_last_index((channels, height, width)))

    def _padded_conv(self, pad, activation: _Activation) -> _Activation | None:
        """Import ``Pad`` (a constant border of height and width) and the ``Conv`` reading it as
        one convolution whose pad value is the integer input the constant means."""
        mode = self.graph.attribute(pad, "mode", "constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = self.graph.constant(pad.input[1]) if len(pad.input) > 1 else None
        value = (self.graph.constant(pad.input[2]) if len(pad.input) > 2 and pad.input[2]
                 else np.zeros(()))
        if mode != "constant" or pads is None or value is None or pads.size != 8 or \
                value.size != 1 or np.any(pads[[0, 1, 4, 5]] != 0) or np.any(pads < 0):
            raise self._refuse(pad, "only a constant padding of height and width before a "
                                    "convolution is supported")
        conv = self._next(pad.output[0])
        if conv is None or conv.op_type != "Conv" or any(
                self.graph.attribute(conv, "pads", [0, 0, 0, 0])):
            raise self._refuse(pad, "a Pad must feed a Conv without padding of its own")
        top, left, bottom, right = (int(pads[i]) for i in (2, 3, 6, 7))
        activation = _Activation(pad.output[0], activation.encoding, activation.alpha,
                                 activation.beta, activation.perm)
        return self._conv(conv, activation, ((top, left, bottom, right),
                                             float(value.reshape(()))))

    def _conv(self, node, activation: _Activation,
              padded: tuple[tuple[int, int, int, int], float] | None = None
              ) -> _Activation | None:
        if node.input[0] != activation.tensor:
            raise self._refuse(node, "the activations must be the first operand")
        in_shape = self._image(node, activation)
        codes, encoding, scale = self._weights(node, node.input[1])
        if codes.ndim != 4 or self.graph.attribute(node, "group", 1) != 1 or any(
                d != 1 for d in self.graph.attribute(node, "dilations", [1, 1])) or \
                self.graph.attribute(node, "auto_pad", "NOTSET") != "NOTSET":
            raise self._refuse(node, "only 2-D convolutions without groups, dilation or "
                                     "auto_pad are supported")
        channels = codes.shape[0]
        flat_scale = scale.reshape(channels, -1)
        if np.any(flat_scale != flat_scale[:, :1]):
            raise self._refuse(node, "the weight scale must be per tensor or per output "
                                     "channel")
        stride = tuple(self.graph.attribute(node, "strides", [1, 1]))
        padding, constant = padded if padded is not None else (
            tuple(self.graph.attribute(node, "pads", [0, 0, 0, 0])), 0.0)
        # without padding the value is never used; it must still be legal (bipolar: -1)
        pad_value = 0 if activation.encoding.contains(0) else activation.encoding.min
        if any(padding):  # the pad constant c is the integer u with alpha * u + beta = c
            exact = (constant - activation.beta) / activation.alpha
            pad_value = int(round(exact))
            if pad_value != exact or not activation.encoding.contains(pad_value):
                raise self._refuse(node, f"padding with {constant:g} is no legal "
                                         f"{activation.encoding} input value here (it would "
                                         f"be {exact:g})")
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self.graph.constant(node.input[2])
            if bias is None:
                raise self._refuse(node, "the bias must be a constant")
            bias = bias.astype(np.float32).reshape(channels)
        weights = codes.transpose(0, 2, 3, 1)  # (out, in, kh, kw) -> (out, kh, kw, in)

        def make(output):
            return Conv2dLayer(name=name, input_encoding=activation.encoding,
                               weight_encoding=encoding, in_shape=in_shape, weights=weights,
                               stride=stride, padding=padding, pad_value=pad_value,
                               output=output)

        name = self._layer_name(node)
        return self._finish(node, activation, weights, encoding,
                            flat_scale[:, 0].astype(np.float64), bias, make, spatial=2,
                            image=True)


def _swapped(node):
    """Return a copy of commutative ``node`` with its two operands swapped."""
    from onnx import helper

    copy = helper.make_node(node.op_type, [node.input[1], node.input[0]], list(node.output),
                            name=node.name, domain=node.domain)
    copy.attribute.extend(node.attribute)
    return copy


def _channels_last_index(shape: tuple[int, int, int]) -> np.ndarray:
    """Return, for each element ``(c, y, x)`` of a CHW tensor, its channels-last flat index."""
    channels, height, width = shape
    return np.arange(height * width * channels).reshape(height, width, channels).transpose(
        2, 0, 1)
