"""Reading a QONNX file: QONNX's own cleanup, then a linear view of the graph.

A file is read with ``onnx``, tidied by QONNX's own transforms (``qonnx.util.cleanup``: shape
inference, constant folding, unique node and tensor names) and wrapped in :class:`Graph`, which
answers what the importer asks: the node that consumes a tensor, a constant's value, a node's
attributes. Node names in messages are those after the cleanup (``Gemm_0``), followed by the
file's own name where it differs, so a user can find the node in either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import QnnforgeError

__all__ = ["QonnxImportError", "Problem", "Graph", "load_graph", "QONNX_DOMAIN"]

QONNX_DOMAIN = "qonnx.custom_op.general"
_ORIGINAL_NAME = "qnnforge.original_name"


class QonnxImportError(QnnforgeError):
    """A QONNX file cannot be imported: it is unreadable, or it holds nodes without an exact
    integer form (every such node is named, with the reason)."""


@dataclass(frozen=True)
class Problem:
    """Why one node cannot be imported."""

    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node} ({self.op_type}): {self.reason}"


class Graph:
    """A cleaned-up QONNX graph, read by tensor name.

    Parameters
    ----------
    model : qonnx.core.modelwrapper.ModelWrapper
        The model after QONNX's cleanup.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.graph = model.graph
        self._consumers: dict[str, list] = {}
        for node in self.graph.node:
            for name in node.input:
                self._consumers.setdefault(name, []).append(node)
        self.initializers = {init.name: init for init in self.graph.initializer}
        self.input = next(value.name for value in self.graph.input
                          if value.name not in self.initializers)
        self.output = self.graph.output[0].name

    def label(self, node) -> str:
        """Return the node's name, with the file's own name in parentheses if it differs."""
        original = next((prop.value for prop in node.metadata_props
                         if prop.key == _ORIGINAL_NAME), node.name)
        return node.name if original in (node.name, "") else f"{node.name} [{original}]"

    def problem(self, node, reason: str) -> Problem:
        return Problem(self.label(node), node.op_type, reason)

    def consumers(self, tensor: str) -> list:
        """Return the nodes that read ``tensor``."""
        return self._consumers.get(tensor, [])

    def constant(self, tensor: str) -> np.ndarray | None:
        """Return the value of ``tensor`` if it is an initializer, else None."""
        if tensor not in self.initializers:
            return None
        return self.model.get_initializer(tensor)

    def shape(self, tensor: str) -> tuple[int, ...] | None:
        """Return the inferred shape of ``tensor`` (None if unknown)."""
        try:
            shape = self.model.get_tensor_shape(tensor)
        except Exception:  # QONNX raises a bare exception for a tensor without shape
            return None
        return None if shape is None else tuple(int(d) for d in shape)

    def float_type(self, tensor: str) -> np.dtype | None:
        """Return float32 or float64 for a tensor of that inferred type (None otherwise)."""
        from onnx import TensorProto

        values = [*self.model.graph.value_info, *self.model.graph.input,
                  *self.model.graph.output]
        elem = next((v.type.tensor_type.elem_type for v in values if v.name == tensor), None)
        return {TensorProto.FLOAT: np.dtype(np.float32),
                TensorProto.DOUBLE: np.dtype(np.float64)}.get(elem)

    @staticmethod
    def attribute(node, name: str, default=None):
        """Return the value of attribute ``name`` of ``node`` (``default`` if absent)."""
        from onnx import helper

        for attribute in node.attribute:
            if attribute.name == name:
                value = helper.get_attribute_value(attribute)
                return value.decode() if isinstance(value, bytes) else value
        return default

    def metadata(self, key: str) -> str | None:
        """Return the model's ``metadata_props`` entry ``key`` (None if absent)."""
        return next((prop.value for prop in self.model.model.metadata_props if prop.key == key),
                    None)

    @property
    def opset(self) -> int:
        """The default domain's opset version."""
        return next((entry.version for entry in self.model.model.opset_import
                     if entry.domain in ("", "ai.onnx")), 13)


def load_graph(path: str | os.PathLike) -> Graph:
    """Read the ONNX file ``path`` and clean it up with QONNX's own transforms.

    Raises
    ------
    QonnxImportError
        If the file is missing, not an ONNX model, or QONNX's cleanup cannot process it.
    """
    import onnx
    from google.protobuf.message import DecodeError
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    if not path.is_file():
        raise QonnxImportError(f"{path}: no such file")
    try:
        proto = onnx.load(str(path))
    except (DecodeError, OSError, ValueError, RuntimeError) as error:
        raise QonnxImportError(f"{path}: not a readable ONNX model ({error})") from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise QonnxImportError(f"{path}: not a readable ONNX model (it has no graph nodes)")
    constants = {init.name for init in proto.graph.initializer}
    inputs = [value.name for value in proto.graph.input if value.name not in constants]
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        raise QonnxImportError(f"{path}: the graph must have one input and one output, not "
                               f"{len(inputs)} and {len(proto.graph.output)}")
    for node in proto.graph.node:  # keep the file's names through the cleanup's renaming
        entry = node.metadata_props.add()
        entry.key, entry.value = _ORIGINAL_NAME, node.name
    try:
        model = cleanup_model(ModelWrapper(proto))
    except Exception as error:  # QONNX raises bare exceptions on graphs it cannot process
        raise QonnxImportError(f"{path}: QONNX's cleanup cannot process this model "
                               f"({type(error).__name__}: {error})") from None
    return Graph(model)
