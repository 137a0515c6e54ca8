"""The boards qnnforge builds for, over amaranth-boards platforms.

Each :class:`Board` names its amaranth-boards platform, its FPGA fabric (for Yosys resource
counts and the PLL solver), the flow that turns it into a bitstream, the LEDs that show activity
and faults, its capacity, and the default folding that fits it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth_boards.arty_a7 import ArtyA7_35Platform
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

__all__ = ["Board", "BOARDS", "get_board"]


@dataclass(frozen=True)
class Board:
    """One supported board.

    Attributes
    ----------
    name : str
        The name ``qnnforge build --board`` takes.
    platform : callable
        Returns a fresh amaranth-boards platform.
    fabric : str
        ``"ice40"``, ``"ecp5"`` or ``"xc7"``.
    flow : str
        ``"icestorm"`` (run here to a bitstream), ``"trellis"`` or ``"vivado"`` (files and a
        build script).
    constraints : str
        Extension of the pin constraint file the flow writes.
    activity_led, fault_led : (str, int)
        amaranth-boards resources of the two status LEDs.
    target_cycles : int
        Cycles per inference of the default folding of a network with a flat input (an MLP),
        chosen so the demo network fits.
    image_target_cycles : int
        The same for a network with an image input (a CNN).
    capacity : dict
        Logic cells, block RAMs and DSPs of the device.
    mlp_clock_mhz : float or None
        Clock a network with a flat input runs at by default, made by the board's PLL (None:
        the oscillator); a network with an image input runs at the oscillator by default.
    """

    name: str
    platform: Callable
    fabric: str
    flow: str
    constraints: str
    activity_led: tuple[str, int]
    fault_led: tuple[str, int]
    target_cycles: int
    image_target_cycles: int
    capacity: dict
    mlp_clock_mhz: float | None = None

    def target_for(self, layers) -> int:
        """Return the default cycles per inference for a network of ``layers``."""
        return self.image_target_cycles if len(layers[0].in_shape) == 3 else self.target_cycles

    def clock_for(self, layers) -> float | None:
        """Return the default clock in Hz for a network of ``layers`` (None: the oscillator)."""
        if len(layers[0].in_shape) == 3 or self.mlp_clock_mhz is None:
            return None
        return self.mlp_clock_mhz * 1e6

    @property
    def clock_hz(self) -> float:
        """Frequency of the board's oscillator."""
        return self.platform().default_clk_frequency


BOARDS = {
    "icebreaker": Board(
        name="icebreaker", platform=ICEBreakerPlatform, fabric="ice40", flow="icestorm",
        constraints="pcf", activity_led=("led_g", 0), fault_led=("led_r", 0),
        target_cycles=128, image_target_cycles=8192, capacity={"lc": 5280, "bram": 30, "dsp": 8},
        mlp_clock_mhz=50.25),
    "ulx3s-85f": Board(
        name="ulx3s-85f", platform=ULX3S_85F_Platform, fabric="ecp5", flow="trellis",
        constraints="lpf", activity_led=("led", 0), fault_led=("led", 1),
        target_cycles=128, image_target_cycles=1024,
        capacity={"lut": 83640, "bram": 208, "dsp": 156}),
    "arty-a7-35": Board(
        name="arty-a7-35", platform=ArtyA7_35Platform, fabric="xc7", flow="vivado",
        constraints="xdc", activity_led=("led", 0), fault_led=("led", 1),
        target_cycles=128, image_target_cycles=1024,
        capacity={"lut": 20800, "bram": 50, "dsp": 90}),
}
"""Board name -> :class:`Board`."""


def get_board(name: str) -> Board:
    """Return the board called ``name``.

    Raises
    ------
    ValueError
        If no board has that name.
    """
    if name not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {name!r}")
    return BOARDS[name]
