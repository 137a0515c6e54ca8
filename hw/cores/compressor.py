"""Compressor-tree popcount built from LUT-sized counters and carry chains that absorb them.

A ``n:m`` counter takes ``n`` bits of one weight and returns their count in ``m = bits_for(n)``
bits of rising weights; each output bit depends on the ``n`` inputs only, so on a ``k``-input
LUT fabric an ``n <= k`` counter costs ``m`` LUTs.

Carry chains do better. In a chain adding two rows ``X + Y`` (plus a carry-in bit), position
``i`` costs one LUT computing ``X[i] ^ Y[i]``, and ``X[i]`` also drives the position's
carry-select input, so it must be a signal of its own. ``Y[i]`` is free to be any function of
``k - 1`` wires: it is absorbed into the same LUT. The tree therefore fills ``Y`` with the
outputs of small counters (5:3 on LUT6, 3:2 on LUT4) and ``X`` with bits already computed, so a
chain of ``w`` positions consumes about ``w + 5w/3 + 1`` bits for ``w`` LUTs.

A tree is built level by level: each level starts an addition at every column that has bits to
remove and hands the sums to the next, until at most two bits are left per column (three in the
lowest, the last one entering as a carry-in); one last chain adds them. On LUT6 the additions
of a level share carry chains, one after another, so that short ones do not each take a carry
block of four.

Written for Yosys: the counters are Boolean logic (XOR, AND, OR), not ``+``, since Yosys maps
every ``+`` to a carry chain of its own; every counter output is a signal, since an Amaranth
expression used twice is emitted twice. Each chain is written as a subtraction (see
:func:`carry_chain_add`) so that the row meant for the carry-select inputs gets there.

For the XNOR dot product a lane is a pair of wires ``(x, w)``: most lanes go through a first
level of counters over ``lut_inputs // 2`` lanes (the XNOR folded into their LUTs), and the
rest enter the chains' counters directly, two lanes to a 3:2 counter on LUT6. With constant
weights a lane is one wire, ``x`` or ``~x``, and the inverter disappears into a LUT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.utils import bits_for

__all__ = ["carry_chain_add", "check_lut_inputs", "counter", "compress",
           "compressor_popcount", "compressor_xnor_popcount", "constant_xnor_popcount"]

_CONSTANT_CHAIN_SHARE = {6: 0.5, 4: 0.3}
# Share of the constant-weight lanes, by LUT size, that skips the first counter level and is
# counted by the chains' counters instead. Of 0 to 0.8 in steps of 0.1, with Yosys 0.23, 0.5
# gave the fewest LUTs on xc7 summed over 16, 64 and 256 lanes (each size relative to its best).
# On LUT4 the fabrics disagree (ice40 best at 0.7, ecp5 at 0 to 0.3); 0.3 is within 4 % of
# either's best at 256 lanes.

_CHAIN_POSITIONS = {6: 48}
# By LUT size, the longest carry chain the additions of one level share: on LUT6 (Xilinx),
# 12 CARRY4 blocks of four positions, which short additions would each leave part empty. On LUT4
# fabrics the carry logic comes with every logic cell, so sharing saves nothing there and would
# only lengthen the paths a timing analysis sees (iCE40, 256 lanes: 12.2 against 18.5 MHz).


@dataclass(frozen=True)
class _Bit:
    """One bit to be counted: its value, the LUT inputs it takes, and whether it is a signal
    of its own (only such a bit can drive a carry-select input or a carry-in for free)."""

    value: Value
    wires: int = 1
    driven: bool = True


def _full_adder(a: Value, b: Value, c: Value) -> tuple[Value, Value]:
    half = a ^ b
    return half ^ c, (a & b) | (half & c)


def counter(m: Module, bits: Sequence[Value]) -> list[Signal]:
    """Return the count of ``bits`` as ``bits_for(len(bits))`` single-bit signals, LSB first.

    Built from full and half adders in Boolean logic, so that LUT mapping sees one cone per
    output bit over the ``len(bits)`` inputs; the signals are driven from ``m.d.comb``.
    """
    columns: list[list[Value]] = [list(bits)]
    result: list[Value] = []
    while len(result) < len(columns):
        level = columns[len(result)]
        while len(level) > 1:
            if len(level) >= 3:
                total, carry = _full_adder(level.pop(0), level.pop(0), level.pop(0))
            else:
                a, b = level.pop(0), level.pop(0)
                total, carry = a ^ b, a & b
            if len(columns) == len(result) + 1:
                columns.append([])
            # name the partial sums, or expressions shared by sum and carry are emitted twice
            total_signal, carry_signal = Signal(), Signal()
            m.d.comb += [total_signal.eq(total), carry_signal.eq(carry)]
            level.append(total_signal)
            columns[len(result) + 1].append(carry_signal)
        result.append(level[0] if level else Const(0, 1))
    outputs = []
    for bit in (result + [Const(0, 1)] * len(bits))[:bits_for(len(bits))]:
        output = Signal()
        m.d.comb += output.eq(bit)
        outputs.append(output)
    return outputs


def carry_chain_add(m: Module, x_row: Value, y_row: Value, carry_in: Value) -> Signal:
    """Return ``x_row + y_row + carry_in`` (one bit wider than the rows) from one carry chain.

    ``x_row`` should hold signals: its bits drive the chain's carry-select inputs. Yosys
    (``alumacc``) would reorder the operands of ``+`` by width, then by the number of wire
    slices, then by a hash, and a computed ``y_row`` bit on a carry-select input costs a LUT of
    its own. The operands of ``-`` keep their order, so the sum is written as
    ``(2 * x_row + carry_in) - (~(2 * y_row) & mask) `` shifted right by one: the borrow-in of
    the subtraction becomes the carry-in, and the extra lowest position only passes
    ``carry_in`` to the next.

    Raises
    ------
    ValueError
        If the rows differ in width or ``carry_in`` is not one bit wide.
    """
    x_row, y_row, carry_in = Value.cast(x_row), Value.cast(y_row), Value.cast(carry_in)
    if len(x_row) != len(y_row):
        raise ValueError(f"x_row and y_row must have the same width, not {len(x_row)} and "
                         f"{len(y_row)}")
    if len(carry_in) != 1:
        raise ValueError(f"carry_in must be 1 bit wide, not {len(carry_in)}")
    width = len(x_row)
    wide = Signal(width + 2)
    # (2x + c) - (2^(w+2) - 1 - 2y) = 2x + 2y + c + 1 - 2^(w+2): modulo 2^(w+2), the upper
    # w + 1 bits are x + y + c
    m.d.comb += wide.eq(Cat(carry_in, x_row) - Cat(Const(1, 1), ~Cat(y_row, Const(0, 1))))
    total = Signal(width + 1)
    m.d.comb += total.eq(wide[1:])
    return total


def check_lut_inputs(lut_inputs: int) -> int:
    """Return ``lut_inputs`` if it is a LUT size the compressor can build for.

    Raises
    ------
    ValueError
        If ``lut_inputs`` is not an integer of at least 3.
    """
    if not isinstance(lut_inputs, int) or isinstance(lut_inputs, bool) or lut_inputs < 3:
        raise ValueError(f"lut_inputs must be an integer of at least 3, not {lut_inputs!r}")
    return lut_inputs


def _take_driven(column: list[_Bit]) -> _Bit | None:
    for index in range(len(column) - 1, -1, -1):
        if column[index].driven:
            return column.pop(index)
    return None


def _take_group(column: list[_Bit], budget: int) -> list[_Bit]:
    """Take the bits one chain LUT counts besides its carry-select bit: at most ``budget`` wires.

    Bits that are not signals go first (they cannot feed a carry-select input). A group of
    four is cut to three (both need three outputs), and two signal bits to one (a 2:2 counter
    removes nothing; a single bit needs no counter).
    """
    column.sort(key=lambda bit: bit.driven)
    group, wires, index = [], 0, 0
    while index < len(column):
        if wires + column[index].wires <= budget:
            wires += column[index].wires
            group.append(column.pop(index))
        else:
            index += 1
    if len(group) == 4 or (len(group) == 2 and all(bit.driven for bit in group)):
        column.append(group.pop())
    return group


def _place(columns: list[list[_Bit]], weight: int, bits: Sequence[_Bit]) -> None:
    """Put ``bits[i]`` in column ``weight + i``, adding columns as needed."""
    while len(columns) < weight + max(len(bits), 1):
        columns.append([])
    for offset, bit in enumerate(bits):
        columns[weight + offset].append(bit)


@dataclass(frozen=True)
class _Segment:
    """One planned addition: carry-select bits and counted groups by column, and a carry-in.

    Its sum bits start at column ``low``; ``groups[c]`` is counted by a counter whose outputs
    form the second row from column ``c`` up.
    """

    low: int
    selects: dict[int, _Bit]
    groups: dict[int, list[_Bit]]
    carry_in: _Bit | None

    @property
    def width(self) -> int:
        ends = [*self.selects, *(c + bits_for(len(g)) - 1 for c, g in self.groups.items())]
        return max(ends) + 1 - self.low

    @property
    def removed(self) -> int:
        """Bits taken in minus sum bits given out."""
        taken = (len(self.selects) + sum(len(group) for group in self.groups.values())
                 + (self.carry_in is not None))
        return taken - (self.width + 1)

    def rows(self, m: Module) -> tuple[Value, Value, Value]:
        """Build the counters; return the two rows and the carry-in."""
        second: dict[int, Value] = {}
        for column, group in self.groups.items():
            outputs = ([group[0].value] if len(group) == 1
                       else counter(m, [bit.value for bit in group]))
            for offset, value in enumerate(outputs):
                second[column + offset] = value
        span = range(self.low, self.low + self.width)
        return (Cat(*(self.selects[c].value if c in self.selects else Const(0, 1)
                      for c in span)),
                Cat(*(second.get(c, Const(0, 1)) for c in span)),
                Const(0, 1) if self.carry_in is None else self.carry_in.value)


def _plan_segment(pool: list[list[_Bit]], low: int, budget: int) -> _Segment | None:
    """Take one addition's bits from column ``low`` upwards out of ``pool``.

    The addition grows while each new column gives its LUT something to count; a column with
    a carry-select bit only is left alone, as the addition's carry-out takes its place.
    """
    selects: dict[int, _Bit] = {}
    groups: dict[int, list[_Bit]] = {}
    covered = low  # first column whose second-row bit is still free
    column = low
    while column < len(pool):
        select = _take_driven(pool[column])
        if column >= covered:
            group = _take_group(pool[column], budget)
            if not group:
                if select is not None:
                    pool[column].append(select)
                break
            groups[column] = group
            covered = column + bits_for(len(group))
        if select is not None:
            selects[column] = select
        column += 1
    if not selects and not groups:
        return None
    return _Segment(low, selects, groups, _take_driven(pool[low]))


def _plan_level(columns: list[list[_Bit]], budget: int) -> tuple[list[_Segment],
                                                                  list[list[_Bit]]]:
    """Plan an addition at every column of three or more bits (with a signal among them);
    return the additions and the bits they leave."""
    pool = [list(column) for column in columns]
    segments: list[_Segment] = []
    for low in range(len(pool)):
        while len(pool[low]) >= 3 and any(bit.driven for bit in pool[low]):
            segment = _plan_segment(pool, low, budget)
            if segment is None:
                break
            segments.append(segment)
    return segments, pool


def _add_segments(m: Module, segments: Sequence[_Segment], lut_inputs: int) -> list[Value]:
    """Build the segments; return each one's sum (one bit wider than it), sharing carry chains.

    Segments follow one another in a chain of up to ``_CHAIN_POSITIONS[lut_inputs]`` positions
    (by default each has its own). Between
    two, one position adds the next segment's carry-in to itself: its sum bit is the carry-out
    of the segment below, and the carry it passes on is the carry-in of the one above, so no
    carry crosses and the position needs no LUT.
    """
    built = [segment.rows(m) for segment in segments]
    longest = _CHAIN_POSITIONS.get(lut_inputs, 0)
    sums: list[Value] = []
    start = 0
    while start < len(built):
        stop, positions = start + 1, len(built[start][0])
        while stop < len(built) and positions + 1 + len(built[stop][0]) <= longest:
            positions += 1 + len(built[stop][0])
            stop += 1
        x_parts, y_parts = [built[start][0]], [built[start][1]]
        for x_row, y_row, carry_in in built[start + 1:stop]:
            x_parts += [carry_in, x_row]
            y_parts += [carry_in, y_row]
        total = carry_chain_add(m, Cat(*x_parts), Cat(*y_parts), built[start][2])
        offset = 0
        for x_row, _, _ in built[start:stop]:
            sums.append(total[offset:offset + len(x_row) + 1])
            offset += len(x_row) + 1
        start = stop
    return sums


def _chain_level(m: Module, segments: Sequence[_Segment], rest: list[list[_Bit]],
                 lut_inputs: int) -> list[list[_Bit]]:
    """Build a planned level; return its sums' bits with the bits it left."""
    out: list[list[_Bit]] = []
    for segment, total in zip(segments, _add_segments(m, segments, lut_inputs)):
        _place(out, segment.low, [_Bit(total[i]) for i in range(len(total))])
    for weight, column in enumerate(rest):
        _place(out, weight, [])
        out[weight].extend(column)
    return out


def _counter_size(lut_inputs: int) -> int:
    # the counter removing most bits per LUT: n inputs, bits_for(n) LUTs, n - bits_for(n) removed
    return max(range(3, lut_inputs + 1), key=lambda n: ((n - bits_for(n)) / bits_for(n), -n))


def _counter_level(m: Module, columns: list[list[_Bit]], lut_inputs: int,
                   which: Callable[[_Bit], bool]) -> list[list[_Bit]]:
    """Count the bits ``which`` selects in counters of one LUT's inputs (6:3 on LUT6, 3:2 on
    LUT4, or three XNOR lanes on LUT6); a lone signal is passed on as it is."""
    size = _counter_size(lut_inputs)
    out: list[list[_Bit]] = []
    for weight, column in enumerate(columns):
        _place(out, weight, [])
        out[weight].extend(bit for bit in column if not which(bit))
        group: list[_Bit] = []
        for bit in [bit for bit in column if which(bit)] + [None]:
            if (bit is not None and len(group) < size
                    and sum(b.wires for b in group) + bit.wires <= lut_inputs):
                group.append(bit)
                continue
            if len(group) == 1 and group[0].driven:
                out[weight].append(group[0])
            elif group:
                _place(out, weight, [_Bit(s) for s in counter(m, [b.value for b in group])])
            group = [] if bit is None else [bit]
    return out


def _done(columns: list[list[_Bit]]) -> bool:
    heights = [len(column) for column in columns]
    lowest = next((w for w, h in enumerate(heights) if h), 0)
    return (all(bit.driven for column in columns for bit in column)
            and all(h <= (3 if w == lowest else 2) for w, h in enumerate(heights)))


def _compress(m: Module, columns: list[list[_Bit]], lut_inputs: int) -> Value:
    budget = lut_inputs - 1
    columns = [list(column) for column in columns]
    while not _done(columns):
        segments, rest = _plan_level(columns, budget)
        if sum(segment.removed for segment in segments) > 0:
            # bits no addition could host are counted now, or they would wait for ever
            rest = _counter_level(m, rest, lut_inputs, lambda bit: not bit.driven)
            columns = _chain_level(m, segments, rest, lut_inputs)
        elif any(not bit.driven for column in columns for bit in column):
            # no chain can host these bits: count them, the counters' outputs are signals
            columns = _counter_level(m, columns, lut_inputs, lambda bit: not bit.driven)
        else:
            # nothing to absorb: 3:2 counters in the columns still too tall
            tall = {id(bit) for column in columns if len(column) > 2 for bit in column}
            columns = _counter_level(m, columns, 3, lambda bit: id(bit) in tall)
    if not any(columns):
        return Const(0, 1)
    lowest = next(w for w, column in enumerate(columns) if column)
    carry_in = columns[lowest].pop() if len(columns[lowest]) == 3 else None
    rows = [Cat(*(column[row].value if row < len(column) else Const(0, 1)
                  for column in columns[lowest:])) for row in range(2)]
    total = carry_chain_add(m, rows[0], rows[1],
                            Const(0, 1) if carry_in is None else carry_in.value)
    return Cat(Const(0, lowest), total)


def _first_level(m: Module, lanes: list[_Bit], lut_inputs: int, left: int) -> list[list[_Bit]]:
    """Count all lanes but the last ``left`` in counters; those are left to the chains."""
    counted = len(lanes) - left
    columns = _counter_level(m, [lanes[:counted]], lut_inputs, lambda bit: True)
    columns[0].extend(lanes[counted:])
    return columns


def _xnor_lanes_for_chains(lanes: int, lut_inputs: int) -> int:
    """How many XNOR lanes the first additions can count, two wires a lane.

    Each addition at column 0 counts ``(lut_inputs - 1) // 2`` lanes with one first-level
    output in its lowest LUT, and takes two more first-level outputs as its carry-select bit
    and carry-in; the first level counts ``lut_inputs // 2`` lanes per counter.
    """
    per_addition, per_counter = (lut_inputs - 1) // 2, lut_inputs // 2
    left = 0
    while left + per_addition <= lanes:
        counters = -(-(lanes - left - per_addition) // per_counter)
        if 3 * ((left + per_addition) // per_addition) > counters:
            break
        left += per_addition
    return left


def compress(m: Module, columns: list[list[Value]], lut_inputs: int = 6) -> Value:
    """Return the sum of ``columns`` (``columns[c]`` holds single bits of weight ``2**c``).

    Parameters
    ----------
    m : Module
        Module the counters and chains are added to.
    columns : list of list of Value
        Single bits by weight. Signals or slices of signals are cheapest: a bit may feed a
        carry-select input, where any other expression costs a LUT.
    lut_inputs : int
        Inputs of the fabric's LUT: the chains' counters read ``lut_inputs - 1`` bits.

    Raises
    ------
    ValueError
        If ``lut_inputs`` is not an integer of at least 3.
    """
    check_lut_inputs(lut_inputs)
    return _compress(m, [[_Bit(Value.cast(bit)) for bit in column] for column in columns],
                     lut_inputs)


def compressor_popcount(m: Module, bits: Value, lut_inputs: int = 6) -> Value:
    """Return the number of set bits of ``bits`` from a compressor tree added to ``m``.

    The result is ``bits_for(len(bits))`` bits wide.

    Raises
    ------
    ValueError
        If ``lut_inputs`` is not an integer of at least 3.
    """
    bits = Value.cast(bits)
    return compress(m, [[bits[i] for i in range(len(bits))]], lut_inputs)[:bits_for(len(bits))]


def compressor_xnor_popcount(m: Module, x: Value, w: Value, lut_inputs: int = 6) -> Value:
    """Return ``popcount(~(x ^ w))`` with the XNOR folded into the LUTs that count it.

    Most lanes go through a first level of counters over ``lut_inputs // 2`` lanes, whose LUTs
    read the ``(x, w)`` pairs directly; the rest are counted by the chains' counters.

    Raises
    ------
    ValueError
        If ``x`` and ``w`` differ in width, or ``lut_inputs`` is not an integer of at least 3.
    """
    check_lut_inputs(lut_inputs)
    x, w = Value.cast(x), Value.cast(w)
    if len(x) != len(w):
        raise ValueError(f"x and w must have the same width, not {len(x)} and {len(w)}")
    lanes = [_Bit(~(x[i] ^ w[i]), wires=2, driven=False) for i in range(len(x))]
    columns = _first_level(m, lanes, lut_inputs, _xnor_lanes_for_chains(len(lanes), lut_inputs))
    return _compress(m, columns, lut_inputs)[:bits_for(len(x))]


def constant_xnor_popcount(m: Module, x: Value, weights: Sequence[int],
                           lut_inputs: int = 6) -> Value:
    """Return ``popcount(~(x ^ weights))`` for weights fixed at elaboration time.

    Lane ``i`` counts ``x[i]`` where the weight bit is 1 and ``~x[i]`` where it is 0; the
    inverters are absorbed by the LUTs that count them.

    Raises
    ------
    ValueError
        If ``weights`` has not one bit per lane of ``x``, holds a value other than 0 or 1, or
        ``lut_inputs`` is not an integer of at least 3.
    """
    check_lut_inputs(lut_inputs)
    x = Value.cast(x)
    weights = list(weights)
    if len(weights) != len(x):
        raise ValueError(f"weights must hold {len(x)} bits, not {len(weights)}")
    for lane, weight in enumerate(weights):
        if isinstance(weight, bool) or weight not in (0, 1):
            raise ValueError(f"weight {lane} must be 0 or 1, not {weight!r}")
    lanes = [_Bit(x[i]) if weights[i] else _Bit(~x[i], driven=False) for i in range(len(x))]
    left = round(len(lanes) * _CONSTANT_CHAIN_SHARE.get(lut_inputs, 0.0))
    return _compress(m, _first_level(m, lanes, lut_inputs, left), lut_inputs)[:bits_for(len(x))]
