"""Compressor-tree popcount built from generalized parallel counters sized for the fabric's LUT.

A ``n:m`` counter takes ``n`` bits of one weight and returns their count in ``m = bits_for(n)``
bits of rising weights; each output bit depends on ``n`` inputs only, so on a ``k``-input LUT
fabric an ``n <= k`` counter costs exactly ``m`` LUTs. A 6:3 counter on LUT6 removes three bits
for three LUTs, the best rate a single-output LUT allows.

Carry chains do better: in an adder ``A + B`` each sum LUT reads ``A[i]`` and ``B[i]`` only, so a
``B[i]`` computed from five or fewer bits is absorbed into that LUT. A chain whose ``B`` is made
of 5:3 counters consumes ``w + 5w/3`` bits for ``w`` LUTs. The tree therefore runs one level of
counters, then levels of such chains side by side, and ends with one addition of three rows.

The counters are written as Boolean logic (XOR, AND, OR), not ``+``: Yosys maps every ``+`` to a
carry chain before LUT mapping, which would turn each small counter into a chain of its own.
Every counter output is a signal of its own (the functions take the module to add it to): an
Amaranth expression used twice is emitted twice, so a tree of shared expressions would grow
exponentially.

For the XNOR dot product the first level folds the XNOR into the counters: a LUT6 sees three
``(x, w)`` pairs, so the first counters are 3:2 full adders over ``~(x ^ w)``. With constant
weights the XNOR is a wire or an inverter and disappears into the first counter level.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.utils import bits_for

__all__ = ["LUT_INPUTS", "counter", "compress", "compressor_popcount",
           "compressor_xnor_popcount", "constant_xnor_popcount"]

LUT_INPUTS = {"xc7": 6, "ice40": 4, "ecp5": 4}
"""Inputs of one LUT on each fabric."""

_ROWS = 3
# the tree stops at three rows: Yosys adds them with a 3:2 level and one carry chain

_SPREAD = 10
# chains per level = ceil(3 * height / spread); of 8 to 14, 10 gave the fewest LUT6 for 256
# lanes on xc7 with Yosys 0.23, with run-time and with constant weights


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


def _counter_size(lut_inputs: int) -> int:
    # the counter removing most bits per LUT: n inputs, bits_for(n) LUTs, n - bits_for(n) removed
    return max(range(3, lut_inputs + 1), key=lambda n: ((n - bits_for(n)) / bits_for(n), -n))


def _check_lut_inputs(lut_inputs: int) -> None:
    if not isinstance(lut_inputs, int) or isinstance(lut_inputs, bool) or lut_inputs < 3:
        raise ValueError(f"lut_inputs must be an integer of at least 3, not {lut_inputs!r}")


def _place(columns: list[list[Value]], weight: int, bits: Sequence[Value]) -> None:
    for offset, bit in enumerate(bits):
        while len(columns) <= weight + offset:
            columns.append([])
        columns[weight + offset].append(bit)


def compress(m: Module, columns: list[list[Value]], lut_inputs: int = 6,
             spread: int = _SPREAD) -> Value:
    """Return the sum of ``columns`` (``columns[c]`` holds single bits of weight ``2**c``).

    Parameters
    ----------
    m : Module
        Module the counters and chains are added to.
    columns : list of list of Value
        Single bits by weight.
    lut_inputs : int
        Inputs of the fabric's LUT; sets the counter size (6:3 on LUT6, 3:2 on LUT4) and how
        many bits a chain's sum LUT absorbs (``lut_inputs - 1``).
    spread : int
        A chain level runs ``ceil(3 * height / spread)`` chains side by side.

    Raises
    ------
    ValueError
        If ``lut_inputs`` is not an integer of at least 3.
    """
    _check_lut_inputs(lut_inputs)
    size = _counter_size(lut_inputs)
    columns = [list(column) for column in columns]
    most = sum(len(column) << weight for weight, column in enumerate(columns))
    if not most:
        return Const(0, 1)
    if max(len(column) for column in columns) > _ROWS:
        columns = _reduce(m, columns, size)
    while max(len(column) for column in columns) > _ROWS:
        columns = _chain_level(m, columns, lut_inputs - 1, spread)
    rows = [Cat(*(column[row] if row < len(column) else Const(0, 1) for column in columns))
            for row in range(_ROWS)]
    return (rows[0] + rows[1] + rows[2])[:bits_for(most)]


def _reduce(m: Module, columns: list[list[Value]], size: int) -> list[list[Value]]:
    """Apply one level of ``size``-bit counters, and a smaller one where no full one fits."""
    result: list[list[Value]] = []
    for weight, column in enumerate(columns):
        index = 0
        while len(column) - index >= size:
            _place(result, weight, counter(m, column[index:index + size]))
            index += size
        rest = column[index:]
        if index == 0 and len(rest) > _ROWS:
            _place(result, weight, counter(m, rest))
        else:
            for bit in rest:
                _place(result, weight, [bit])
    return result


def _chain_level(m: Module, columns: list[list[Value]], absorbed: int,
                 spread: int) -> list[list[Value]]:
    """Add the columns in carry-chain adders ``A + B`` whose ``B`` is absorbed into the LUTs.

    Each chain takes one bit per column for ``A`` (it also drives the chain's carry-select
    input, so it must be a signal) and, at every few columns, up to ``absorbed`` bits through a
    small counter whose outputs form ``B``. The chains' start offsets rotate so that every
    column feeds the counters of some chain.
    """
    pool = [list(column) for column in columns]
    out: list[list[Value]] = []
    chains = max(1, -(-3 * max(len(column) for column in pool) // spread))
    for chain in range(chains):
        live = [c for c, column in enumerate(pool) if column]
        if not live:
            break
        low, top = live[0], live[-1]
        a_row = [pool[c].pop() if pool[c] else Const(0, 1) for c in range(low, top + 1)]
        b_row: dict[int, Value] = {}
        c = low + chain % 3
        while c <= top:
            bits = [pool[c].pop() for _ in range(min(absorbed, len(pool[c])))]
            outputs = bits if len(bits) < 2 else counter(m, bits)
            for offset, bit in enumerate(outputs):
                b_row[c + offset] = bit
            c += max(1, len(outputs))
        width = max([top + 1, *(c + 1 for c in b_row)]) - low
        a_row += [Const(0, 1)] * (width - len(a_row))
        total = Signal(width + 1)
        m.d.comb += total.eq(Cat(*a_row) + Cat(*(b_row.get(low + i, Const(0, 1))
                                                for i in range(width))))
        _place(out, low, [total[i] for i in range(width + 1)])
    for weight, column in enumerate(pool):
        while len(out) <= weight:
            out.append([])
        out[weight].extend(column)
    return out


def compressor_popcount(m: Module, bits: Value, lut_inputs: int = 6) -> Value:
    """Return the number of set bits of ``bits`` from a compressor tree added to ``m``.

    The result is ``bits_for(len(bits))`` bits wide.

    Raises
    ------
    ValueError
        If ``lut_inputs`` is not an integer of at least 3.
    """
    bits = Value.cast(bits)
    count = compress(m, [[bits[i] for i in range(len(bits))]], lut_inputs, _SPREAD)
    return count[:bits_for(len(bits))]


def compressor_xnor_popcount(m: Module, x: Value, w: Value, lut_inputs: int = 6) -> Value:
    """Return ``popcount(~(x ^ w))`` with the XNOR folded into the first counter level.

    The first level groups ``lut_inputs // 2`` lanes per counter, so each of its LUTs reads
    the ``(x, w)`` pairs directly.

    Raises
    ------
    ValueError
        If ``x`` and ``w`` differ in width, or ``lut_inputs`` is not an integer of at least 3.
    """
    _check_lut_inputs(lut_inputs)
    x, w = Value.cast(x), Value.cast(w)
    if len(x) != len(w):
        raise ValueError(f"x and w must have the same width, not {len(x)} and {len(w)}")
    lanes = [~(x[i] ^ w[i]) for i in range(len(x))]
    group = max(2, lut_inputs // 2)
    columns: list[list[Value]] = [[]]
    for start in range(0, len(lanes), group):
        chunk = lanes[start:start + group]
        _place(columns, 0, chunk if len(chunk) == 1 else counter(m, chunk))
    return compress(m, columns, lut_inputs, _SPREAD)[:bits_for(len(x))]


def constant_xnor_popcount(m: Module, x: Value, weights: Sequence[int],
                           lut_inputs: int = 6) -> Value:
    """Return ``popcount(~(x ^ weights))`` for weights fixed at elaboration time.

    Lane ``i`` counts ``x[i]`` where the weight bit is 1 and ``~x[i]`` where it is 0; the
    inverters are absorbed by the first counter level.

    Raises
    ------
    ValueError
        If ``weights`` has not one bit per lane of ``x``, holds a value other than 0 or 1, or
        ``lut_inputs`` is not an integer of at least 3.
    """
    x = Value.cast(x)
    weights = list(weights)
    if len(weights) != len(x):
        raise ValueError(f"weights must hold {len(x)} bits, not {len(weights)}")
    for lane, weight in enumerate(weights):
        if isinstance(weight, bool) or weight not in (0, 1):
            raise ValueError(f"weight {lane} must be 0 or 1, not {weight!r}")
    lanes = [x[i] if weights[i] else ~x[i] for i in range(len(x))]
    return compress(m, [lanes], lut_inputs, _SPREAD)[:bits_for(len(x))]
