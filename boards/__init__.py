"""qnnforge.boards: board top-levels, constraints and bitstream builds."""
