"""Quantizers for quantization-aware training, each with one job (PyTorch).

The forward pass of every quantizer produces exactly the values the integer artifact holds, so
the trained model and the integer reference agree bit for bit. Gradients pass through with a
straight-through estimator (STE).

Weight quantizers return the integer *codes*; their scale (``scale(w)``) is what a code is worth
in float, but a dense layer followed by a batch-norm (or by the score head's learned scale) never
needs it: per-channel scale and batch-norm fold into the same integer thresholds or
requantization multipliers, so the dot products stay exact integers.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["bipolar_sign", "round_ste", "stochastic_round_ste", "BinaryWeightQuantizer",
           "SignActivation", "TernaryWeightQuantizer", "FixedPointWeightQuantizer",
           "UnsignedActivationQuantizer"]


class _BipolarSignSTE(torch.autograd.Function):
    """``+1 if x >= 0 else -1``; backward passes the gradient where ``|x| <= 1`` (hard tanh STE)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class _RoundSTE(torch.autograd.Function):
    """Round half to even; backward is the identity."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _StochasticRoundSTE(torch.autograd.Function):
    """``floor(x + u)`` with ``u`` uniform in [0, 1): rounds up with probability ``frac(x)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x + torch.rand_like(x))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _PassThrough(torch.autograd.Function):
    """Return ``codes`` exactly; send the gradient to the latent ``weight`` (STE)."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return codes.detach().clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def stochastic_round_ste(x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` rounded stochastically (unbiased) with an identity gradient."""
    return _StochasticRoundSTE.apply(x)


def bipolar_sign(x: torch.Tensor) -> torch.Tensor:
    """Return ``sign(x)`` in {-1, +1} with ``sign(0) = +1`` and a straight-through gradient."""
    return _BipolarSignSTE.apply(x)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Return ``round(x)`` (half to even, as ``numpy.round``) with an identity gradient."""
    return _RoundSTE.apply(x)


class BinaryWeightQuantizer(nn.Module):
    """Binarize latent float weights to {-1, +1} (BinaryConnect, unscaled).

    The scale a binarized layer would need is absorbed by the batch-norm that follows it, so the
    exported weights are exactly the signs and the dot product stays an integer.
    """

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return bipolar_sign(weight)


class SignActivation(nn.Module):
    """Binarize activations to {-1, +1} with ``sign(0) = +1`` (straight-through gradient)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bipolar_sign(x)


def _reduce_dims(weight: torch.Tensor, per_channel: bool) -> dict:
    return {"dim": tuple(range(1, weight.dim())), "keepdim": True} if per_channel else {}


class TernaryWeightQuantizer(nn.Module):
    """Ternarize latent weights to {-1, 0, +1} (TWN: threshold ``delta = 0.7 * mean|w|``).

    Parameters
    ----------
    threshold : float
        ``delta`` as a fraction of ``mean|w|``, in (0, 2).
    per_channel : bool
        Threshold and scale per output channel (row) or per tensor.

    Raises
    ------
    ValueError
        If ``threshold`` is outside (0, 2).
    """

    def __init__(self, threshold: float = 0.7, per_channel: bool = True):
        super().__init__()
        if not 0 < threshold < 2:
            raise ValueError(f"ternary threshold must lie in (0, 2), not {threshold!r}")
        self.threshold = float(threshold)
        self.per_channel = bool(per_channel)

    def delta(self, weight: torch.Tensor) -> torch.Tensor:
        """Return the magnitude below which a weight becomes 0."""
        return self.threshold * weight.abs().mean(**_reduce_dims(weight, self.per_channel))

    def scale(self, weight: torch.Tensor) -> torch.Tensor:
        """Return TWN's ``alpha``: the mean magnitude of the weights kept non-zero."""
        kept = (weight.abs() > self.delta(weight)).to(weight.dtype)
        dims = _reduce_dims(weight, self.per_channel)
        return (weight.abs() * kept).sum(**dims) / kept.sum(**dims).clamp(min=1)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        codes = torch.sign(weight) * (weight.abs() > self.delta(weight)).to(weight.dtype)
        return _PassThrough.apply(weight, codes)


class FixedPointWeightQuantizer(nn.Module):
    """Quantize latent weights to ``bits``-bit integers with a max-abs scale.

    Signed weights use the symmetric (narrow) range ``-(2**(bits-1) - 1) .. 2**(bits-1) - 1``,
    unsigned ones ``0 .. 2**bits - 1``. Codes are ``clamp(round(w / scale))``, rounding half to
    even (as at export); training may round stochastically instead.

    Parameters
    ----------
    bits : int
        2..16.
    signed : bool
        Signed or unsigned codes.
    per_channel : bool
        One scale per output channel (row) or one per tensor.
    power_of_two : bool
        Round the scale up to a power of two (a shift in hardware) instead of any float.
    stochastic : bool
        Round stochastically in training (never in evaluation).

    Raises
    ------
    ValueError
        If ``bits`` is not an integer in 2..16.
    """

    def __init__(self, bits: int, signed: bool = True, per_channel: bool = True,
                 power_of_two: bool = False, stochastic: bool = False):
        super().__init__()
        if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 16:
            raise ValueError(f"weight bits must be an integer in 2..16, not {bits!r}")
        self.bits = bits
        self.signed = bool(signed)
        self.per_channel = bool(per_channel)
        self.power_of_two = bool(power_of_two)
        self.stochastic = bool(stochastic)

    @property
    def code_range(self) -> tuple[int, int]:
        """Smallest and largest code."""
        if self.signed:
            return -(1 << (self.bits - 1)) + 1, (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def scale(self, weight: torch.Tensor) -> torch.Tensor:
        """Return the float value of one code step."""
        magnitude = weight.detach().abs().amax(**_reduce_dims(weight, self.per_channel))
        scale = (magnitude / self.code_range[1]).clamp(min=1e-8)
        if self.power_of_two:
            scale = torch.exp2(torch.ceil(torch.log2(scale)))
        return scale

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        low, high = self.code_range
        scaled = weight / self.scale(weight)
        rounded = (stochastic_round_ste(scaled) if self.stochastic and self.training
                   else round_ste(scaled))
        return _PassThrough.apply(weight, torch.clamp(rounded, low, high).detach())


class UnsignedActivationQuantizer(nn.Module):
    """Unsigned k-bit activation after a batch-norm: ``clamp(round(x / step), 0, 2**k - 1)``.

    The clamp at 0 is the ReLU. ``step`` is learned (LSQ-style, through the STE of the rounding)
    or fixed. Evaluation rounds half to even, the rule the exporter replays to find the exact
    integer thresholds; training may round stochastically.

    Parameters
    ----------
    bits : int
        1..16.
    step : float
        Initial (or fixed) step; by default ``3 / (2**k - 1)``, so the codes cover ``[0, 3]``.
    learned : bool
        Learn the step.
    stochastic : bool
        Round stochastically in training.

    Raises
    ------
    ValueError
        If ``bits`` is not an integer in 1..16 or ``step`` is not positive.
    """

    def __init__(self, bits: int, step: float | None = None, learned: bool = True,
                 stochastic: bool = False):
        super().__init__()
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 16:
            raise ValueError(f"activation bits must be an integer in 1..16, not {bits!r}")
        self.bits = bits
        step = 3.0 / self.levels if step is None else step
        if not step > 0:
            raise ValueError(f"activation step must be positive, not {step!r}")
        log_step = torch.tensor(float(torch.tensor(step).log()))
        if learned:
            self.log_step = nn.Parameter(log_step)
        else:
            self.register_buffer("log_step", log_step)
        self.stochastic = bool(stochastic)

    @property
    def levels(self) -> int:
        """Largest code, ``2**k - 1``."""
        return (1 << self.bits) - 1

    def step(self) -> torch.Tensor:
        """Return the float value of one code step."""
        return self.log_step.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = x / self.step()
        if self.training:
            rounded = stochastic_round_ste(scaled) if self.stochastic else round_ste(scaled)
        else:
            rounded = torch.round(scaled)
        return torch.clamp(rounded, 0, self.levels)
