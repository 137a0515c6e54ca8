"""Precision per layer: what the weights and the activations of each dense layer are.

Torch-free, so the command line can list the choices. A *precision* names a weight format and
the activation the layer produces; a *preset* assigns one precision to the first, the hidden and
the last layer. The last layer's activation is unused: it always produces integer class scores.

=========  =================  ==========================================================
name       weights            activation (output of a hidden layer)
=========  =================  ==========================================================
binary     bipolar {-1, +1}   sign, bipolar (one threshold per channel)
ternary    {-1, 0, +1}        unsigned 2-bit (3 thresholds per channel)
int2       signed 2-bit       unsigned 2-bit (3 thresholds per channel)
int4       signed 4-bit       unsigned 4-bit (15 thresholds per channel)
int8       signed 8-bit       unsigned 8-bit (requantized: multiplier, shift, offset)
ttq        {-Wn, 0, +Wp}      unsigned 2-bit (3 thresholds per channel)
codebookB  2**B shared values unsigned ``min(B, 4)``-bit (thresholds per channel)
=========  =================  ==========================================================

``ttq`` is trained ternary quantization (learned integer scales ``Wp``, ``Wn`` per layer, at most
:data:`TTQ_SCALE_BITS` bits); ``codebook2`` .. ``codebook5`` are Deep Compression's clustered
weights: ``B``-bit indices into a per-layer table of integer centroids of
:data:`CODEBOOK_VALUE_BITS` bits. Their tables are learned, so the precision's ``weights`` is a
template with the widest table (``-Wn = -Wp``, or the two extreme centroids), which bounds the
magnitudes; the trained layer's own table replaces it at export.

Presets: each of the names above for every layer, and ``mixed`` = int8 first layer, ternary
hidden layers, int8 last layer. Unsigned activations of up to :data:`MAX_THRESHOLD_BITS` bits
are folded into multi-thresholds; wider ones are requantized, because ``2**k - 1`` comparators
per channel stop being cheaper than one multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError
from .encoding import BIPOLAR, TERNARY, Encoding, codebook, sint, ttq, uint
from .outputs import MultiThresholdActivation, RequantizeOutput, ThresholdActivation
from .specs import parse_layer_specs

__all__ = ["LayerPrecision", "PRECISIONS", "PRESETS", "MAX_THRESHOLD_BITS", "TTQ_SCALE_BITS",
           "CODEBOOK_BITS", "CODEBOOK_VALUE_BITS", "layer_precisions", "parse_layer_precision"]

MAX_THRESHOLD_BITS = 4
TTQ_SCALE_BITS = 4
"""Bits of TTQ's integer scales: the larger of ``Wp``, ``Wn`` is ``2**4 - 1``."""
CODEBOOK_BITS = (2, 3, 4, 5)
"""Index widths of the codebook precisions ``codebook2`` .. ``codebook5``."""
CODEBOOK_VALUE_BITS = 8
"""Bits of a codebook's integer centroids (signed, symmetric: -127..127)."""


@dataclass(frozen=True)
class LayerPrecision:
    """The weight format and output activation of one dense layer.

    Parameters
    ----------
    name : str
        The precision's name (``"int4"``...).
    weights : Encoding
        Encoding of the integer weights.
    activation : Encoding
        Encoding of the layer's activations when it is a hidden layer.
    """

    name: str
    weights: Encoding
    activation: Encoding

    @property
    def output_rule(self) -> type:
        """The artifact's output rule of this layer when it is a hidden layer.

        :class:`~.artifact.ThresholdActivation` for bipolar activations,
        :class:`~.artifact.MultiThresholdActivation` up to :data:`MAX_THRESHOLD_BITS` bits and
        :class:`~.artifact.RequantizeOutput` beyond.
        """
        if self.activation == BIPOLAR:
            return ThresholdActivation
        if self.activation.bits <= MAX_THRESHOLD_BITS:
            return MultiThresholdActivation
        return RequantizeOutput


PRECISIONS = {
    "binary": LayerPrecision("binary", BIPOLAR, BIPOLAR),
    "ternary": LayerPrecision("ternary", TERNARY, uint(2)),
    "int2": LayerPrecision("int2", sint(2), uint(2)),
    "int4": LayerPrecision("int4", sint(4), uint(4)),
    "int8": LayerPrecision("int8", sint(8), uint(8)),
    "ttq": LayerPrecision("ttq", ttq((1 << TTQ_SCALE_BITS) - 1, (1 << TTQ_SCALE_BITS) - 1),
                          uint(2)),
    **{f"codebook{bits}": LayerPrecision(
        f"codebook{bits}",
        codebook(bits, (-(1 << (CODEBOOK_VALUE_BITS - 1)) + 1,
                        (1 << (CODEBOOK_VALUE_BITS - 1)) - 1)),
        uint(min(bits, MAX_THRESHOLD_BITS)))
       for bits in CODEBOOK_BITS},
}

PRESETS = {
    **{name: (name, name, name) for name in PRECISIONS},
    "mixed": ("int8", "ternary", "int8"),
}
"""Preset name -> precision of the (first, hidden, last) layers."""


def layer_precisions(preset: str, layers: int,
                     overrides: dict[int, str] | None = None) -> tuple[LayerPrecision, ...]:
    """Return the precision of each of ``layers`` dense layers.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS`.
    layers : int
        Number of dense layers (hidden layers + 1), at least 2.
    overrides : dict, optional
        Layer index -> precision name, replacing the preset's choice for that layer.

    Raises
    ------
    ConfigError
        If the preset or a precision is unknown, an override names a layer that does not exist,
        or a layer with non-binary weights would read bipolar activations (no hardware computes
        that pair).
    """
    if preset not in PRESETS:
        raise ConfigError(f"precision must be one of {', '.join(PRESETS)}, not {preset!r}")
    if not isinstance(layers, int) or layers < 2:
        raise ConfigError(f"layers must be an integer >= 2, not {layers!r}")
    first, hidden, last = PRESETS[preset]
    names = [first] + [hidden] * (layers - 2) + [last]
    for index, name in sorted((overrides or {}).items()):
        if not 0 <= index < layers:
            raise ConfigError(f"layer precision names layer {index}, but the network has "
                              f"layers 0..{layers - 1}")
        if name not in PRECISIONS:
            raise ConfigError(f"layer {index} precision must be one of "
                              f"{', '.join(PRECISIONS)}, not {name!r}")
        names[index] = name
    result = tuple(PRECISIONS[name] for name in names)
    for index in range(1, layers):
        if result[index - 1].activation == BIPOLAR and result[index].weights != BIPOLAR:
            raise ConfigError(f"layer {index}: {result[index].name} weights need fixed-point "
                              f"inputs, but layer {index - 1} ({result[index - 1].name}) "
                              f"outputs bipolar activations")
    return result


def parse_layer_precision(specs: list[str]) -> dict[int, str]:
    """Parse user specs ``"LAYER=PRECISION"`` (e.g. ``"1=ternary"``) into overrides.

    Raises
    ------
    ConfigError
        If a spec does not have that form or names a layer twice.
    """
    specs = parse_layer_specs(specs, r"^(\d+)=(\w+)$", form="LAYER=PRECISION",
                              example="1=ternary", name="layer precision", value="precision",
                              error=ConfigError)
    return {index: name for index, (name,) in specs.items()}
