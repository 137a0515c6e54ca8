"""qnnforge.hw: Amaranth HDL generators for quantized layers (never imports torch)."""
