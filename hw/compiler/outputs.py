"""Output stages: the hardware side of each output rule of :mod:`qnnforge.sw.outputs`.

A stage is the rule lowered for one layer: its per-channel constants in the accumulator's domain
(``a = s * acc + o[c]``, which the layer's dot-product kind gives, see :mod:`.dots`), the layout
those constants take in the matrix-vector unit's constant memory, and the combinational unit
that turns an accumulator into an output element. The matrix-vector unit asks its stage; it never
tests which rule it has.

===========================  ==============================  =================================
rule (``kind``)              stage                           unit
===========================  ==============================  =================================
threshold                    :class:`ThresholdStage`         :class:`~..cores.threshold.Threshold`
multithreshold               :class:`MultiThresholdStage`    :class:`~..cores.multithreshold.MultiThreshold`
requantize                   :class:`RequantizeStage`        :class:`~..cores.requantizer.Requantizer`
scores                       :class:`ScoreStage`             ``scale * acc + offset``
===========================  ==============================  =================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape, Signal, Value
from amaranth.lib import data

from ...sw.outputs import (MultiThresholdActivation, OutputRule, RequantizeOutput, ScoreOutput,
                           ThresholdActivation)
from ..cores.multithreshold import MultiThreshold
from ..cores.requantizer import Requantizer
from ..cores.threshold import Threshold
from .dots import DotKind
from .lowering import element_shape, signed_shape_for
from .options import HardwareOptions

__all__ = ["OutputStage", "ThresholdStage", "MultiThresholdStage", "RequantizeStage",
           "ScoreStage", "STAGES", "lower_output"]


class OutputStage(ABC):
    """The protocol of a lowered output rule.

    Attributes
    ----------
    output_shape : Shape
        Shape of one output element.
    """

    output_shape: Shape

    @abstractmethod
    def constant_layout(self):
        """Return the shape of one channel's constants in the constant memory."""

    @abstractmethod
    def channel_constant(self, channel: int):
        """Return the constant memory's initial value for output channel ``channel``."""

    @abstractmethod
    def finish(self, m, name: str, total: Value, constant, options: HardwareOptions) -> Value:
        """Add the unit that turns the accumulator ``total`` into an output element; return it.

        ``constant`` is the channel's constants as read from the memory; ``name`` (the PE index)
        makes the submodule and signal names unique in the module.
        """


@dataclass(frozen=True)
class ThresholdStage(OutputStage):
    """Bipolar threshold: ``y = acc >= bound`` (``acc <= bound`` where ``flip``)."""

    bounds: np.ndarray
    flips: np.ndarray
    bound_shape: Shape
    acc_shape: Shape
    output_shape: Shape

    @classmethod
    def lower(cls, rule: ThresholdActivation, dot: DotKind, weights: np.ndarray, bound: int,
              acc_shape: Shape) -> ThresholdStage:
        """Return the stage of ``rule`` for an accumulator of ``dot`` over a layer of ``weights``
        (its ``(fan_out, fan_in)`` weight values)."""
        t = rule.thresholds.astype(np.int64)
        flips = (rule.directions < 0).astype(np.int64)
        flip = flips if t.ndim == 1 else flips[:, None]
        # direction -1 means -a >= t, i.e. a <= -t
        bounds = dot.accumulator_bounds(np.where(flip == 1, -t, t), flip, weights)
        return cls(bounds=bounds, flips=flips,
                   bound_shape=signed_shape_for(int(bounds.min()), int(bounds.max())),
                   acc_shape=acc_shape, output_shape=element_shape(rule.encoding))

    def constant_layout(self):
        return data.StructLayout({"bound": self.bound_shape, "flip": 1})

    def channel_constant(self, channel: int):
        return {"bound": int(self.bounds[channel]), "flip": int(self.flips[channel])}

    def finish(self, m, name, total, constant, options):
        unit = Threshold(self.acc_shape, self.bound_shape)
        m.submodules[f"threshold{name}"] = unit
        m.d.comb += [unit.acc.eq(total), unit.bound.eq(constant.bound),
                     unit.flip.eq(constant.flip)]
        return unit.y


@dataclass(frozen=True)
class MultiThresholdStage(ThresholdStage):
    """Unsigned k-bit activation: how many of the ``2**k - 1`` bounds ``acc`` passes."""

    @property
    def levels(self) -> int:
        """Thresholds per channel."""
        return int(self.bounds.shape[1])

    def constant_layout(self):
        return data.StructLayout({"bounds": data.ArrayLayout(self.bound_shape, self.levels),
                                  "flip": 1})

    def channel_constant(self, channel: int):
        return {"bounds": [int(b) for b in self.bounds[channel]],
                "flip": int(self.flips[channel])}

    def finish(self, m, name, total, constant, options):
        unit = MultiThreshold(self.acc_shape, self.bound_shape, self.levels)
        m.submodules[f"threshold{name}"] = unit
        m.d.comb += [unit.acc.eq(total), unit.bounds.eq(constant.bounds),
                     unit.flip.eq(constant.flip)]
        return unit.y


@dataclass(frozen=True)
class RequantizeStage(OutputStage):
    """Requantizer of the accumulator; ``shift`` is stored over the constant ``base``.

    The rule's ``a * M + O`` of the signed dot product ``a = s * acc + o[c]`` is
    ``acc * (s * M) + (O + o[c] * M)``: the multiplier and offset are lowered into the
    accumulator's domain, exactly, so the requantizer takes the accumulator itself.
    """

    multiplier: np.ndarray
    offset: np.ndarray
    shift: np.ndarray
    zero_point: np.ndarray
    shift_base: int
    max_shift: int
    multiplier_shape: Shape
    offset_shape: Shape
    output_shape: Shape
    acc_shape: Shape

    @classmethod
    def lower(cls, rule: RequantizeOutput, dot: DotKind, weights: np.ndarray, bound: int,
              acc_shape: Shape) -> RequantizeStage:
        """Return the stage of ``rule``; the per-channel shifts share their minimum as base."""
        shift = rule.shift.astype(np.int64)
        base = int(shift.min())
        # Python integers: |O + o[c] * M| stays inside the rule's validated int64 range, but
        # the intermediate products are kept exact regardless
        multiplier = rule.multiplier.astype(object) * dot.score_scale
        offset = (rule.offset.astype(object)
                  + dot.offsets(weights).astype(object) * rule.multiplier.astype(object))
        return cls(multiplier=multiplier, offset=offset, shift=shift - base,
                   zero_point=rule.zero_point.astype(np.int64), shift_base=base,
                   max_shift=int(shift.max()) - base,
                   multiplier_shape=signed_shape_for(int(multiplier.min()), int(multiplier.max())),
                   offset_shape=signed_shape_for(int(offset.min()), int(offset.max())),
                   output_shape=element_shape(rule.encoding), acc_shape=acc_shape)

    def constant_layout(self):
        return data.StructLayout({
            "multiplier": self.multiplier_shape, "offset": self.offset_shape,
            "shift": range(self.max_shift + 1), "zero_point": self.output_shape})

    def channel_constant(self, channel: int):
        return {key: int(getattr(self, key)[channel])
                for key in ("multiplier", "offset", "shift", "zero_point")}

    def finish(self, m, name, total, constant, options):
        unit = Requantizer(self.acc_shape, self.multiplier_shape, self.offset_shape,
                           self.output_shape, base=self.shift_base, max_shift=self.max_shift,
                           dsp=options.dsp)
        m.submodules[f"requantize{name}"] = unit
        m.d.comb += [unit.acc.eq(total), unit.multiplier.eq(constant.multiplier),
                     unit.offset.eq(constant.offset), unit.shift.eq(constant.shift),
                     unit.zero_point.eq(constant.zero_point)]
        return unit.y


@dataclass(frozen=True)
class ScoreStage(OutputStage):
    """Class scores ``scale * acc + offset``: the bias plus the dot kind's affine map
    (``offset = bias + o[c]``, per channel)."""

    offsets: np.ndarray
    scale: int
    output_shape: Shape

    @classmethod
    def lower(cls, rule: ScoreOutput, dot: DotKind, weights: np.ndarray, bound: int,
              acc_shape: Shape) -> ScoreStage:
        """Return the stage of ``rule``; the score width is the rule's own value range."""
        return cls(offsets=rule.bias.astype(np.int64) + dot.offsets(weights),
                   scale=dot.score_scale,
                   output_shape=signed_shape_for(*rule.value_range(bound)))

    def constant_layout(self):
        return self.output_shape

    def channel_constant(self, channel: int):
        return int(self.offsets[channel])

    def finish(self, m, name, total, constant, options):
        score = Signal(self.output_shape, name=f"score{name}")
        m.d.comb += score.eq(total * self.scale + constant)
        return score


STAGES: dict[str, type[OutputStage]] = {
    ThresholdActivation.kind: ThresholdStage,
    MultiThresholdActivation.kind: MultiThresholdStage,
    RequantizeOutput.kind: RequantizeStage,
    ScoreOutput.kind: ScoreStage,
}
"""The stage of every output rule, by the rule's manifest ``kind``."""


def lower_output(rule: OutputRule, dot: DotKind, weights: np.ndarray, bound: int,
                 acc_shape: Shape) -> OutputStage:
    """Return the output stage of ``rule`` for a layer with this dot kind, weight values
    ``(fan_out, fan_in)`` and accumulator."""
    return STAGES[rule.kind].lower(rule, dot, weights, bound, acc_shape)
