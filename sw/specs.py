"""Per-layer command-line specs such as ``1=ternary`` or ``0:8x16``: one parser for all."""

from __future__ import annotations

import re

__all__ = ["parse_layer_specs"]


def parse_layer_specs(specs: list[str], pattern: str, *, form: str, example: str, name: str,
                      value: str, error: type[Exception]) -> dict[int | str, tuple[str, ...]]:
    """Return ``{layer: the other groups of pattern}`` for user specs.

    The layer is the first group: an index (digits, returned as an ``int``) or, where the
    pattern allows, a layer name (returned as a ``str``).

    Parameters
    ----------
    specs : list of str
        The specs as given (surrounding blanks are ignored).
    pattern : str
        A regular expression whose first group is the layer index (digits) or name.
    form, example : str
        How a spec looks, for the error message (``"LAYER:PExSIMD"``, ``"0:8x16"``).
    name, value : str
        What the specs set, for the messages (``"folding"``; ``"folding"``).
    error : type
        The exception class to raise.

    Raises
    ------
    error
        ``"<name> must look like <form> (e.g. <example>), not '<spec>'"`` for a spec of another
        form; ``"<value> for layer <i> is given twice"`` for a repeated layer.
    """
    compiled = re.compile(pattern)
    overrides: dict[int | str, tuple[str, ...]] = {}
    for spec in specs:
        match = compiled.match(spec.strip())
        if match is None:
            raise error(f"{name} must look like {form} (e.g. {example}), not {spec!r}")
        layer, *rest = match.groups()
        key = int(layer) if layer.isdigit() else layer
        if key in overrides:
            raise error(f"{value} for layer {key} is given twice")
        overrides[key] = tuple(rest)
    return overrides
