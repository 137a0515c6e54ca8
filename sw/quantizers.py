"""Quantizers for quantization-aware training, each with one job (PyTorch).

The forward pass of every quantizer produces exactly the values the integer artifact holds, so
the trained model and the integer reference agree bit for bit. Gradients pass through with a
straight-through estimator (STE).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["bipolar_sign", "round_ste", "BinaryWeightQuantizer", "SignActivation"]


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
