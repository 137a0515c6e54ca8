"""Identical leaf modules merged for a synthesis per distinct module, and the merge exact."""

import shutil
import subprocess

import numpy as np
import pytest

from qnnforge.hw.compiler.generate import generate
from qnnforge.hw.compiler.options import HardwareOptions
from qnnforge.hw.tools.modules import merge_identical_modules

from .layers import random_network

VERILOG = """\
(* generator = "Amaranth" *)
module top(a, b, y, z);
  input [1:0] a;
  wire [1:0] a;
  input [1:0] b;
  wire [1:0] b;
  output y;
  wire y;
  output z;
  wire z;
  \\top.u0  u0 (
    .\\p$1 (a),
    .q(y)
  );
  \\top.u1  u1 (
    .\\p$7 (b),
    .q(z)
  );
  \\top.u2  u2 (
    .\\p$9 (b),
    .q(z)
  );
endmodule

(* generator = "Amaranth" *)
module \\top.u0 (\\p$1 , q);
  input [1:0] \\p$1 ;
  wire [1:0] \\p$1 ;
  output q;
  wire q;
  assign q = \\p$1 [0] & \\p$1 [1];
endmodule

(* generator = "Amaranth" *)
module \\top.u1 (\\p$7 , q);
  input [1:0] \\p$7 ;
  wire [1:0] \\p$7 ;
  output q;
  wire q;
  assign q = \\p$7 [0] & \\p$7 [1];
endmodule

(* generator = "Amaranth" *)
module \\top.u2 (\\p$9 , q);
  input [1:0] \\p$9 ;
  wire [1:0] \\p$9 ;
  output q;
  wire q;
  assign q = \\p$9 [0] | \\p$9 [1];
endmodule
"""


def test_identical_leaves_up_to_their_names_are_merged():
    merged = merge_identical_modules(VERILOG)
    assert (merged.modules, merged.distinct) == (4, 3)
    assert "module \\top.u1 " not in merged.text
    # its attribute line went with it: none is left dangling before the end of the file
    assert merged.text.count('(* generator = "Amaranth" *)\nmodule ') == 3
    assert merged.text.count("(* generator") == 3
    # u1's instance names u0's module and u0's port; u2 (an OR) and the top stay as they were
    assert "  \\top.u0  u1 (\n    .\\p$1 (b),\n    .q(z)\n  );" in merged.text
    assert "  \\top.u2  u2 (\n    .\\p$9 (b)," in merged.text
    assert "module \\top.u2 (" in merged.text and "module top(" in merged.text
    assert merge_identical_modules(merged.text).distinct == 3


def test_a_design_without_repeats_is_unchanged():
    text = VERILOG.replace("\\p$7 [0] & \\p$7 [1]", "\\p$7 [0] ^ \\p$7 [1]")
    merged = merge_identical_modules(text)
    assert merged.text == text and merged.modules == merged.distinct == 4


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_merged_design_is_equivalent_to_the_generated_one(tmp_path):
    # PE 3 of identical dot units and thresholds: Yosys proves the merge changes nothing
    artifact = random_network(np.random.default_rng(1), [20, 12, 8, 4], input_bits=1)
    design = generate(artifact, tmp_path / "hw", target_cycles=8,
                      options=HardwareOptions(popcount="compressor"))
    merged = merge_identical_modules(design.verilog.read_text())
    assert merged.distinct < merged.modules
    (tmp_path / "merged.v").write_text(merged.text)
    prepare = "proc; flatten; opt_clean; memory -nomap; opt_clean"
    script = "; ".join([
        f"read_verilog -sv {design.verilog}", f"hierarchy -top {design.top}", prepare,
        f"rename {design.top} gold", "design -stash gold",
        f"read_verilog -sv {tmp_path / 'merged.v'}", f"hierarchy -top {design.top}", prepare,
        f"rename {design.top} gate", "design -stash gate",
        "design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate",
        "memory_map", "equiv_make gold gate equiv", "hierarchy -top equiv",
        "equiv_simple -seq 2", "equiv_induct", "equiv_status -assert"])
    result = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
