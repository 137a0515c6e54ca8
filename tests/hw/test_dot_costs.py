"""The dot units' measured costs: cost records read back, a line through their lane counts,
the cost explorer before a demo's part, and the nearest measured pair."""

import pytest

from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.explore.dot_costs import (DotCostError, PerLane, lane_costs, nearest_lane,
                                           operand_name)
from qnnforge.sw.encoding import BIPOLAR, TERNARY, codebook, sint, ttq, uint


@pytest.mark.parametrize("encoding", [BIPOLAR, TERNARY, uint(4), sint(8), ttq(3, 5),
                                      codebook(2, (-127, -60, 85, 127))])
def test_records_name_their_operands_so_they_read_back(encoding):
    record = {"kind": "dot", "fabric": "ice40", "dsp_inference": True, "lanes": 16,
              "activations": str(uint(4) if encoding != BIPOLAR else BIPOLAR),
              "weights": str(encoding), "architecture": "adder_tree", "lut": 32, "ff": 0,
              "dsp": 0}
    entry, = lane_costs([record], [], "ice40", HardwareOptions())
    assert (entry.weight_bits, entry.lut, entry.sources) == (encoding.bits, 2.0, ("cost",))
    assert operand_name(encoding) == {"bipolar": "bipolar", "ternary": "ternary",
                                      "ttq": "ttq"}.get(encoding.kind,
                                                        f"{encoding.kind}{encoding.bits}")


def test_an_unknown_record_encoding_is_an_error():
    record = {"kind": "dot", "fabric": "ice40", "dsp_inference": True, "lanes": 16,
              "activations": "float32", "weights": "int4", "architecture": "adder_tree",
              "lut": 1, "ff": 0, "dsp": 0}
    with pytest.raises(DotCostError, match=r"^cost record encoding 'float32' is not one the "
                                           r"estimator reads$"):
        lane_costs([record], [], "ice40", HardwareOptions())


def test_lane_costs_prefer_the_cost_explorer():
    records = [{"kind": "dot", "fabric": "ice40", "dsp_inference": True, "lanes": 16,
                "activations": "uint4", "weights": "int4", "architecture": "adder_tree",
                "lut": 800, "ff": 0, "dsp": 0},
               {"kind": "dot", "fabric": "xc7", "dsp_inference": True, "lanes": 16,
                "activations": "uint4", "weights": "int4", "architecture": "adder_tree",
                "lut": 1, "ff": 0, "dsp": 0}]
    demo = {"dot": "fixed", "inputs": "uint4", "input_bits": 4, "weight_bits": 4, "lanes": 10,
            "lut": 400, "ff": 0, "dsp": 0}
    ternary = {**demo, "dot": "ternary", "weight_bits": 2, "lut": 90}
    more = {**records[0], "lanes": 64, "lut": 3200 - 16}
    table = lane_costs([*records, more], [("int4", demo), ("ternary", ternary)], "ice40",
                       HardwareOptions())
    assert [(e.dot, e.inputs, e.sources) for e in table] == [
        ("fixed", "uint4", ("cost",)), ("ternary", "uint4", ("demo:ternary",))]
    fixed, ternary = table
    # through (16, 800) and (64, 3184): 49.67 a lane and 5.33 fixed
    assert fixed.lut == pytest.approx(2384 / 48)
    assert fixed.lut_fixed == pytest.approx(800 - 16 * 2384 / 48)
    assert (ternary.lut, ternary.lut_fixed, ternary.cost(10)[0]) == (9.0, 0.0, 90.0)


def test_nearest_lane_stays_within_the_kind():
    table = (PerLane("fixed", "int4", 4, 4, 50, 0, 0, 0, 0),
             PerLane("fixed", "uint4", 4, 4, 45, 0, 0, 0, 0),
             PerLane("fixed", "int8", 8, 8, 30, 0, 0, 0, 1),
             PerLane("ternary", "uint2", 2, 2, 9, 0, 0, 0, 0))
    assert nearest_lane(table, "fixed", "uint4", 4, 4).lut == 45
    assert nearest_lane(table, "fixed", "int4", 4, 4).lut == 50
    assert nearest_lane(table, "fixed", "uint4", 4, 8).lut == 30      # between: the wider one
    assert nearest_lane(table, "fixed", "uint2", 2, 8).lut == 50      # 16 product bits
    assert nearest_lane(table, "ternary", "uint8", 8, 2).lut == 9
    assert nearest_lane(table, "xnor", "bipolar", 1, 1).lut == 9      # no xnor: the nearest
    with pytest.raises(DotCostError, match=r"^no dot unit costs are known$"):
        nearest_lane((), "xnor", "bipolar", 1, 1)
