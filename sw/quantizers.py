"""Quantizers for quantization-aware training, each with one job (PyTorch).

The forward pass of every quantizer produces exactly the values the integer artifact holds, so
the trained model and the integer reference agree bit for bit. Gradients pass through with a
straight-through estimator (STE).

Weight quantizers return the integer *codes*; their scale (``scale(w)``) is what a code is worth
in float, but a dense layer followed by a batch-norm (or by the score head's learned scale) never
needs it: per-channel scale and batch-norm fold into the same integer thresholds or
requantization multipliers, so the dot products stay exact integers.

The two quantizers with a value table, :class:`TTQWeightQuantizer` (trained ternary scales) and
:class:`CodebookWeightQuantizer` (Deep Compression's shared weights), return integer *values*
(``+a``/``-b``, or integer centroids) and name the table they used with ``encoding()``; their
per-layer float scale is absorbed the same way.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .encoding import BIPOLAR, TERNARY, Encoding, codebook, sint, ttq, uint

__all__ = ["bipolar_sign", "round_ste", "stochastic_round_ste", "BinaryWeightQuantizer",
           "SignActivation", "TernaryWeightQuantizer", "FixedPointWeightQuantizer",
           "UnsignedActivationQuantizer", "TTQWeightQuantizer", "CodebookWeightQuantizer",
           "kmeans_linear"]


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

    def encoding(self, weight: torch.Tensor | None = None) -> Encoding:
        """Return the artifact's encoding of the codes: bipolar."""
        return BIPOLAR

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

    def encoding(self, weight: torch.Tensor | None = None) -> Encoding:
        """Return the artifact's encoding of the codes: ternary."""
        return TERNARY

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

    def encoding(self, weight: torch.Tensor | None = None) -> Encoding:
        """Return the artifact's encoding of the codes: ``bits``-bit signed or unsigned."""
        return sint(self.bits) if self.signed else uint(self.bits)

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


class _TTQ(torch.autograd.Function):
    """TTQ's forward (integer values ``a``/``0``/``-b``) and backward (Zhu et al. 2017).

    In float units the weight is ``Wp``, 0 or ``-Wn``; the integer output is that over the
    shared scale ``s``, so the float gradient is ``grad / s``. The latent weight gets it scaled
    by ``Wp`` (positive), 1 (zero) or ``Wn`` (negative); ``Wp`` the sum over the positive weights
    and ``Wn`` minus the sum over the negative ones.
    """

    @staticmethod
    def forward(ctx, weight, wp, wn, delta, a, b, s):
        positive = weight > delta
        negative = weight < -delta
        ctx.save_for_backward(positive, negative, wp, wn, s)
        return a * positive.to(weight.dtype) - b * negative.to(weight.dtype)

    @staticmethod
    def backward(ctx, grad):
        positive, negative, wp, wn, s = ctx.saved_tensors
        grad = grad / s
        scale = torch.where(positive, wp.abs(), torch.where(negative, wn.abs(),
                                                             torch.ones_like(grad)))
        grad_wp = (grad * positive).sum().reshape(wp.shape)
        grad_wn = -(grad * negative).sum().reshape(wn.shape)
        return grad * scale, grad_wp, grad_wn, None, None, None, None


class TTQWeightQuantizer(nn.Module):
    """Trained ternary quantization: ``+Wp``, 0 or ``-Wn`` per weight, ``Wp``, ``Wn`` learned.

    A weight is positive when ``w > delta`` and negative when ``w < -delta``, with the paper's
    threshold ``delta = threshold * max|w|`` over the layer. The learned scales are exported
    exactly as integers: ``s = max(Wp, Wn) / (2**scale_bits - 1)`` and ``a = round(Wp / s)``,
    ``b = round(Wn / s)`` (each at least 1), so the larger is ``2**scale_bits - 1``; the forward
    pass outputs ``a``, 0 and ``-b``, the values the artifact holds, and ``s`` is absorbed by the
    batch-norm that follows (or the score head's scale).

    Parameters
    ----------
    threshold : float
        ``t`` in ``delta = t * max|w|``, in (0, 1); the paper's 0.05 by default.
    scale_bits : int
        Bits of the integer scales ``a`` and ``b``, 1..8.

    Raises
    ------
    ValueError
        If ``threshold`` or ``scale_bits`` is out of range.
    """

    def __init__(self, threshold: float = 0.05, scale_bits: int = 4):
        super().__init__()
        if not 0 < threshold < 1:
            raise ValueError(f"TTQ threshold must lie in (0, 1), not {threshold!r}")
        if not isinstance(scale_bits, int) or isinstance(scale_bits, bool) \
                or not 1 <= scale_bits <= 8:
            raise ValueError(f"TTQ scale bits must be an integer in 1..8, not {scale_bits!r}")
        self.threshold = float(threshold)
        self.scale_bits = scale_bits
        self.wp = nn.Parameter(torch.tensor(1.0))
        self.wn = nn.Parameter(torch.tensor(1.0))

    @property
    def levels(self) -> int:
        """The larger integer scale, ``2**scale_bits - 1``."""
        return (1 << self.scale_bits) - 1

    def delta(self, weight: torch.Tensor) -> torch.Tensor:
        """Return the magnitude at or below which a weight becomes 0."""
        return self.threshold * weight.detach().abs().max()

    def integer_scales(self) -> tuple[int, int]:
        """Return the integer ``(a, b)`` standing for ``(Wp, Wn)``."""
        wp, wn = float(self.wp.detach().abs()), float(self.wn.detach().abs())
        s = max(wp, wn, 1e-12) / self.levels
        return (min(self.levels, max(1, round(wp / s))),
                min(self.levels, max(1, round(wn / s))))

    def encoding(self, weight: torch.Tensor | None = None) -> Encoding:
        """Return the artifact's encoding of the values the forward pass uses."""
        a, b = self.integer_scales()
        return ttq(b, a)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        a, b = self.integer_scales()
        s = (torch.maximum(self.wp.detach().abs(), self.wn.detach().abs()).clamp(min=1e-12)
             / self.levels)
        return _TTQ.apply(weight, self.wp, self.wn, self.delta(weight), float(a), float(b),
                          s.to(weight.dtype))


def kmeans_linear(values: np.ndarray, clusters: int, iterations: int = 100) -> np.ndarray:
    """Return ``clusters`` centroids of ``values`` by k-means with linear initialisation.

    The centroids start evenly spaced from ``min(values)`` to ``max(values)`` (Deep
    Compression's linear initialisation, which keeps the rare large weights represented); each
    Lloyd iteration assigns every value to its nearest centroid (the lower one on a tie) and
    moves each centroid to the mean of its values; a centroid with no values stays. Stops when
    no assignment changes or after ``iterations``.

    Raises
    ------
    ValueError
        If ``values`` is empty or ``clusters`` is not a positive integer.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if not values.size:
        raise ValueError("k-means needs at least one value")
    if not isinstance(clusters, int) or isinstance(clusters, bool) or clusters < 1:
        raise ValueError(f"clusters must be a positive integer, not {clusters!r}")
    centroids = np.linspace(values.min(), values.max(), clusters)
    assignment = None
    for _ in range(iterations):
        nearest = np.argmin(np.abs(values[:, None] - centroids[None, :]), axis=1)
        if assignment is not None and np.array_equal(nearest, assignment):
            break
        assignment = nearest
        sums = np.bincount(assignment, weights=values, minlength=clusters)
        counts = np.bincount(assignment, minlength=clusters)
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
    return centroids


class CodebookWeightQuantizer(nn.Module):
    """Codebook (clustered) weights: ``2**bits`` shared values per layer (Deep Compression).

    Until :meth:`cluster` runs, training uses ``value_bits``-bit fixed-point weights (one
    max-abs scale per layer) so the latent weights learn. :meth:`cluster` runs
    :func:`kmeans_linear` on the latent weights and fixes each weight's cluster; from then on a
    weight is its cluster's centroid and only the centroids learn, each with the sum of the
    gradients of its weights (the gradient of an index lookup). The forward pass uses integer
    centroids ``clamp(round(c / s))`` with ``s = max|c| / (2**(value_bits-1) - 1)`` (absorbed by
    the batch-norm), exactly the table the artifact holds (:meth:`encoding`); equal integer
    centroids share one table entry. An unclustered quantizer evaluated (or exported) clusters
    its weights first.

    Parameters
    ----------
    bits : int
        Index width, 1..8 (``2**bits`` centroids).
    value_bits : int
        Width of an integer centroid (signed, symmetric), 2..16.

    Raises
    ------
    ValueError
        If ``bits`` or ``value_bits`` is out of range.
    """

    def __init__(self, bits: int, value_bits: int = 8):
        super().__init__()
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
            raise ValueError(f"codebook bits must be an integer in 1..8, not {bits!r}")
        if not isinstance(value_bits, int) or isinstance(value_bits, bool) \
                or not 2 <= value_bits <= 16:
            raise ValueError(f"codebook value bits must be an integer in 2..16, not "
                             f"{value_bits!r}")
        self.bits = bits
        self.value_bits = value_bits
        self.centroids = nn.Parameter(torch.zeros(1 << bits))
        self.register_buffer("assignment", torch.zeros(0, dtype=torch.long))
        self.register_buffer("clustered", torch.tensor(False))

    @property
    def levels(self) -> int:
        """Largest integer centroid magnitude, ``2**(value_bits-1) - 1``."""
        return (1 << (self.value_bits - 1)) - 1

    def cluster(self, weight: torch.Tensor) -> None:
        """Replace the centroids by k-means of ``weight`` and fix every weight's cluster."""
        with torch.no_grad():
            values = weight.detach().to(torch.float64).cpu().numpy()
            centroids = kmeans_linear(values, 1 << self.bits)
            nearest = np.argmin(np.abs(values.reshape(-1, 1) - centroids[None, :]), axis=1)
            self.centroids.copy_(torch.as_tensor(centroids, dtype=self.centroids.dtype))
            self.assignment = torch.as_tensor(nearest.reshape(values.shape), dtype=torch.long,
                                              device=weight.device)
            self.clustered.fill_(True)

    def integer_centroids(self) -> torch.Tensor:
        """Return the integer centroids (float tensor) with a straight-through gradient."""
        scale = (self.centroids.detach().abs().max() / self.levels).clamp(min=1e-12)
        return torch.clamp(round_ste(self.centroids / scale), -self.levels, self.levels)

    def encoding(self, weight: torch.Tensor | None = None) -> Encoding:
        """Return the artifact's encoding: the sorted distinct integer centroids in use."""
        if not bool(self.clustered):
            self.cluster(weight)
        with torch.no_grad():
            table = self.integer_centroids()[self.assignment.unique()]
        return codebook(self.bits, sorted({int(v) for v in table.to(torch.int64).tolist()}))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not bool(self.clustered):
            if self.training:
                scale = (weight.detach().abs().max() / self.levels).clamp(min=1e-8)
                codes = torch.clamp(torch.round(weight / scale), -self.levels, self.levels)
                return _PassThrough.apply(weight, codes)
            self.cluster(weight)
        return self.integer_centroids().to(weight.dtype)[self.assignment]
