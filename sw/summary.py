"""What a model costs in arithmetic and storage, from its artifact alone (no hardware, no torch).

Per layer and in total:

* ``params``: the integers the layer stores, its weights and its output constants (thresholds,
  requantization constants or class-score biases);
* ``weight_bits``: the weights at their encoding's width (``weights x bits``);
* ``activation_bits``: one inference's outputs at their width (class scores at the score width);
* ``macs``: multiply-accumulates per inference (the layer kind counts them, :attr:`Layer.macs`);
* ``bops``: binary operations, the quantization literature's cost of a mixed-precision
  layer, ``MACs x weight bits x input bits`` (a 1-bit x 1-bit MAC is one XNOR-popcount step;
  an 8 x 8-bit one is 64 of them). A pool's comparisons are no MACs, so it has none.

The hardware's own figures (memory bits as built, cycles, estimated LUTs) are added by
:mod:`qnnforge.hw.explore.estimate` and the ``summary`` command.
"""

from __future__ import annotations

from .artifact import Artifact
from .encoding import Encoding
from .layers import Layer
from .manifest import read_encoding

__all__ = ["COUNTS", "weight_encoding", "layer_counts", "model_counts"]

COUNTS = ("params", "weights", "weight_bits", "activation_bits", "macs", "bops")
"""The additive counts of a layer, summed into the model's totals."""


def weight_encoding(layer: Layer) -> Encoding | None:
    """Return the layer's weight encoding as its manifest entry records it (None: no weights)."""
    entry, _ = layer.to_manifest()
    return read_encoding(entry, "weight_encoding", layer.name) if "weight_encoding" in entry \
        else None


def layer_counts(layer: Layer, score_bits: int) -> dict:
    """Return the counts of one layer (``score_bits``: the width of class scores, for the last).

    Returns
    -------
    dict
        ``name``, ``op``, ``in_shape``, ``out_shape``, ``input_encoding``, ``weight_encoding``
        (None without weights), ``output_encoding`` (``"scores"`` for class scores),
        ``input_bits``, ``weight_bits_each``, ``output_bits`` and the :data:`COUNTS`.
    """
    entry, arrays = layer.to_manifest()
    weights = weight_encoding(layer)
    weight_count = int(arrays[entry["weights"]].size) if weights is not None else 0
    output = layer.output_encoding
    output_bits = output.bits if output is not None else score_bits
    weight_each = weights.bits if weights is not None else 0
    return {
        "name": layer.name, "op": layer.op,
        "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
        "input_encoding": str(layer.input_encoding),
        "weight_encoding": str(weights) if weights is not None else None,
        "output_encoding": str(output) if output is not None else "scores",
        "input_bits": layer.input_encoding.bits, "weight_bits_each": weight_each,
        "output_bits": output_bits,
        "params": sum(int(array.size) for array in arrays.values()),
        "weights": weight_count,
        "weight_bits": weight_count * weight_each,
        "activation_bits": layer.out_features * output_bits,
        "macs": layer.macs,
        "bops": layer.macs * weight_each * layer.input_encoding.bits,
    }


def model_counts(artifact: Artifact) -> dict:
    """Return ``{"layers": [layer_counts...], "totals": {count: sum}}`` of ``artifact``."""
    layers = [layer_counts(layer, artifact.score_bits) for layer in artifact.layers]
    return {"layers": layers,
            "totals": {count: sum(layer[count] for layer in layers) for count in COUNTS}}
