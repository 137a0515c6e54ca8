"""The search under a budget: assignments, candidates, pruning, the coordinate search, the front."""

import numpy as np
import pytest

from qnnforge.hw.compiler.folding import Folding, LayerFolding
from qnnforge.hw.explore.search import (DEFAULT_PRECISIONS, Budget, Candidate, SearchError,
                                        best_uniform, check_precisions, choose_candidate,
                                        coordinate_search, estimate_candidates, fold_targets,
                                        moves, pareto_front, rank_designs, trained_points,
                                        valid_assignments, write_pareto_plot)
from tests.hw.layers import random_network


def _candidate(precisions, cycles, lut):
    folding = Folding(layers=tuple(LayerFolding(1, 1) for _ in precisions), input_lanes=1)
    return Candidate(tuple(precisions), cycles, folding, cycles,
                     {"lut": lut, "ff": 0, "bram": 0, "dsp": 0})


def test_valid_assignments_follow_the_bipolar_rule():
    assignments = valid_assignments(3, DEFAULT_PRECISIONS)
    # all binary; a non-binary first layer then binary; two non-binary layers then anything
    assert len(assignments) == 1 + 4 + 4 * 4 * 5 == 85
    assert ("binary", "binary", "binary") in assignments
    assert ("int4", "binary", "binary") in assignments
    assert ("binary", "int4", "int4") not in assignments
    assert ("int4", "binary", "int8") not in assignments


def test_moves_change_one_layer_and_stay_valid():
    assert moves(("binary", "binary", "binary"), 1, ("binary", "int4")) == []
    assert moves(("int4", "binary", "binary"), 1, ("binary", "int4", "int8")) == [
        ("int4", "int4", "binary"), ("int4", "int8", "binary")]
    # binary activations cannot feed int4 weights
    assert moves(("int4", "int4", "int4"), 0, ("binary", "int2", "int4")) == [
        ("int2", "int4", "int4")]


@pytest.mark.parametrize("kwargs, message", [
    ({"lut": 0}, "LUT budget must be a positive integer, not 0"),
    ({"lut": -3}, "LUT budget must be a positive integer, not -3"),
    ({"lut": 2.5}, "LUT budget must be a positive integer, not 2.5"),
    ({"lut": 100, "cycles": 0}, "cycles budget must be a positive integer, not 0"),
])
def test_budget_rejects_what_is_not_a_positive_integer(kwargs, message):
    with pytest.raises(SearchError, match=rf"^{message}$"):
        Budget(**kwargs)


def test_precisions_are_checked():
    assert check_precisions(["int4", "binary"]) == ("int4", "binary")
    with pytest.raises(SearchError, match=r"^precisions must be among binary, .*, not 'int3'$"):
        check_precisions(["int4", "int3"])
    with pytest.raises(SearchError, match=r"^precisions must not repeat a name, not int4,int4$"):
        check_precisions(["int4", "int4"])
    with pytest.raises(SearchError, match=r"^precisions must name at least one precision, "
                                          r"not none$"):
        check_precisions([])


def test_budget_admits_by_luts_and_cycles():
    fast, slow = _candidate(("int4",), 64, 900), _candidate(("int4",), 512, 300)
    assert Budget(1000).admits(fast) and Budget(1000).admits(slow)
    assert not Budget(800).admits(fast)
    assert not Budget(1000, cycles=256).admits(slow)
    # the fastest within budget, then the fewest LUTs
    assert choose_candidate([slow, fast], Budget(1000)) is fast
    assert choose_candidate([slow, fast], Budget(800)) is slow
    assert choose_candidate([slow, fast], Budget(200)) is None


def test_candidates_are_distinct_foldings_fastest_first_with_real_estimates():
    artifact = random_network(np.random.default_rng(0), [16, 8, 4])
    assert fold_targets(artifact.layers) == (64, 128, 256, 512, 1024)
    candidates = estimate_candidates(artifact, ("binary", "binary"), "ice40",
                                     targets=(1, 2, 8, 10_000))
    cycles = [candidate.cycles for candidate in candidates]
    assert cycles == sorted(cycles) and len(set(cycles)) == len(cycles)
    assert len({candidate.folding for candidate in candidates}) == len(candidates)
    # more lanes cost more LUTs
    assert candidates[0].lut > candidates[-1].lut > 0
    round_trip = Candidate.from_json(("binary", "binary"), candidates[0].to_json())
    assert round_trip == candidates[0]


ACCURACY = {"binary": 0.90, "int2": 0.93, "int4": 0.95}
LUTS = {"binary": 100, "int2": 200, "int4": 400}


def _estimate(assignments):
    """Two foldings per assignment: the fast one costs twice the slow one."""
    return {a: [_candidate(a, 64, 2 * sum(LUTS[p] for p in a)),
                _candidate(a, 256, sum(LUTS[p] for p in a))] for a in assignments}


trained = []


def _train(assignments):
    trained.extend(assignments)
    return {a: {"reference": round(sum(ACCURACY[p] for p in a) / len(a), 6)}
            for a in assignments}


def test_coordinate_search_trains_uniform_designs_then_one_layer_at_a_time():
    trained.clear()
    precisions = ("binary", "int2", "int4")
    trace = coordinate_search(2, precisions, Budget(650), _estimate, _train)
    # int4/int4 (800 LUTs at best) is over budget and never trained
    assert trace.evaluations[("int4", "int4")].chosen is None
    assert trained[:2] == [("binary", "binary"), ("int2", "int2")]
    # layer 0 of the incumbent int2/int2, then layer 1 of int4/int2
    assert trained[2:] == [("int4", "int2"), ("int4", "binary")]
    assert trace.incumbent == ("int4", "int2") and trace.trainings == 4
    ranked = rank_designs(trace)
    assert ranked[0].precisions == ("int4", "int2") and ranked[0].cycles == 256
    assert [(c.precisions, c.cycles) for c in ranked[1:]] == [
        (("int2", "int2"), 256), (("int4", "binary"), 256), (("binary", "binary"), 64),
        (("binary", "binary"), 256)]
    assert best_uniform(trace).precisions == ("int2", "int2")


def test_coordinate_search_fails_clearly_when_nothing_fits():
    with pytest.raises(SearchError, match=r"^no single-precision design fits 150 LUTs: the "
                                          r"cheapest is binary/binary at 200 estimated LUTs "
                                          r"and 256 cycles$"):
        coordinate_search(2, ("binary", "int2"), Budget(150), _estimate, _train)


@pytest.mark.parametrize("points, front", [
    ([], []),
    ([(100, 0.9)], [0]),
    ([(100, 0.9), (200, 0.95), (150, 0.85), (300, 0.95), (50, 0.8)], [4, 0, 1]),
    ([(100, 0.9), (100, 0.9), (100, 0.92)], [2]),
    ([(100, 0.9), (100, 0.9)], [0]),
])
def test_pareto_front_keeps_the_undominated_points_cheapest_first(points, front):
    assert pareto_front(points) == front


def test_a_wider_beam_reaches_designs_two_moves_from_the_best():
    # binary/binary is the only uniform design within budget; int2/binary is worse, but
    # int2/int2... is over budget, and from int2/binary layer 1 can only move when the beam
    # keeps int2/binary beside the incumbent
    accuracy = {("binary", "binary", "binary"): 0.95, ("int2", "binary", "binary"): 0.94,
                ("int2", "int2", "binary"): 0.97}
    luts = {"binary": 100, "int2": 150}

    def estimate(assignments):
        return {a: [_candidate(a, 64, sum(luts[p] for p in a))] for a in assignments}

    def train(assignments):
        return {a: {"reference": accuracy.get(a, 0.5)} for a in assignments}

    budget = Budget(400)
    narrow = coordinate_search(3, ("binary", "int2"), budget, estimate, train)
    assert narrow.incumbent == ("binary", "binary", "binary") and narrow.trainings == 2
    wide = coordinate_search(3, ("binary", "int2"), budget, estimate, train, beam=2)
    assert wide.incumbent == ("int2", "int2", "binary")
    assert ("int2", "int2", "binary") in wide.evaluations
    with pytest.raises(SearchError, match=r"^beam must be a positive integer, not 0$"):
        coordinate_search(3, ("binary", "int2"), budget, estimate, train, beam=0)


def test_the_front_leaves_out_candidates_slower_than_the_cycles_budget(tmp_path):
    trace = coordinate_search(2, ("binary", "int2"), Budget(1000, cycles=100), _estimate,
                              _train)
    points = trained_points(trace)
    assert points and all(candidate.cycles == 64 for candidate, _ in points)
    assert {design.precisions for _, design in points} == {("binary", "binary"),
                                                           ("int2", "int2"),
                                                           ("int2", "binary")}
    write_pareto_plot(tmp_path / "front.png", trace, points[0][0], 150, "ice40")
    assert (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"
