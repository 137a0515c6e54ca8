"""Search for the precision and folding of every layer under a LUT (and cycles) budget.

A *design* is a precision per matrix-vector layer (an *assignment*, e.g. ``("int4", "ternary",
"int8")``) and a folding. The folding does not change what the network computes, so accuracy is
a property of the assignment alone, while LUTs and cycles depend on both. The folding of an
assignment is the default folding (:func:`~..compiler.plan.default_folding`) at one of a few
cycle targets (:func:`fold_targets`: half the default target up to eight times it); each
:class:`Candidate` is one assignment at one target, with the cycles of the cycle model and the
resources of :func:`~.estimate.estimate_resources`.

Training every assignment is out of reach (five precisions on three layers are 85 valid
assignments, each a QAT run), so :func:`coordinate_search` trains few of them:

1. every *uniform* assignment (one precision on every layer) with a candidate within the budget;
   the best of them is the incumbent, and the best single-precision design to compare with;
2. one pass over the layers, first to last: every other precision of that layer, the others kept
   from the incumbent, provided the assignment is valid and has a candidate within the budget.
   A move is taken when it is more accurate, or as accurate and cheaper (fewer estimated LUTs
   at its chosen folding), so a layer that loses nothing at a lower precision frees LUTs for
   the layers after it.

With ``P`` precisions and ``L`` layers that is at most ``P + L * (P - 1)`` trainings (17 for
the digits MLP), in ``L + 1`` rounds whose trainings are independent jobs. Estimating needs an
artifact of the assignment's structure, which a one-epoch training gives; the estimate depends
on the layers' shapes, encodings and folding, not on the values of the trained weights.

An assignment's chosen candidate is its fastest one within the budget (fewest cycles per
inference, then fewest LUTs): the budget is spent on throughput once the precision is fixed.
The designs are then ranked by accuracy (:func:`rank_designs`); the caller builds the first and
falls back to the next when the real synthesis exceeds the budget the estimate met.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ...sw.artifact import Artifact
from ...sw.config import ConfigError
from ...sw.errors import QnnforgeError
from ...sw.precision import PRECISIONS, layer_precisions
from ..compiler.folding import Folding
from ..compiler.options import HardwareOptions
from ..compiler.plan import cycle_model, default_folding, default_target_cycles
from ..tools.files import save_figure_atomic
from .estimate import estimate_resources

__all__ = ["DEFAULT_PRECISIONS", "FOLD_FACTORS", "SearchError", "Budget", "Candidate",
           "Evaluation", "SearchTrace", "valid_assignments", "uniform_assignments", "moves",
           "check_precisions", "fold_targets", "estimate_candidates", "choose_candidate",
           "coordinate_search", "rank_designs", "best_uniform", "pareto_front",
           "trained_points", "write_pareto_plot"]

DEFAULT_PRECISIONS = ("binary", "ternary", "int2", "int4", "int8")
"""The precisions a search chooses from unless told otherwise."""
FOLD_FACTORS = (0.5, 1, 2, 4, 8)
"""Cycle targets of the candidate foldings, as multiples of the network's default target."""

Assignment = tuple[str, ...]
"""The precision name of every matrix-vector layer, in order."""


class SearchError(QnnforgeError, ValueError):
    """A search's budget or choices are invalid, or no design fits the budget."""


def _positive(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SearchError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class Budget:
    """The LUTs (and, optionally, cycles per inference) a design may use.

    Raises
    ------
    SearchError
        If ``lut`` or a given ``cycles`` is not a positive integer.
    """

    lut: int
    cycles: int | None = None

    def __post_init__(self) -> None:
        _positive("LUT budget", self.lut)
        if self.cycles is not None:
            _positive("cycles budget", self.cycles)

    def admits(self, candidate: Candidate) -> bool:
        """Return whether ``candidate``'s estimated LUTs and its cycles are within budget."""
        return candidate.lut <= self.lut and (self.cycles is None
                                              or candidate.cycles <= self.cycles)

    def to_json(self) -> dict:
        return {"lut": self.lut, "cycles": self.cycles}


@dataclass(frozen=True)
class Candidate:
    """One assignment at one folding, with its predicted cycles and estimated resources.

    Attributes
    ----------
    precisions : tuple of str
        Precision of every matrix-vector layer.
    target_cycles : int
        The cycle target the default folding was asked for.
    folding : Folding
        The folding it gave.
    cycles : int
        Steady-state cycles per inference (:func:`~..compiler.plan.cycle_model`).
    estimate : dict
        :func:`~.estimate.estimate_resources`'s ``lut``, ``ff``, ``bram`` and ``dsp``.
    """

    precisions: Assignment
    target_cycles: int
    folding: Folding
    cycles: int
    estimate: dict

    @property
    def lut(self) -> int:
        """Estimated LUTs."""
        return self.estimate["lut"]

    def to_json(self) -> dict:
        return {"target_cycles": self.target_cycles, "folding": self.folding.to_json(),
                "cycles": self.cycles,
                "estimated": {key: self.estimate[key] for key in ("lut", "ff", "bram", "dsp")}}

    @classmethod
    def from_json(cls, precisions: Assignment, data: dict) -> Candidate:
        """Return the candidate of ``precisions`` that :meth:`to_json` wrote."""
        return cls(tuple(precisions), data["target_cycles"], Folding.from_json(data["folding"]),
                   data["cycles"], dict(data["estimated"]))


@dataclass
class Evaluation:
    """An assignment the search looked at: its candidates and, if trained, its accuracies.

    Attributes
    ----------
    precisions : tuple of str
        Precision of every matrix-vector layer.
    candidates : list of Candidate
        One per distinct folding of :func:`fold_targets`, fastest first.
    chosen : Candidate or None
        The fastest candidate within the budget (fewest cycles, then LUTs); None if none is.
    accuracy : dict or None
        The training's accuracies (``quantized``, ``reference``, ``float``), if trained.
    round : int
        The search round that looked at it (0: the uniform assignments).
    """

    precisions: Assignment
    candidates: list[Candidate]
    chosen: Candidate | None
    accuracy: dict | None = None
    round: int = 0

    @property
    def uniform(self) -> bool:
        """Whether every layer has the same precision."""
        return len(set(self.precisions)) == 1

    @property
    def score(self) -> float:
        """Held-out accuracy of the integer reference (what the hardware computes)."""
        if self.accuracy is None:
            raise ValueError(f"design {'/'.join(self.precisions)} has not been trained")
        return self.accuracy["reference"]

    def to_json(self) -> dict:
        return {"layers": list(self.precisions), "round": self.round,
                "fits": self.chosen is not None,
                "chosen": None if self.chosen is None else self.chosen.to_json(),
                "accuracy": self.accuracy,
                "candidates": [candidate.to_json() for candidate in self.candidates]}


@dataclass
class SearchTrace:
    """Every design a search looked at, in the order it looked, and the final incumbent."""

    budget: Budget
    evaluations: dict[Assignment, Evaluation] = field(default_factory=dict)
    incumbent: Assignment | None = None
    trainings: int = 0


def valid_assignments(layers: int, precisions: Sequence[str]) -> list[Assignment]:
    """Return every assignment of ``precisions`` to ``layers`` layers that hardware computes.

    A layer that outputs bipolar activations (binary) must be followed by binary weights
    (:func:`~...sw.precision.layer_precisions` refuses the rest).
    """
    return [assignment for assignment in itertools.product(precisions, repeat=layers)
            if _valid(assignment)]


def _valid(assignment: Assignment) -> bool:
    try:
        layer_precisions(assignment[0], len(assignment), dict(enumerate(assignment)))
    except ConfigError:
        return False
    return True


def uniform_assignments(layers: int, precisions: Sequence[str]) -> list[Assignment]:
    """Return the assignment of each precision to every layer, in the order given."""
    return [(name,) * layers for name in precisions]


def moves(assignment: Assignment, layer: int, precisions: Sequence[str]) -> list[Assignment]:
    """Return the valid assignments that differ from ``assignment`` in ``layer`` only."""
    changed = [assignment[:layer] + (name,) + assignment[layer + 1:]
               for name in precisions if name != assignment[layer]]
    return [candidate for candidate in changed if _valid(candidate)]


def check_precisions(precisions: Sequence[str]) -> tuple[str, ...]:
    """Return ``precisions`` as a tuple after checking them.

    Raises
    ------
    SearchError
        If a name is not a precision, one is repeated or none is given.
    """
    precisions = tuple(precisions)
    if not precisions:
        raise SearchError("precisions must name at least one precision, not none")
    for name in precisions:
        if name not in PRECISIONS:
            raise SearchError(f"precisions must be among {', '.join(PRECISIONS)}, not {name!r}")
    if len(set(precisions)) != len(precisions):
        raise SearchError(f"precisions must not repeat a name, not {','.join(precisions)}")
    return precisions


def fold_targets(layers: Sequence) -> tuple[int, ...]:
    """Return the cycle targets of the candidate foldings of a network's ``layers``.

    :data:`FOLD_FACTORS` times :func:`~..compiler.plan.default_target_cycles` (64 .. 1024 cycles
    for the digits MLP, whose default is 128).
    """
    default = default_target_cycles(layers)
    return tuple(max(1, round(default * factor)) for factor in FOLD_FACTORS)


def estimate_candidates(artifact: Artifact, precisions: Assignment, fabric: str,
                        options: HardwareOptions | None = None,
                        targets: Iterable[int] | None = None) -> list[Candidate]:
    """Return the candidates of an assignment: one per distinct folding, fastest first.

    Parameters
    ----------
    artifact : Artifact
        Any artifact with the assignment's structure (a briefly trained one will do).
    precisions : tuple of str
        The assignment's precision names (recorded in the candidates).
    fabric : str
        The fabric the resources are estimated for.
    options : HardwareOptions, optional
        How the hardware is built (the demo's defaults if None).
    targets : iterable of int, optional
        Cycle targets; :func:`fold_targets` by default.
    """
    targets = fold_targets(artifact.layers) if targets is None else targets
    seen: dict[Folding, Candidate] = {}
    for target in sorted(targets):
        folding = default_folding(artifact.layers, target)
        if folding in seen:
            continue
        cycles = cycle_model(artifact.layers, folding).interval
        estimate = estimate_resources(artifact, folding, fabric, options)
        seen[folding] = Candidate(tuple(precisions), target, folding, cycles,
                                  {key: estimate[key] for key in ("lut", "ff", "bram", "dsp")})
    return sorted(seen.values(), key=lambda c: (c.cycles, c.lut))


def choose_candidate(candidates: Iterable[Candidate], budget: Budget) -> Candidate | None:
    """Return the fastest candidate within ``budget`` (then the fewest LUTs), or None."""
    fitting = [candidate for candidate in candidates if budget.admits(candidate)]
    return min(fitting, key=lambda c: (c.cycles, c.lut), default=None)


Estimator = Callable[[list[Assignment]], Mapping[Assignment, list[Candidate]]]
"""Called with assignments; returns the candidates of each (:func:`estimate_candidates`)."""
Trainer = Callable[[list[Assignment]], Mapping[Assignment, dict]]
"""Called with assignments; returns the accuracies of each trained one
(``{"quantized": ..., "reference": ..., "float": ...}``)."""


def _key(design: Evaluation) -> tuple[float, int]:
    """Order designs: more accurate first, then fewer estimated LUTs at the chosen folding."""
    return design.score, -design.chosen.lut


def _better(design: Evaluation, incumbent: Evaluation | None) -> bool:
    """Whether ``design`` is more accurate than ``incumbent``, or as accurate and cheaper."""
    return incumbent is None or _key(design) > _key(incumbent)


def coordinate_search(layers: int, precisions: Sequence[str], budget: Budget,
                      estimate: Estimator, train: Trainer, beam: int = 1) -> SearchTrace:
    """Search assignments of ``precisions`` to ``layers`` layers under ``budget``.

    Round 0 trains the uniform assignments within budget; round ``i + 1`` tries every other
    precision in layer ``i`` of each of the ``beam`` best designs so far (the incumbent alone
    by default; see the module's description). Each round asks ``estimate`` for the candidates
    of its new assignments at once, then ``train`` for the accuracies of those within budget at
    once, so a job engine can run each round's jobs side by side.

    Raises
    ------
    SearchError
        If ``beam`` is not a positive integer, or no uniform assignment has a candidate within
        the budget.
    """
    precisions = check_precisions(precisions)
    _positive("beam", beam)
    trace = SearchTrace(budget)
    parents: list[Evaluation] = []
    for round_index in range(layers + 1):
        if round_index == 0:
            proposals = [a for a in uniform_assignments(layers, precisions) if _valid(a)]
        else:
            proposals = list(dict.fromkeys(
                move for parent in parents
                for move in moves(parent.precisions, round_index - 1, precisions)))
        new = [a for a in proposals if a not in trace.evaluations]
        for assignment, candidates in (estimate(new) if new else {}).items():
            trace.evaluations[assignment] = Evaluation(
                assignment, candidates, choose_candidate(candidates, budget), round=round_index)
        fitting = [a for a in new if trace.evaluations[a].chosen is not None]
        for assignment, accuracy in (train(fitting) if fitting else {}).items():
            trace.evaluations[assignment].accuracy = accuracy
        trace.trainings += len(fitting)
        pool = parents + [trace.evaluations[a] for a in proposals
                          if trace.evaluations[a].accuracy is not None]
        # a stable sort: of equals, a parent (then the earlier proposal) stays ahead
        ranked = sorted({d.precisions: d for d in pool}.values(), key=_key, reverse=True)
        parents = ranked[:beam]
        if not parents:
            cheapest = min((c for d in trace.evaluations.values() for c in d.candidates),
                           key=lambda c: c.lut)
            raise SearchError(
                f"no single-precision design fits {budget.lut} LUTs"
                f"{'' if budget.cycles is None else f' and {budget.cycles} cycles'}: the "
                f"cheapest is {'/'.join(cheapest.precisions)} at {cheapest.lut} estimated "
                f"LUTs and {cheapest.cycles} cycles")
    trace.incumbent = parents[0].precisions
    return trace


def rank_designs(trace: SearchTrace) -> list[Candidate]:
    """Return every trained design's candidates within budget, best first.

    Most accurate first; then the assignment's chosen candidate before its other fitting ones
    (faster first), then fewer LUTs. A caller builds the first and falls back to the next when
    the real synthesis exceeds the budget.
    """
    ranked = []
    for design in trace.evaluations.values():
        if design.accuracy is None:
            continue
        for candidate in design.candidates:
            if trace.budget.admits(candidate):
                ranked.append((-design.score, candidate.cycles, candidate.lut, candidate))
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked]


def best_uniform(trace: SearchTrace) -> Evaluation | None:
    """Return the most accurate trained single-precision design (ties: fewer LUTs), or None."""
    best = None
    for design in trace.evaluations.values():
        if design.uniform and design.accuracy is not None and _better(design, best):
            best = design
    return best


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Return the indices of the points ``(cost, accuracy)`` no other point dominates.

    A point dominates another when it costs no more and is at least as accurate, and is better
    in one of the two. The front is returned cheapest first; of equal points the first is kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    front, best = [], float("-inf")
    for index in order:
        if points[index][1] > best:
            front.append(index)
            best = points[index][1]
    return front


def trained_points(trace: SearchTrace) -> list[tuple[Candidate, Evaluation]]:
    """Return every candidate of a trained assignment within the cycles budget (if any), with
    its assignment's evaluation: the points of the accuracy-against-LUTs front."""
    cycles = trace.budget.cycles
    return [(candidate, design) for design in trace.evaluations.values()
            if design.accuracy is not None for candidate in design.candidates
            if cycles is None or candidate.cycles <= cycles]


def write_pareto_plot(path: str | os.PathLike, trace: SearchTrace, winner: Candidate | None,
                      real_lut: int | None, fabric: str, title: str | None = None) -> None:
    """Plot accuracy against estimated LUTs of every trained candidate, with the front.

    Candidates slower than the cycles budget are hollow and left out of the front. The LUT
    budget is a vertical line; the winner is marked at its estimated LUTs and, if given,
    joined to a mark at its real (synthesized) LUTs.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    trained = trained_points(trace)
    points = [(candidate.lut, 100 * design.score) for candidate, design in trained]
    front = pareto_front(points)
    figure, axes = pyplot.subplots(figsize=(7.5, 4.8), dpi=120)
    slower = [(candidate.lut, 100 * design.score) for design in trace.evaluations.values()
              if design.accuracy is not None for candidate in design.candidates
              if trace.budget.cycles is not None and candidate.cycles > trace.budget.cycles]
    if slower:
        axes.scatter([p[0] for p in slower], [p[1] for p in slower], s=18, facecolors="none",
                     edgecolors="grey", label=f"slower than {trace.budget.cycles} cycles")
    for uniform, colour, label in ((True, "tab:blue", "single precision"),
                                   (False, "tab:orange", "mixed precision")):
        mine = [p for p, (_, design) in zip(points, trained) if design.uniform == uniform]
        axes.scatter([p[0] for p in mine], [p[1] for p in mine], s=18, alpha=0.6,
                     color=colour, label=label)
    axes.step([points[i][0] for i in front], [points[i][1] for i in front], where="post",
              color="black", linewidth=1, label="Pareto front")
    axes.axvline(trace.budget.lut, color="tab:red", linestyle="--",
                 label=f"budget {trace.budget.lut} LUT")
    if winner is not None:
        accuracy = 100 * trace.evaluations[winner.precisions].score
        axes.scatter([winner.lut], [accuracy], marker="*", s=160, color="tab:green",
                     zorder=3, label=f"winner, estimated ({winner.lut})")
        if real_lut is not None:
            axes.scatter([real_lut], [accuracy], marker="D", s=50, color="tab:green",
                         zorder=3, label=f"winner, synthesized ({real_lut})")
            axes.plot([winner.lut, real_lut], [accuracy, accuracy], color="tab:green",
                      linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel(f"estimated {fabric} LUTs")
    axes.set_ylabel("held-out accuracy (%)")
    axes.set_title(title or f"accuracy against LUTs, {fabric}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    save_figure_atomic(path, figure)
