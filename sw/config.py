"""Training hyper-parameters (no torch import, so the command line can show defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QnnforgeError

__all__ = ["ConfigError", "TrainConfig", "ARCHITECTURES", "ROUNDINGS"]

ARCHITECTURES = ("mlp", "cnn")
"""The network kinds: ``mlp`` (dense layers of widths ``hidden``) and ``cnn`` (3x3 convolutions
of ``channels``, max-pools, one dense layer; see :mod:`.cnn`)."""

ROUNDINGS = ("nearest", "stochastic")
"""How fixed-point weights and unsigned activations round in training: ``nearest`` (half to
even, the rule evaluation and export use) or ``stochastic`` (up with probability equal to the
fraction, unbiased; Gupta et al. 2015). Evaluation and export always round to nearest."""

ARCH_DEFAULTS = {
    "mlp": {"learning_rate": 0.01, "dropout": 0.1},
    "cnn": {"learning_rate": 0.05, "dropout": 0.2},
}
"""The defaults of the fields left None, per architecture. The binary CNN needs the larger
learning rate (more sign flips of the latent weights) and the dropout in front of its dense
layer (it overfits the 1437 training digits otherwise)."""


class ConfigError(QnnforgeError, ValueError):
    """A training configuration value (width, epochs, precision, ...) is invalid."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of quantization-aware training (defaults reach >= 95 % on digits).

    ``learning_rate`` and ``dropout`` left None take their architecture's default
    (:data:`ARCH_DEFAULTS`) on construction; a config built with
    :func:`dataclasses.replace` keeps the values already resolved.

    Raises
    ------
    ConfigError
        If a value is out of range, or the precision preset or an override is invalid.
    """

    hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of the MLP (``arch="mlp"``)."""
    input_bits: int = 4
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float | None = None
    dropout: float | None = None
    seed: int = 0
    precision: str = "binary"
    layer_precision: tuple[tuple[int, str], ...] = ()
    """Per-layer overrides of the preset: ``((layer, precision name), ...)``."""
    arch: str = "mlp"
    """The network kind, one of :data:`ARCHITECTURES`."""
    channels: tuple[int, ...] = (16, 16, 32)
    """Output channels of each convolution of the CNN (``arch="cnn"``)."""
    rounding: str = "nearest"
    """Training rounding of fixed-point weights and unsigned activations, one of
    :data:`ROUNDINGS`."""

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"arch must be one of {', '.join(ARCHITECTURES)}, not "
                              f"{self.arch!r}")
        for name, value in ARCH_DEFAULTS[self.arch].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("epochs", "batch_size", "input_bits", "seed"):
            value = getattr(self, name)
            low, kind = (0, "non-negative") if name == "seed" else (1, "positive")
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be a {kind} integer, not {value!r}")
        if self.input_bits > 8:
            raise ConfigError(f"input_bits must be at most 8, not {self.input_bits}")
        if not self.hidden or any(not isinstance(w, int) or w < 1 for w in self.hidden):
            raise ConfigError(f"hidden must be a non-empty tuple of positive integers, "
                              f"not {self.hidden!r}")
        if (not isinstance(self.channels, tuple) or not self.channels
                or any(not isinstance(c, int) or isinstance(c, bool) or c < 1
                       for c in self.channels)):
            raise ConfigError(f"channels must be a non-empty tuple of positive integers, "
                              f"not {self.channels!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, not {self.learning_rate!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), not {self.dropout!r}")
        self.layer_precisions()  # validates the preset and the overrides
        if self.rounding not in ROUNDINGS:
            raise ConfigError(f"rounding must be one of {', '.join(ROUNDINGS)}, not "
                              f"{self.rounding!r}")
        if self.stochastic and self.all_binary:
            raise ConfigError("rounding 'stochastic' needs a layer with fixed-point weights or "
                              "unsigned activations, but every layer is binary")

    @property
    def layers(self) -> int:
        """Number of matrix-vector layers: hidden + 1 (MLP), convolutions + 1 (CNN)."""
        return len(self.hidden if self.arch == "mlp" else self.channels) + 1

    def layer_precisions(self) -> tuple:
        """Return the :class:`~.precision.LayerPrecision` of every matrix-vector layer.

        Raises
        ------
        ConfigError
            If the precision preset or an override is invalid (see
            :func:`~.precision.layer_precisions`).
        """
        from .precision import layer_precisions

        return layer_precisions(self.precision, self.layers, dict(self.layer_precision))

    def precision_summary(self) -> dict:
        """Return ``{"preset": ..., "layers": [precision name of each layer]}`` for reports."""
        return {"preset": self.precision, "layers": [p.name for p in self.layer_precisions()]}

    @property
    def stochastic(self) -> bool:
        """Whether training rounds fixed-point weights and activations stochastically."""
        return self.rounding == "stochastic"

    @property
    def all_binary(self) -> bool:
        """Whether every layer is binary (the original binarized flow, bit for bit)."""
        return all(p.name == "binary" for p in self.layer_precisions())
