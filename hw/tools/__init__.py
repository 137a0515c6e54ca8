"""External tools (Yosys, nextpnr, IceStorm) and atomic file writing, shared by hw/, sim/, boards/."""
