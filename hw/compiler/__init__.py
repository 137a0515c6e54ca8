"""Compiler steps from an artifact to hardware: lowering, folding, network assembly, Verilog."""
