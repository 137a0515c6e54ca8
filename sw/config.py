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

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "input_bits", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "seed" else 1):
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not self.hidden or any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive integers, "
                             f"not {self.hidden!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout!r}")
