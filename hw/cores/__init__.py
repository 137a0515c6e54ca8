"""Accelerator cores: Amaranth components (dot units, popcounts, output stages, MVU, argmax)."""
