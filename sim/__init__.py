"""qnnforge.sim: bit-exact verification of generated hardware with cocotb and Verilator."""
