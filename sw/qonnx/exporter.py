"""Export an artifact as a QONNX model that QONNX's executor runs bit-exactly.

The graph computes the artifact's integer arithmetic on floats, node for node (see
``docs/qonnx.md``, "Export")::

    global_in -> Mul(m * 2**-s) -> Add(0.5) -> Quant(uint b, FLOOR)             the input rule
      (a float rule: its scalar steps -> Div(scale) -> Add(zero_point) -> Quant -> u)
      dense:   [Flatten] -> MatMul(Quant(W).T)                                  (rows permuted
      conv2d:  [Pad(pad_value)] -> Conv(Quant(W), pads)                          after an image)
      maxpool2d: MaxPool
      threshold:      [Mul(direction)] -> MultiThreshold([C, 1], out 2 * n - 1)
      multithreshold: [Mul(direction)] -> MultiThreshold([C, T])
      requantize:     Mul(multiplier) -> Add(offset) -> Quant(2**shift, zero_point, FLOOR)
                      -> Mul(2**-shift) -> [Add(zero_point)]
      scores:         Add(bias) -> global_out

Exactness. Every value the graph carries is an integer (or, inside the input rule and a
requantization's Quant, an integer over a power of two); a float type holds all of them exactly
while their magnitude stays below ``2**24`` (float32) or ``2**53`` (float64). Each part of the
graph is bounded from the artifact alone: an accumulation by the layer's accumulator bound (every
partial sum of ``w * x`` is, whatever order the runtime adds in), a threshold by ``bound + 1``, a
requantization by ``bound * |multiplier| + |offset| + |zero_point| * 2**shift`` per channel, the
scores by ``bound + |bias|``, the input rule by ``|raw| * multiplier + 2**(shift - 1)``. A part
whose bound reaches ``2**24`` is computed in float64 (``Cast`` nodes enter and leave it); QONNX's
``Quant`` always emits float32, which is exact for its outputs (input codes, checked to stay
below ``2**24``; weights and requantized activations of at most 17 bits, times a power of two).
Activations between layers are small integers and always float32. Where float64 is not enough,
or the op has no float64 kernel in onnxruntime (``Conv``), the export is refused with an
:class:`ExportError` naming the layer.

Nodes are named ``<layer>.<role>`` (``input.<role>`` for the input rule), and so are the tensors
they produce; the artifact's name, input rule and metadata travel in ``metadata_props``
(``qnnforge.name``, ``qnnforge.input``, ``qnnforge.metadata``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ... import __version__
from ..artifact import Artifact, InputQuantizer
from ..inputs import FloatInputQuantizer, StepOp
from ..encoding import Encoding, signed_bits
from ..errors import QnnforgeError
from ..files import write_output_file
from ..layers import Conv2dLayer, DenseLayer, MaxPool2dLayer
from ..outputs import (MultiThresholdActivation, RequantizeOutput, ScoreOutput,
                       ThresholdActivation)

__all__ = ["OPSET", "QONNX_DOMAIN", "EXACT_LIMITS", "ExportError", "qonnx_model",
           "export_qonnx", "float64_parts", "onnx_inputs",
           "execute"]

OPSET = 13
"""ONNX opset of the standard ops."""
QONNX_DOMAIN = "qonnx.custom_op.general"
"""Domain of ``Quant``, ``BipolarQuant`` and ``MultiThreshold``."""
FLOAT, DOUBLE = TensorProto.FLOAT, TensorProto.DOUBLE
EXACT_LIMITS = {FLOAT: 1 << 24, DOUBLE: 1 << 53}
"""Element type -> the magnitude below which it holds every integer exactly."""
_NUMPY = {FLOAT: np.float32, DOUBLE: np.float64}


class ExportError(QnnforgeError, ValueError):
    """The artifact cannot be written exactly in the format, or the output file cannot be."""


@dataclass(frozen=True)
class _Tensor:
    """A tensor of the graph being built: name, ONNX shape and element type."""

    name: str
    shape: tuple[int, ...]
    dtype: int


@dataclass
class _Graph:
    """Nodes, initializers and value infos, added in topological order."""

    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    values: list = field(default_factory=list)

    def constant(self, name: str, values, dtype: int) -> str:
        """Add an initializer ``name`` holding ``values`` as ``dtype``; return its name."""
        array = np.asarray(values, dtype=np.float64)
        self.initializers.append(numpy_helper.from_array(array.astype(_NUMPY[dtype]), name))
        return name

    def indices(self, name: str, values: list[int]) -> str:
        """Add an int64 initializer ``name`` (a shape or pads operand); return its name."""
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64),
                                                         name))
        return name

    def node(self, name: str, op: str, inputs: list[str], shape: tuple[int, ...], dtype: int,
             domain: str = "", **attributes) -> _Tensor:
        """Add node ``name`` (its output tensor has the same name) and return its output."""
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, domain=domain,
                                           **attributes))
        self.values.append(helper.make_tensor_value_info(name, dtype, list(shape)))
        return _Tensor(name, tuple(shape), dtype)

    def cast(self, x: _Tensor, dtype: int, name: str) -> _Tensor:
        """Return ``x`` as ``dtype``, through a ``Cast`` node where it is another type."""
        if x.dtype == dtype:
            return x
        return self.node(name, "Cast", [x.name], x.shape, dtype, to=dtype)

    def quant(self, name: str, x: _Tensor, scale, zero_point, bits: int, signed: bool,
              narrow: bool, rounding_mode: str) -> _Tensor:
        """Add a QONNX ``Quant`` (its constants in ``x``'s type; it always emits float32)."""
        inputs = [x.name, self.constant(f"{name}.scale", scale, x.dtype),
                  self.constant(f"{name}.zero_point", zero_point, x.dtype),
                  self.constant(f"{name}.bitwidth", bits, x.dtype)]
        return self.node(name, "Quant", inputs, x.shape, FLOAT, domain=QONNX_DOMAIN,
                         signed=int(signed), narrow=int(narrow), rounding_mode=rounding_mode)


def _float_type(worst: int, where: str, what: str) -> int:
    """Return float32 if it holds every integer up to ``worst`` exactly, else float64.

    Raises
    ------
    ExportError
        If float64 does not either.
    """
    for dtype in (FLOAT, DOUBLE):
        if worst < EXACT_LIMITS[dtype]:
            return dtype
    raise ExportError(f"{where}: {what} reach {worst}, beyond the integers float64 holds "
                      f"exactly (2**53); the graph cannot compute them exactly")


def _channel_shape(values: np.ndarray, rank: int) -> np.ndarray:
    """Return per-channel ``values`` shaped to broadcast over ``(1, C)`` or ``(1, C, H, W)``."""
    values = np.asarray(values)
    return values if rank == 2 else values.reshape(-1, 1, 1)


# --- the input rule -------------------------------------------------------------------------------

def _input_type(rule: InputQuantizer) -> int:
    """Return the element type of ``global_in`` and the input rule's nodes.

    The rule's values are ``raw``, ``m * 2**-s``, ``raw * m * 2**-s`` and that plus ``0.5``:
    integers up to ``|raw| * m + 2**(s - 1)`` over ``2**s``.
    """
    half = (1 << (rule.shift - 1)) if rule.shift else 0
    raw = max(abs(rule.raw_min), abs(rule.raw_max))
    return _float_type(max(rule.multiplier, raw * rule.multiplier + half), "input",
                       "raw * multiplier + 2**(shift - 1)")


def _integer_input(graph: _Graph, artifact: Artifact) -> tuple[_Tensor, _Tensor]:
    """Add ``global_in`` and the integer input rule; return the graph input and the codes."""
    rule = artifact.input
    if rule.encoding.max >= EXACT_LIMITS[FLOAT]:
        raise ExportError(f"input.encoding: {rule.encoding} codes reach {rule.encoding.max}, but "
                          f"QONNX's Quant emits float32, which holds integers exactly only "
                          f"below 2**24")
    dtype = _input_type(rule)
    in_shape = artifact.in_shape
    shape = (1, *in_shape) if len(in_shape) == 1 else (1, in_shape[2], in_shape[0], in_shape[1])
    global_in = _Tensor("global_in", shape, dtype)
    scale = graph.constant("input.scale.value", rule.multiplier * 2.0 ** -rule.shift, dtype)
    x = graph.node("input.scale", "Mul", [global_in.name, scale], shape, dtype)
    if rule.shift:
        x = graph.node("input.round", "Add",
                       [x.name, graph.constant("input.round.value", 0.5, dtype)], shape, dtype)
    codes = graph.quant("input.quant", x, 1, 0, rule.encoding.bits, signed=False, narrow=False,
                        rounding_mode="FLOOR")
    return global_in, codes


_STEP_NODES = {StepOp.MUL: "Mul", StepOp.ADD: "Add", StepOp.SUB: "Sub", StepOp.DIV: "Div"}


def _float_input(graph: _Graph, artifact: Artifact) -> tuple[_Tensor, _Tensor]:
    """Add ``global_in`` and a float input rule (an imported model's); return the graph input
    and the unsigned input codes ``u``.

    The rule's float32 steps are written as the same scalar nodes; its quantizer
    ``round(clamp(x / scale + zero_point))`` as ``Div(scale)`` -> ``Add(zero_point)`` ->
    ``Quant``/``BipolarQuant`` of scale 1, the same float32 operations in the same order (a
    division by 1 and an addition of 0 change nothing); then ``u = code - min`` (bipolar:
    ``(code + 1) / 2``), small integers and exact.
    """
    rule = artifact.input
    quantizer = rule.quantizer
    shape = (1, *rule.raw_shape)
    global_in = _Tensor("global_in", shape, FLOAT)
    x = global_in
    for index, step in enumerate(rule.steps):
        x = graph.node(f"input.step{index}", _STEP_NODES[step.op], [x.name, graph.constant(
            f"input.step{index}.value", step.value, FLOAT)], shape, FLOAT)
    if quantizer.scale != 1:
        x = graph.node("input.scale", "Div", [x.name, graph.constant(
            "input.scale.value", quantizer.scale, FLOAT)], shape, FLOAT)
    if quantizer.zero_point != 0:
        x = graph.node("input.zero_point", "Add", [x.name, graph.constant(
            "input.zero_point.value", quantizer.zero_point, FLOAT)], shape, FLOAT)
    if quantizer.bipolar:
        codes = graph.node("input.quant", "BipolarQuant", [x.name, graph.constant(
            "input.quant.scale", 1, FLOAT)], shape, FLOAT, domain=QONNX_DOMAIN)
        codes = graph.node("input.unsigned", "Add", [codes.name, graph.constant(
            "input.unsigned.value", 1, FLOAT)], shape, FLOAT)
        codes = graph.node("input.halve", "Mul", [codes.name, graph.constant(
            "input.halve.value", 0.5, FLOAT)], shape, FLOAT)
    else:
        codes = graph.quant("input.quant", x, 1, 0, quantizer.bits, quantizer.signed,
                            quantizer.narrow, rounding_mode=quantizer.rounding.value)
        if quantizer.min_code:
            codes = graph.node("input.unsigned", "Add", [codes.name, graph.constant(
                "input.unsigned.value", -quantizer.min_code, FLOAT)], shape, FLOAT)
    in_shape = artifact.in_shape
    if rule.channels_last or len(shape) == 2 and len(in_shape) == 1:
        return global_in, codes  # NCHW as the layers read it, or already flat
    if len(in_shape) == 1:  # a multi-axis input read flat by a dense layer, in its own order
        return global_in, graph.node("input.flatten", "Flatten", [codes.name],
                                     (1, in_shape[0]), FLOAT, axis=1)
    raise ExportError(f"input: a {list(rule.raw_shape)} input read as a "
                      f"{list(in_shape)} image without channels_last has no export")


_INPUT_RULES = {InputQuantizer: _integer_input, FloatInputQuantizer: _float_input}
"""Input rule -> ``add(graph, artifact)``, which returns the graph input and the input codes."""


def _input_rule(graph: _Graph, artifact: Artifact) -> tuple[_Tensor, _Tensor]:
    """Add ``global_in`` and the artifact's input rule; return the graph input and the codes.

    Raises
    ------
    ExportError
        If the rule has no export.
    """
    if type(artifact.input) not in _INPUT_RULES:
        raise ExportError(f"input: the QONNX export has no {artifact.input.kind!r} input rule")
    return _INPUT_RULES[type(artifact.input)](graph, artifact)


# --- weighted layers ------------------------------------------------------------------------------

def _weight_quant(graph: _Graph, name: str, weights: np.ndarray, encoding: Encoding) -> _Tensor:
    """Add the integer-valued weights and their quantizer (scale 1); return the weights."""
    tensor = _Tensor(graph.constant(f"{name}.weights", weights, FLOAT), weights.shape, FLOAT)
    if encoding.kind == "bipolar":
        scale = graph.constant(f"{name}.weight_quant.scale", 1, FLOAT)
        return graph.node(f"{name}.weight_quant", "BipolarQuant", [tensor.name, scale],
                          weights.shape, FLOAT, domain=QONNX_DOMAIN)
    if encoding.values:  # ttq and codebook weights: their integer values, in a signed Quant
        bits = max(2, signed_bits(min(encoding.values), max(encoding.values)))
        return graph.quant(f"{name}.weight_quant", tensor, 1, 0, bits, True, False,
                           rounding_mode="ROUND")
    narrow = encoding.kind == "ternary"  # ternary = 2-bit signed narrow: -1, 0, +1
    return graph.quant(f"{name}.weight_quant", tensor, 1, 0, encoding.bits, encoding.signed,
                       narrow, rounding_mode="ROUND")


def _dense(graph: _Graph, layer: DenseLayer, x: _Tensor, previous_shape: tuple[int, ...],
           where: str) -> _Tensor:
    """Add a dense layer's accumulation; return its accumulators."""
    weights = np.asarray(layer.weights, dtype=np.int64)
    if len(x.shape) == 4:
        # ONNX flattens NCHW as (c, h, w); the artifact reads its input channels-last (h, w, c)
        x = graph.node(f"{layer.name}.flatten", "Flatten", [x.name],
                       (1, layer.in_features), x.dtype, axis=1)
        height, width, channels = previous_shape
        weights = weights.reshape(-1, height, width, channels).transpose(0, 3, 1, 2)
        weights = weights.reshape(layer.out_features, -1)
    dtype = _float_type(layer.accumulator_bound, where, "the accumulators")
    w = graph.cast(_weight_quant(graph, layer.name, weights.T, layer.weight_encoding), dtype,
                   f"{layer.name}.cast_weights")
    x = graph.cast(x, dtype, f"{layer.name}.cast_input")
    return graph.node(f"{layer.name}.matmul", "MatMul", [x.name, w.name],
                      (1, layer.out_features), dtype)


def _conv2d(graph: _Graph, layer: Conv2dLayer, x: _Tensor, previous_shape: tuple[int, ...],
            where: str) -> _Tensor:
    """Add a convolution's padding and accumulation; return its accumulators."""
    if layer.accumulator_bound >= EXACT_LIMITS[FLOAT]:
        raise ExportError(f"{where}: the accumulators reach {layer.accumulator_bound}, beyond "
                          f"the integers float32 holds exactly (2**24), and onnxruntime has no "
                          f"float64 Conv")
    top, left, bottom, right = layer.padding
    pads = [top, left, bottom, right]
    if layer.pad_value != 0 and any(pads):
        shape = (1, x.shape[1], x.shape[2] + top + bottom, x.shape[3] + left + right)
        operands = [x.name,
                    graph.indices(f"{layer.name}.pad.pads", [0, 0, top, left, 0, 0, bottom, right]),
                    graph.constant(f"{layer.name}.pad.value", layer.pad_value, FLOAT)]
        x = graph.node(f"{layer.name}.pad", "Pad", operands, shape, FLOAT, mode="constant")
        pads = [0, 0, 0, 0]
    weights = np.asarray(layer.weights, dtype=np.int64).transpose(0, 3, 1, 2)
    w = _weight_quant(graph, layer.name, weights, layer.weight_encoding)
    height, width, channels = layer.out_shape
    return graph.node(f"{layer.name}.conv", "Conv", [x.name, w.name],
                      (1, channels, height, width), FLOAT, kernel_shape=list(layer.kernel),
                      strides=list(layer.stride), pads=pads)


def _maxpool2d(graph: _Graph, layer: MaxPool2dLayer, x: _Tensor,
               previous_shape: tuple[int, ...], where: str) -> _Tensor:
    """Add a max-pool; return its outputs (the maximum of values, as the reference takes)."""
    height, width, channels = layer.out_shape
    return graph.node(f"{layer.name}.maxpool", "MaxPool", [x.name], (1, channels, height, width),
                      x.dtype, kernel_shape=list(layer.kernel), strides=list(layer.stride))


_LAYERS = {DenseLayer: _dense, Conv2dLayer: _conv2d, MaxPool2dLayer: _maxpool2d}
"""Layer kind -> ``add(graph, layer, input, previous output shape, where)``, which returns the
accumulators (the outputs of a layer without an output rule)."""


# --- output rules ---------------------------------------------------------------------------------

def _directions(graph: _Graph, name: str, acc: _Tensor, directions: np.ndarray) -> _Tensor:
    """Multiply the accumulators by the per-channel directions, unless all are +1."""
    if np.all(directions == 1):
        return acc
    value = graph.constant(f"{name}.direction.value",
                           _channel_shape(directions, len(acc.shape)), acc.dtype)
    return graph.node(f"{name}.direction", "Mul", [acc.name, value], acc.shape, acc.dtype)


def _thresholds(graph: _Graph, name: str, acc: _Tensor,
                output: ThresholdActivation | MultiThresholdActivation, bound: int, where: str,
                attributes: dict) -> _Tensor:
    """Add a (multi-)threshold activation whose ``MultiThreshold`` has ``attributes``; return
    the activations as float32."""
    dtype = max(acc.dtype, _float_type(bound + 1, where, "the thresholds"),
                key=EXACT_LIMITS.__getitem__)
    x = _directions(graph, name, graph.cast(acc, dtype, f"{name}.cast_accumulators"),
                    np.asarray(output.directions))
    thresholds = np.asarray(output.thresholds).reshape(len(output.directions), -1)
    y = graph.node(f"{name}.threshold", "MultiThreshold",
                   [x.name, graph.constant(f"{name}.thresholds", thresholds, dtype)],
                   x.shape, dtype, domain=QONNX_DOMAIN, **attributes)
    return graph.cast(y, FLOAT, f"{name}.cast_output")


def _threshold(graph: _Graph, name: str, acc: _Tensor, output: ThresholdActivation,
               bound: int, where: str) -> _Tensor:
    """Add a bipolar activation: one threshold, ``2 * passed - 1``."""
    return _thresholds(graph, name, acc, output, bound, where,
                       {"out_scale": 2.0, "out_bias": -1.0, "out_dtype": "BIPOLAR"})


def _multithreshold(graph: _Graph, name: str, acc: _Tensor, output: MultiThresholdActivation,
                    bound: int, where: str) -> _Tensor:
    """Add an unsigned k-bit activation: the number of thresholds passed."""
    return _thresholds(graph, name, acc, output, bound, where,
                       {"out_scale": 1.0, "out_bias": 0.0,
                        "out_dtype": f"UINT{output.encoding.bits}"})


def _requantize(graph: _Graph, name: str, acc: _Tensor, output: RequantizeOutput, bound: int,
                where: str) -> _Tensor:
    """Add a requantization; return the activations (float32, from Quant)."""
    multiplier, offset, shift, zero_point = (
        np.asarray(getattr(output, key), dtype=np.int64)
        for key in ("multiplier", "offset", "shift", "zero_point"))
    worst = max(bound * abs(int(m)) + abs(int(o)) + abs(int(z)) * (1 << int(s))
                for m, o, s, z in zip(multiplier, offset, shift, zero_point))
    dtype = max(acc.dtype, _float_type(worst, where, "bound * |multiplier| + |offset| + "
                                                     "|zero_point| * 2**shift"),
                key=EXACT_LIMITS.__getitem__)
    x = graph.cast(acc, dtype, f"{name}.cast_accumulators")
    rank = len(x.shape)
    scale = np.ldexp(1.0, shift)  # 2**shift: exact in both float types for shift <= 62
    x = graph.node(f"{name}.multiplier", "Mul", [x.name, graph.constant(
        f"{name}.multiplier.value", _channel_shape(multiplier, rank), dtype)], x.shape, dtype)
    x = graph.node(f"{name}.offset", "Add", [x.name, graph.constant(
        f"{name}.offset.value", _channel_shape(offset, rank), dtype)], x.shape, dtype)
    encoding = output.encoding
    y = graph.quant(f"{name}.quant", x, _channel_shape(scale, rank),
                    _channel_shape(zero_point, rank), encoding.bits, encoding.signed,
                    narrow=False, rounding_mode="FLOOR")
    y = graph.node(f"{name}.rescale", "Mul", [y.name, graph.constant(
        f"{name}.rescale.value", _channel_shape(np.ldexp(1.0, -shift), rank), FLOAT)],
        y.shape, FLOAT)
    if np.any(zero_point != 0):
        y = graph.node(f"{name}.zero_point", "Add", [y.name, graph.constant(
            f"{name}.zero_point.value", _channel_shape(zero_point, rank), FLOAT)], y.shape, FLOAT)
    return y


def _scores(graph: _Graph, name: str, acc: _Tensor, output: ScoreOutput, bound: int,
            where: str) -> _Tensor:
    """Add the class scores ``acc + bias``."""
    bias = np.asarray(output.bias, dtype=np.int64)
    worst = bound + (int(np.abs(bias).max()) if bias.size else 0)
    dtype = max(acc.dtype, _float_type(worst, where, "the scores"), key=EXACT_LIMITS.__getitem__)
    x = graph.cast(acc, dtype, f"{name}.cast_accumulators")
    return graph.node(f"{name}.bias", "Add", [x.name, graph.constant(
        f"{name}.bias.value", _channel_shape(bias, len(x.shape)), dtype)], x.shape, dtype)


_OUTPUTS = {ThresholdActivation: _threshold, MultiThresholdActivation: _multithreshold,
            RequantizeOutput: _requantize, ScoreOutput: _scores}
"""Output rule -> ``add(graph, layer name, accumulators, rule, bound, where)``."""


# --- the model ------------------------------------------------------------------------------------

def qonnx_model(artifact: Artifact) -> onnx.ModelProto:
    """Return ``artifact`` as a QONNX model (opset 13; see the module docstring).

    Raises
    ------
    ExportError
        If a part of the network cannot be computed exactly in float32 or float64 by the
        executor's ops; the message names the layer (``layers[i] (name)``) or ``input``.
    """
    graph = _Graph()
    global_in, x = _input_rule(graph, artifact)
    previous_shape = artifact.in_shape
    for index, layer in enumerate(artifact.layers):
        where = f"layers[{index}] ({layer.name})"
        if type(layer) not in _LAYERS:
            raise ExportError(f"{where}: the QONNX export has no {layer.op!r} layers")
        x = _LAYERS[type(layer)](graph, layer, x, previous_shape, where)
        if layer.output is not None:
            if type(layer.output) not in _OUTPUTS:
                raise ExportError(f"{where}: the QONNX export has no {layer.output.kind!r} "
                                  f"outputs")
            x = _OUTPUTS[type(layer.output)](graph, layer.name, x, layer.output,
                                             layer.accumulator_bound, where)
        previous_shape = tuple(layer.out_shape)
    # the scores node writes the graph output under its contract name
    graph.nodes[-1].output[0] = "global_out"
    graph.values.pop()
    output = helper.make_tensor_value_info("global_out", x.dtype, list(x.shape))
    onnx_graph = helper.make_graph(
        graph.nodes, artifact.name,
        [helper.make_tensor_value_info(global_in.name, global_in.dtype, list(global_in.shape))],
        [output], initializer=graph.initializers, value_info=graph.values)
    model = helper.make_model(onnx_graph, producer_name="qnnforge", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET),
                                             helper.make_opsetid(QONNX_DOMAIN, 1)])
    helper.set_model_props(model, {
        "qnnforge.name": artifact.name,
        "qnnforge.input": json.dumps(artifact.input.to_json()),
        "qnnforge.metadata": json.dumps(artifact.metadata),
    })
    return model


def export_qonnx(artifact: Artifact, path: str | os.PathLike, *,
                 check: bool = True) -> tuple[Path, onnx.ModelProto]:
    """Write ``artifact`` as a QONNX model to ``path`` atomically; return the path and model.

    With ``check`` the model first passes ``onnx.checker.check_model`` and QONNX's executor runs
    it on a few inputs (the smallest and largest raw features and a random batch row), which
    must give the reference's scores; a file is only written after that.

    Raises
    ------
    ExportError
        If the artifact cannot be exported exactly, ``path`` is a directory or cannot be
        written.
    """
    model = qonnx_model(artifact)
    if check:
        _check(model, artifact)
    path = Path(path)
    write_output_file(path, model.SerializeToString(), ExportError)
    return path, model


def float64_parts(model: onnx.ModelProto) -> list[str]:
    """Return the layers (``input`` for the input rule) of ``model`` that compute in float64,
    in graph order."""
    double = {value.name for value in (*model.graph.input, *model.graph.value_info,
                                       *model.graph.output)
              if value.type.tensor_type.elem_type == DOUBLE}
    parts = []
    for node in model.graph.node:
        layer = node.name.split(".")[0]
        if double.intersection(node.output) and layer not in parts:
            parts.append(layer)
    return parts


def onnx_inputs(artifact: Artifact, raw: np.ndarray) -> np.ndarray:
    """Return raw features ``(n, in_features)`` (channels-last) as the exported graph takes
    them: ``(n, F)``, or ``(n, C, H, W)`` for an image, as floats of ``global_in``'s type.

    A float input rule's inputs are already the graph's: ``(n, *raw_shape)`` (or flat), float32.
    """
    raw = np.asarray(raw)
    if isinstance(artifact.input, FloatInputQuantizer):
        return raw.astype(np.float32).reshape(len(raw), *artifact.input.raw_shape)
    shape = artifact.in_shape
    if len(shape) == 3:
        raw = raw.reshape(len(raw), *shape).transpose(0, 3, 1, 2)
    return raw.astype(_NUMPY[_input_type(artifact.input)])


def execute(model: onnx.ModelProto, inputs: np.ndarray,
            full_context: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """Run ``model`` in QONNX's executor on a batch ``inputs`` of graph inputs.

    The graph is exported for one input at a time; this runs a copy whose every tensor computed
    from the input has the batch size ``len(inputs)`` (every op of the graph treats the rows
    independently). Returns the scores ``(n, classes)``, or with ``full_context`` every tensor
    by name.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    batched = onnx.ModelProto()
    batched.CopyFrom(model)
    graph = batched.graph
    rows = {graph.input[0].name}  # the tensors computed from the input (not the weights)
    for node in graph.node:
        if rows.intersection(node.input):
            rows.update(node.output)
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.name in rows:
            value.type.tensor_type.shape.dim[0].dim_value = len(inputs)
    context = execute_onnx(ModelWrapper(batched), {graph.input[0].name: inputs},
                           return_full_exec_context=full_context)
    return context if full_context else context[graph.output[0].name]


def _check(model: onnx.ModelProto, artifact: Artifact) -> None:
    """Check the model (``onnx.checker``) and run it in QONNX's executor on a few inputs; any
    difference from the reference's scores is a bug of this module."""
    from .. import reference

    onnx.checker.check_model(model)
    rule = artifact.input
    rng = np.random.default_rng(0)
    if isinstance(rule, FloatInputQuantizer):  # inputs around the quantizer's whole range
        spread = rule.quantizer.scale * (1 << rule.quantizer.bits)
        raw = (rng.standard_normal((3, artifact.in_features)) * spread).astype(np.float32)
    else:
        raw = np.stack([np.full(artifact.in_features, rule.raw_min),
                        np.full(artifact.in_features, rule.raw_max),
                        rng.integers(rule.raw_min, rule.raw_max, artifact.in_features,
                                     endpoint=True)]).astype(np.int64)
    expected = reference.run(artifact, rule.quantize(raw)).scores
    scores = np.concatenate([execute(model, onnx_inputs(artifact, row[None])) for row in raw])
    if not np.array_equal(scores, expected):
        raise RuntimeError(f"QONNX's executor gives scores {scores.tolist()} for the exported "
                           f"{artifact.name!r}, the reference {expected.tolist()}")
