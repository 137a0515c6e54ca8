"""Training hyper-parameters (no torch import, so the command line can show defaults)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of quantization-aware training (defaults reach >= 95 % on digits)."""

    hidden: tuple[int, ...] = (128, 128)
    input_bits: int = 4
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 0.01
    dropout: float = 0.1
    seed: int = 0
    precision: str = "binary"
    layer_precision: tuple[tuple[int, str], ...] = ()
    """Per-layer overrides of the preset: ``((layer, precision name), ...)``."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "input_bits", "seed"):
            value = getattr(self, name)
            low, kind = (0, "non-negative") if name == "seed" else (1, "positive")
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be a {kind} integer, not {value!r}")
        if not self.hidden or any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive integers, "
                             f"not {self.hidden!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout!r}")
        self.layer_precisions()  # validates the preset and the overrides

    def layer_precisions(self) -> tuple:
        """Return the :class:`~.precision.LayerPrecision` of every dense layer.

        Raises
        ------
        ValueError
            If the precision preset or an override is invalid (see
            :func:`~.precision.layer_precisions`).
        """
        from .precision import layer_precisions

        return layer_precisions(self.precision, len(self.hidden) + 1,
                                dict(self.layer_precision))

    @property
    def all_binary(self) -> bool:
        """Whether every layer is binary (the original binarized flow, bit for bit)."""
        return all(p.name == "binary" for p in self.layer_precisions())
