"""PLLs that raise a board's oscillator to the clock a design asks for.

Each family has a solver that searches the PLL's integer dividers for the output frequency
closest to the request within the datasheet ranges, and an ``elaborate_clock(m, platform)`` that
instantiates the primitive and returns ``(clk, locked)``:

* iCE40: ``SB_PLL40_PAD`` in simple feedback mode (``f = fin * (DIVF+1) / ((DIVR+1) * 2**DIVQ)``,
  reference 10..133 MHz, VCO 533..1066 MHz), as Lattice's ``icepll`` computes it;
* ECP5: ``EHXPLLL`` fed back from ``CLKOP`` (``f = fin * CLKFB_DIV / CLKI_DIV``, phase detector
  3.125..400 MHz, VCO 400..800 MHz), as ``ecppll`` computes it;
* Xilinx 7-series: ``PLLE2_BASE`` (``f = fin * MULT / (DIVCLK * CLKOUT0)``, phase detector
  19..450 MHz, VCO 800..1600 MHz for speed grade -1), driving a ``BUFG``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.hdl import Instance, Module, Signal

__all__ = ["Pll", "ice40_pll", "ecp5_pll", "xc7_pll", "PLL_SOLVERS"]


@dataclass(frozen=True)
class Pll:
    """A solved PLL: its family, input and output frequencies and divider settings."""

    family: str
    input_hz: float
    output_hz: float
    params: dict = field(default_factory=dict)

    def elaborate_clock(self, m: Module, platform) -> tuple[Signal, Signal]:
        """Instantiate the PLL on ``platform``'s default clock pin; return ``(clk, locked)``."""
        clk, locked = Signal(), Signal()
        pin = platform.request(platform.default_clk, dir="-")
        if self.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE",
                **{f"p_{key}": value for key, value in self.params.items()},
                i_PACKAGEPIN=pin.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        elif self.family == "ecp5":
            clkin, clkop = Signal(), Signal()
            m.submodules.pll_in = Instance("IB", i_I=pin.io, o_O=clkin)
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{self.input_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.output_hz / 1e6:g}",
                p_FEEDBK_PATH="CLKOP", p_CLKOP_ENABLE="ENABLED", p_CLKOP_FPHASE=0,
                p_CLKOP_CPHASE=self.params["CLKOP_DIV"] - 1, p_OUTDIVIDER_MUXA="DIVA",
                **{f"p_{key}": value for key, value in self.params.items()},
                i_CLKI=clkin, i_CLKFB=clkop, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=clkop, o_LOCK=locked)
            m.d.comb += clk.eq(clkop)
        else:
            clkin, feedback, output = Signal(), Signal(), Signal()
            m.submodules.pll_in = Instance("IBUF", i_I=pin.io, o_O=clkin)
            m.submodules.pll = Instance(
                "PLLE2_BASE", p_CLKIN1_PERIOD=round(1e9 / self.input_hz, 3),
                **{f"p_{key}": value for key, value in self.params.items()},
                i_CLKIN1=clkin, i_CLKFBIN=feedback, i_RST=0, i_PWRDWN=0,
                o_CLKFBOUT=feedback, o_CLKOUT0=output, o_LOCKED=locked)
            m.submodules.pll_buf = Instance("BUFG", i_I=output, o_O=clk)
        platform.add_clock_constraint(clk, self.output_hz)
        return clk, locked


def _best(candidates, request_hz: float, family: str, input_hz: float) -> Pll:
    candidates = list(candidates)
    if not candidates:
        raise ValueError(f"no {family} PLL setting reaches {request_hz / 1e6:g} MHz "
                         f"from {input_hz / 1e6:g} MHz")
    output, params = min(candidates, key=lambda c: abs(c[0] - request_hz))
    if abs(output - request_hz) > 0.01 * request_hz:
        raise ValueError(f"the closest {family} PLL output to {request_hz / 1e6:g} MHz from "
                         f"{input_hz / 1e6:g} MHz is {output / 1e6:.3f} MHz (more than 1% off)")
    return Pll(family, input_hz, output, params)


def ice40_pll(input_hz: float, request_hz: float) -> Pll:
    """Return the iCE40 ``SB_PLL40_PAD`` setting closest to ``request_hz``.

    Raises
    ------
    ValueError
        If no setting lies within 1 % of the request.
    """
    def candidates():
        for divr in range(16):
            reference = input_hz / (divr + 1)
            if not 10e6 <= reference <= 133e6:
                continue
            for divf in range(128):
                vco = reference * (divf + 1)
                if not 533e6 <= vco <= 1066e6:
                    continue
                for divq in range(1, 7):
                    output = vco / 2 ** divq
                    if 16e6 <= output <= 275e6:
                        filter_range = next(index + 1 for index, limit in
                                            enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12))
                                            if reference < limit)
                        yield output, {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                       "FILTER_RANGE": filter_range}
    return _best(candidates(), request_hz, "ice40", input_hz)


def ecp5_pll(input_hz: float, request_hz: float) -> Pll:
    """Return the ECP5 ``EHXPLLL`` setting closest to ``request_hz``.

    Raises
    ------
    ValueError
        If no setting lies within 1 % of the request.
    """
    def candidates():
        for clki_div in range(1, 129):
            pfd = input_hz / clki_div
            if not 3.125e6 <= pfd <= 400e6:
                continue
            for clkfb_div in range(1, 81):
                output = pfd * clkfb_div
                for clkop_div in range(1, 129):
                    if 400e6 <= output * clkop_div <= 800e6:
                        yield output, {"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div,
                                       "CLKOP_DIV": clkop_div}
                        break
    return _best(candidates(), request_hz, "ecp5", input_hz)


def xc7_pll(input_hz: float, request_hz: float) -> Pll:
    """Return the Xilinx 7-series ``PLLE2_BASE`` setting closest to ``request_hz``.

    Raises
    ------
    ValueError
        If no setting lies within 1 % of the request.
    """
    def candidates():
        for divclk in range(1, 57):
            pfd = input_hz / divclk
            if not 19e6 <= pfd <= 450e6:
                continue
            for mult in range(2, 65):
                vco = pfd * mult
                if not 800e6 <= vco <= 1600e6:
                    continue
                for out_div in range(1, 129):
                    yield vco / out_div, {"DIVCLK_DIVIDE": divclk, "CLKFBOUT_MULT": mult,
                                          "CLKOUT0_DIVIDE": out_div}
    return _best(candidates(), request_hz, "xc7", input_hz)


PLL_SOLVERS = {"ice40": ice40_pll, "ecp5": ecp5_pll, "xc7": xc7_pll}
"""Fabric name -> solver ``(input_hz, request_hz) -> Pll``."""
