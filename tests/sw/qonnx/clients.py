"""Real Brevitas clients of the importer and QONNX's own executor as their reference.

The models are small and train for seconds on the digits; FINN's BNN-PYNQ models come from the
brevitas wheel with random weights. Used by the tests (``conftest.py``) and ``bench/qonnx.py``.
Each digits model takes the raw pixels (0..16) as float32 and scales them inside the graph, so
the imported artifact's float input rule takes the digits as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qnnforge.sw.reference import run


@dataclass(frozen=True)
class Execution:
    """QONNX's executor on a batch: the class scores and each activation quantizer's codes."""

    scores: np.ndarray
    codes: list[np.ndarray]
    """Per activation quantizer (graph order, the input quantizer excluded): ``u`` per sample,
    flattened channels-last for images, as the artifact stores it."""
    inputs: list[np.ndarray]
    """Per activation quantizer: its float input, flattened like ``codes``."""
    quantizers: list
    """Per boundary: the quantizer node whose codes it holds."""


def _flat(value: np.ndarray) -> np.ndarray:
    if value.ndim == 4:  # NCHW -> channels-last, the artifact's order
        value = value.transpose(0, 2, 3, 1)
    return value.reshape(len(value), -1)


def level_of(node, model, value: np.ndarray) -> np.ndarray:
    """Return the artifact level ``u`` of a quantizer's float output ``value``, decoded from the
    node's own parameters (not by the importer)."""
    if node.op_type == "BipolarQuant":
        return np.where(value >= 0, 1, -1)
    if node.op_type == "MultiThreshold":
        attributes = {a.name: a for a in node.attribute}
        scale = attributes["out_scale"].f if "out_scale" in attributes else 1.0
        bias = attributes["out_bias"].f if "out_bias" in attributes else 0.0
        counts = np.rint((value - bias) / scale).astype(np.int64)
        thresholds = model.get_initializer(node.input[1])
        return 2 * counts - 1 if thresholds.shape[1] == 1 and (scale, bias) == (2.0, -1.0) \
            else counts
    scale, zero, bits = (float(model.get_initializer(name).reshape(-1)[0])
                         for name in node.input[1:4])
    signed = next(a.i for a in node.attribute if a.name == "signed")
    narrow = next(a.i for a in node.attribute if a.name == "narrow")
    codes = np.rint(value.astype(np.float64) / scale + zero).astype(np.int64)
    if bits == 1 and signed:
        return codes
    low = -(1 << (int(bits) - 1)) + narrow if signed else 0
    return codes - low


def execute(path: Path, x: np.ndarray) -> Execution:
    """Run QONNX's executor (``qonnx.core.onnx_exec.execute_onnx``) on the batch ``x``."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    model = model.transform(ChangeBatchSize(len(x))).transform(InferShapes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = execute_onnx(model, {model.graph.input[0].name: x.astype(np.float32)},
                               return_full_exec_context=True)
    # every layer boundary QONNX exposes: each activation quantizer's output (the input
    # quantizer excluded) and each max-pool's, decoded by the quantizer before it
    boundaries, quantizer = [], None
    for node in model.graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "MultiThreshold") and \
                model.get_initializer(node.input[0]) is None:
            if quantizer is not None:
                boundaries.append((node, node))
            quantizer = node
        elif node.op_type == "MaxPool":
            boundaries.append((node, quantizer))
    codes = [_flat(level_of(decoder, model, context[node.output[0]]))
             for node, decoder in boundaries]
    inputs = [_flat(context[node.input[0]]) for node, _ in boundaries]
    return Execution(context[model.graph.output[0].name].reshape(len(x), -1), codes, inputs,
                     [decoder for _, decoder in boundaries])


def within_one_ulp(node, model, value: float, level: int) -> bool:
    """Return whether the quantizer ``node`` gives ``level`` for ``value`` moved by one float32
    ulp (up or down): the executor's value sits on a threshold."""
    value = np.float32(value)
    for moved in (np.nextafter(value, np.float32(np.inf)),
                  np.nextafter(value, np.float32(-np.inf))):
        if node.op_type == "BipolarQuant":
            got = 1 if moved >= 0 else -1
        else:
            from qonnx.custom_op.registry import getCustomOp

            op = getCustomOp(node)
            context = {node.input[0]: np.array([[moved]], dtype=np.float32)}
            for name in node.input[1:]:
                context[name] = model.get_initializer(name)
            context[node.output[0]] = np.zeros((1, 1), dtype=np.float32)
            op.execute_node(context, model.graph)
            got = int(level_of(node, model, context[node.output[0]]).reshape(-1)[0])
        if got == level:
            return True
    return False


def train(model, split, epochs: int, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    x = torch.tensor(split.x_train, dtype=torch.float32)
    y = torch.tensor(split.y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    model.eval()


def mlp(kind: str, seed: int):
    """Return a Brevitas MLP 64 -> 64 -> 10 of the given precision (``binary``, ``ternary``,
    ``int4``), reading raw pixels 0..16, initialized from ``seed``."""
    import brevitas.nn as qnn
    import torch

    torch.manual_seed(seed)  # the same model whatever ran before in this process
    from brevitas.quant import (Int8ActPerTensorFloat, Int8WeightPerTensorFloat,
                                Uint8ActPerTensorFloat)
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

    class MLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if kind == "int4":
                self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4)
                weight = {"weight_quant": Int8WeightPerTensorFloat, "weight_bit_width": 4}
                act = lambda: qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat,  # noqa: E731
                                            bit_width=4)
            else:
                bits = 1 if kind == "binary" else 2
                self.inp = qnn.QuantIdentity(act_quant=CommonActQuant, bit_width=bits)
                weight = {"weight_quant": CommonWeightQuant, "weight_bit_width": bits}
                act = lambda: qnn.QuantIdentity(act_quant=CommonActQuant,  # noqa: E731
                                                bit_width=bits)
            self.fc0 = qnn.QuantLinear(64, 64, bias=False, **weight)
            self.bn0 = torch.nn.BatchNorm1d(64)
            self.act0 = act()
            self.fc1 = qnn.QuantLinear(64, 10, bias=False, **weight)
            if kind != "int4":  # as FINN's BNN-PYNQ models: constant-scale weights start at +-1
                for layer in (self.fc0, self.fc1):
                    torch.nn.init.uniform_(layer.weight.data, -1, 1)

        def forward(self, x):
            x = x * (1.0 / 8.0) - 1.0  # pixels 0..16 -> -1..1
            return self.fc1(self.act0(self.bn0(self.fc0(self.inp(x)))))

    return MLP()


def export(model, shape, path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, torch.zeros(*shape), export_path=str(path))
    return path


def cnn(seed: int):
    """Return a binary Brevitas CNN reading 8x8 raw pixels (NCHW): conv 3x3 16 (no padding),
    batch-norm, bipolar activation, 2x2 max-pool, then a dense score layer (initialized from
    ``seed``)."""
    import brevitas.nn as qnn
    import torch

    torch.manual_seed(seed)
    from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant

    class CNN(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = qnn.QuantIdentity(act_quant=CommonActQuant, bit_width=1)
            self.conv0 = qnn.QuantConv2d(1, 16, 3, bias=False, weight_quant=CommonWeightQuant,
                                         weight_bit_width=1)
            self.bn0 = torch.nn.BatchNorm2d(16)
            self.act0 = qnn.QuantIdentity(act_quant=CommonActQuant, bit_width=1)
            self.pool0 = torch.nn.MaxPool2d(2)
            self.fc0 = qnn.QuantLinear(144, 10, bias=False, weight_quant=CommonWeightQuant,
                                       weight_bit_width=1)
            for layer in (self.conv0, self.fc0):
                torch.nn.init.uniform_(layer.weight.data, -1, 1)

        def forward(self, x):
            x = x.reshape(-1, 1, 8, 8) * (1.0 / 8.0) - 1.0
            x = self.pool0(self.act0(self.bn0(self.conv0(self.inp(x)))))
            return self.fc0(torch.flatten(x, 1))

    return CNN()


def bnn_pynq(name: str, seed: int):
    """Return FINN's BNN-PYNQ model ``name`` (e.g. ``tfc_1w1a``) with random weights and
    batch-norm statistics, so its thresholds are not trivial."""
    import torch
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-8, 8)
            module.running_var.uniform_(0.5, 30)
            module.weight.data.uniform_(-1.5, 1.5)
            module.bias.data.uniform_(-1, 1)
    return model.eval()


@dataclass(frozen=True)
class Agreement:
    """The reference against QONNX's executor on a batch."""

    classes: int
    """Samples given the same class."""
    differing: list[str]
    """Samples where any activation or the class differs, each printed with the reason."""
    unexplained: list[str]
    """Those of them not explained by a value within one float32 ulp of a threshold."""


def agreement(path, artifact, x) -> Agreement:
    """Compare the reference with QONNX's executor on ``x``: every class and every quantized
    activation; print each differing sample and whether a float32 ulp explains it."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    execution = execute(path, x)
    trace = run(artifact, artifact.input.quantize(x))
    classes = np.argmax(execution.scores, axis=1)
    assert len(execution.codes) == len(artifact.layers) - 1
    differing, unexplained = [], []
    for sample in range(len(x)):
        for index, codes in enumerate(execution.codes):
            differs = np.flatnonzero(codes[sample] != trace.outputs[index][sample])
            if differs.size:  # the first layer whose activations differ: on a threshold?
                channel = int(differs[0])
                value = float(execution.inputs[index][sample, channel])
                level = int(trace.outputs[index][sample, channel])
                explained = within_one_ulp(execution.quantizers[index], model, value, level)
                print(f"sample {sample}: layer {index} channel {channel}: executor input "
                      f"{value!r} gives {codes[sample, channel]}, reference {level}"
                      f"{' (within one float32 ulp of the threshold)' if explained else ''}")
                differing.append(f"sample {sample} layer {index}")
                if not explained:
                    unexplained.append(differing[-1])
                break
        else:
            if classes[sample] != trace.classes[sample]:
                differing.append(f"sample {sample}: class {classes[sample]} vs "
                                 f"{trace.classes[sample]} with equal activations")
                unexplained.append(differing[-1])
    return Agreement(int(np.sum(classes == trace.classes)), differing, unexplained)
