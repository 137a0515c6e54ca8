"""Formal equivalence: Yosys proves a core equal to its integer specification for all inputs.

A simulation checks the inputs it happens to draw; a proof checks all of them. The core and a
second, independent description of what it must compute (the specification, written from
:mod:`qnnforge.sw.reference` with plain ``+``, ``*``, comparisons and ``>>`` on values Amaranth
widens until nothing can overflow) are built side by side in one Amaranth module, the miter::

                     +--> core ----------> core_<out> --+
    inputs (free) ---+                                  +--> ok = all(core_<out> == spec_<out>)
                     +--> specification -> spec_<out> --+
                     +--> assumptions ----------------------> legal = all(assumptions)

Yosys reads its RTLIL and its built-in SAT solver (MiniSat, no other tool) searches for inputs
that make ``ok`` 0 while ``legal`` is 1::

    read_rtlil; hierarchy -top; proc; flatten
    sat -set legal 1 -verify                    # the assumptions can be met at all
    sat -prove ok 1 -set legal 1                # no legal input tells core and spec apart

"No model found" means the two are equal on every legal input (Yosys's verdict line is read, not
only its exit status). A model is a counterexample: the inputs,
the core's output and the specification's, which :class:`EquivalenceError` reports. The first
``sat`` guards against vacuity: assumptions nobody can meet would make every proof pass.

A core with a latency (a pipelined tree) is checked the same way over ``latency + 1`` time steps
from reset: the specification is delayed by ``latency`` registers, and ``ok`` must hold at the last
step for every input sequence (``sat -seq``, ``-prove-skip``). A feed-forward pipeline's output
depends only on its input ``latency`` cycles earlier, so this covers every cycle of every run.

A stream stage gets a bounded proof (:func:`prove_argmax_stream`, :func:`prove_stream`): a
checker beside it in the miter models what must come out of what went in, and every input
sequence of ``steps`` cycles from reset is searched, with ``valid`` and ``ready`` driven freely
by the solver. For the matrix-vector unit and the sliding window the checker is a scoreboard
(:class:`StreamModel`): it counts items and beats on both sides, keeps the input beats of the
last few items, and compares the ``k``-th output beat with the reference's ``k``-th, built from
:mod:`qnnforge.sw.reference` (a table of ``layer.forward`` over every input vector; the order of
``windows()``). Data stay symbolic, so one proof covers every value sequence. Memories are
mapped to registers (Yosys ``memory``) so that SAT reads them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..hw.tools.files import write_atomic
from ..hw.tools.toolchain import find_tool
from ..sw.errors import VerificationError

__all__ = ["Specification", "Proof", "EquivalenceError", "ProofTimeout", "prove",
           "ARGMAX_CHECKS", "prove_argmax_stream", "STREAM_CHECKS", "StreamModel",
           "mvu_model", "window_model", "prove_stream", "popcount_spec", "xnor_dot_spec",
           "constant_xnor_spec", "binary_weight_dot_spec", "ternary_dot_spec", "ttq_dot_spec",
           "codebook_dot_spec",
           "fixed_multiplier_spec", "fixed_dot_spec", "threshold_spec", "multithreshold_spec",
           "requantizer_spec"]

LOG_TAIL_LINES = 25
"""Lines of the Yosys log a :class:`Proof` keeps."""


@dataclass(frozen=True)
class Specification:
    """What a core must compute, as Amaranth values over its input ports.

    Attributes
    ----------
    outputs : Mapping[str, Value]
        The value each output port must have, by port name.
    assumptions : Sequence[Value]
        Conditions a legal input meets (e.g. a ternary weight code is never -2); inputs that
        break one are not checked.
    """

    outputs: Mapping[str, Value]
    assumptions: Sequence[Value] = ()


Spec = Callable[[Mapping[str, Value]], Specification]
"""A specification builder: given the miter's input ports by name, the values to compare."""


@dataclass(frozen=True)
class Proof:
    """A finished proof.

    Attributes
    ----------
    core : str
        The core and its parameters, as the caller named them.
    proved : bool
        Always ``True``: a failed proof raises :class:`EquivalenceError` instead.
    steps : int
        Time steps searched (1 for a combinational core).
    seconds : float
        Wall time: elaboration, RTLIL and Yosys.
    log_tail : str
        The last :data:`LOG_TAIL_LINES` lines of the Yosys log.
    """

    core: str
    proved: bool
    steps: int
    seconds: float
    log_tail: str = field(repr=False)


class EquivalenceError(VerificationError):
    """Yosys found inputs on which a core and its specification differ.

    Attributes
    ----------
    core : str
        The core and its parameters.
    counterexample : list of dict
        Input port values by name, one dict per time step (one step for a combinational core);
        layouts decode to lists and dicts of integers.
    outputs : dict
        At the failing step, for each output port: ``(core value, specification value)``.
    """

    def __init__(self, core: str, counterexample: list[dict], outputs: dict, message: str):
        super().__init__(message)
        self.core = core
        self.counterexample = counterexample
        self.outputs = outputs


class ProofTimeout(VerificationError):
    """Yosys did not finish a proof in the time allowed."""


# --- The miter ---------------------------------------------------------------------------------

def _inputs(signature: wiring.Signature) -> dict[str, wiring.Member]:
    return {name: member for name, member in signature.members.items()
            if member.is_port and member.flow == In}


class _EquivalenceMiter(wiring.Component):
    """The core, the specification's values and the delay that matches the core's latency."""

    def __init__(self, core: wiring.Component, spec: Spec, latency: int):
        self._core, self._latency = core, latency
        members = {name: In(member.shape) for name, member in _inputs(core.signature).items()}
        for name, member in core.signature.members.items():
            if member.is_port and member.flow == Out:
                members[f"core_{name}"] = Out(member.shape)
        # the specification's shapes are only known once it is built over the input ports
        ports = {name: Signal(member.shape, name=name) for name, member in members.items()
                 if member.flow == In}
        self._specification = spec(ports)
        given = sorted(self._specification.outputs)
        needed = sorted(name[5:] for name in members if name.startswith("core_"))
        if given != needed:
            # an output left out would go unchecked, and the proof would claim too much
            raise ValueError(f"the specification must give exactly the core's outputs "
                             f"({', '.join(needed)}), not ({', '.join(given)})")
        for name, value in self._specification.outputs.items():
            members[f"spec_{name}"] = Out(Value.cast(value).shape())
        members["ok"], members["legal"] = Out(1), Out(1)
        self._ports = ports
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        for name, port in self._ports.items():
            m.d.comb += [getattr(core, name).eq(getattr(self, name)), port.eq(getattr(self, name))]
        agree = []
        for name, value in self._specification.outputs.items():
            expected = Value.cast(value)
            for _ in range(self._latency):
                delayed = Signal(expected.shape())
                m.d.sync += delayed.eq(expected)
                expected = delayed
            m.d.comb += [getattr(self, f"core_{name}").eq(getattr(core, name)),
                         getattr(self, f"spec_{name}").eq(expected)]
            agree.append(Value.cast(getattr(core, name)) == expected)
        legal = [Value.cast(a).bool() for a in self._specification.assumptions]
        m.d.comb += [self.ok.eq(Cat(*agree).all()),
                     self.legal.eq(Cat(*legal).all() if legal else 1)]
        return m


# --- Running Yosys -----------------------------------------------------------------------------

def _decode(shape, bits: str):
    """Return the value of the binary string ``bits`` (MSB first) read with ``shape``."""
    raw = int(bits, 2) if bits and "x" not in bits else 0
    if isinstance(shape, data.ArrayLayout):
        size = Shape.cast(shape.elem_shape).width
        return [_decode(shape.elem_shape, format((raw >> (i * size)) & ((1 << size) - 1),
                                                 f"0{size}b")) for i in range(shape.length)]
    if isinstance(shape, data.Layout):
        return {name: _decode(f.shape, format((raw >> f.offset) & ((1 << f.width) - 1),
                                               f"0{f.width}b")) for name, f in shape}
    shape = Shape.cast(shape)
    if shape.signed and raw >> (shape.width - 1) & 1:
        raw -= 1 << shape.width
    return raw


def _wave_values(entry: dict, steps: int) -> list[str]:
    """Return one binary string per time step from a WaveJSON signal entry of ``sat``.

    Every wave character but ``.`` (unchanged) starts a value: for a 1-bit signal the character
    itself, for a wider one the next ``data`` entry (``4`` and an empty entry: no value). With
    ``-seq`` the first character is the initial state, before step 1.
    """
    values, index, current = [], 0, ""
    for char in entry["wave"]:
        if char != ".":
            if "data" in entry:
                current, index = entry["data"][index], index + 1
            else:
                current = char if char in "01" else ""
        values.append(current)
    return values[1:steps + 1] if steps > 1 else values[:1]


def _read_model(path: Path, ports: Mapping[str, object], steps: int) -> list[dict]:
    waves = {entry["name"]: _wave_values(entry, steps)
             for entry in json.loads(path.read_text())["signal"] if "name" in entry}
    return [{name: _decode(shape, waves[name][step]) for name, shape in ports.items()
             if name in waves} for step in range(steps)]


def _format(values: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


@dataclass(frozen=True)
class _Outcome:
    proved: bool
    log: str
    model: list[dict]


def _solve(top: wiring.Component, name: str, *, steps: int, skip: int,
           timeout: float | None) -> _Outcome:
    """Run Yosys on ``top``: prove ``ok`` is 1 wherever ``legal`` is 1, at steps after ``skip``.

    Raises
    ------
    ToolMissingError
        If Yosys is not installed.
    ProofTimeout
        If Yosys runs longer than ``timeout`` seconds.
    VerificationError
        If the assumptions can never be met (the proof would be vacuous).
    RuntimeError
        If Yosys fails for any other reason (a bug here, not in the core).
    """
    yosys = find_tool("yosys")
    sequence = ["-seq", str(steps), "-set-init-zero", "-set", "rst", "0"] if steps > 1 else []
    skipped = ["-prove-skip", str(skip)] if skip else []
    with tempfile.TemporaryDirectory(prefix="qnnforge-formal-") as work:
        work = Path(work)
        write_atomic(work / "miter.il", rtlil.convert(top, name="miter"))
        script = "\n".join([
            # memory: the stream stages' buffers become registers and multiplexers SAT can read
            "read_rtlil miter.il", "hierarchy -check -top miter", "proc", "flatten", "memory",
            " ".join(["sat", *sequence, "-set", "legal", "1", "-verify"]),
            " ".join(["sat", *sequence, *skipped, "-set", "legal", "1", "-prove", "ok", "1",
                      "-show-ports", "-dump_json", "model.json"]),
        ]) + "\n"
        write_atomic(work / "prove.ys", script)
        try:
            result = subprocess.run([yosys, "-s", "prove.ys"], cwd=work, capture_output=True,
                                    text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ProofTimeout(f"the proof of {name} did not finish in {timeout} s") from None
        log = result.stdout + result.stderr
        if "Called with -verify and found no model" in log:
            raise VerificationError(f"the assumptions of {name} exclude every input: "
                                    f"a proof under them would prove nothing")
        if result.returncode != 0:
            raise RuntimeError(f"yosys failed on the proof of {name}:\n{_tail(log)}")
        if "SAT proof finished - no model found: SUCCESS!" in log:
            return _Outcome(True, log, [])
        if "SAT proof finished - model found: FAIL!" not in log:
            raise RuntimeError(f"yosys gave no verdict on the proof of {name}:\n{_tail(log)}")
        ports = {"__".join(path): member.shape
                 for path, member, _ in top.signature.flatten(top)
                 if member.is_port}
        return _Outcome(False, log, _read_model(work / "model.json", ports, steps))


def _tail(log: str) -> str:
    """Return the end of the last SAT pass up to its verdict (the banner after it says nothing)."""
    lines = log.rstrip().splitlines()
    verdicts = [i for i, line in enumerate(lines) if line.startswith("SAT proof finished")]
    if verdicts:
        lines = lines[:verdicts[-1] + 1]
    return "\n".join(lines[-LOG_TAIL_LINES:])


def prove(core: wiring.Component, spec: Spec, *, name: str, latency: int = 0,
          timeout: float | None = 600) -> Proof:
    """Prove that ``core`` computes ``spec`` for every legal input.

    Parameters
    ----------
    core : wiring.Component
        A fresh (not yet elaborated) core whose ports are plain signals; ``spec`` names its
        output ports.
    spec : callable
        Given the input ports by name (signals or layout views of the same shapes as the
        core's), returns the :class:`Specification`.
    name : str
        The core and its parameters, for the result and the error message.
    latency : int
        Cycles from an input to its output (0: combinational).
    timeout : float or None
        Seconds Yosys may take.

    Raises
    ------
    EquivalenceError
        If some legal input gives an output other than the specification's; the message names
        the core, the input values, the core's output and the specification's.
    ProofTimeout
        If Yosys does not finish in ``timeout`` seconds.
    VerificationError
        If the specification's assumptions exclude every input.
    ToolMissingError
        If Yosys is not installed.
    ValueError
        If ``latency`` is negative or ``spec`` does not give exactly the core's outputs.
    """
    if not isinstance(latency, int) or isinstance(latency, bool) or latency < 0:
        raise ValueError(f"latency must be a non-negative integer, not {latency!r}")
    start = time.perf_counter()
    top = _EquivalenceMiter(core, spec, latency)
    steps = latency + 1
    outcome = _solve(top, name, steps=steps, skip=latency, timeout=timeout)
    if not outcome.proved:
        inputs = [{n: step[n] for n in _inputs(core.signature) if n in step}
                  for step in outcome.model]
        last = outcome.model[-1]
        outputs = {n[5:]: (last[n], last[f"spec_{n[5:]}"]) for n in last if n[:5] == "core_"}
        at = (_format(inputs[0]) if latency == 0 else
              "; ".join(f"step {i + 1}: {_format(v)}" for i, v in enumerate(inputs)))
        differ = "; ".join(f"{n} is {c}, the specification gives {s}"
                           for n, (c, s) in outputs.items() if c != s)
        raise EquivalenceError(name, inputs, outputs,
                               f"{name} differs from its specification at {at}: {differ}")
    return Proof(name, True, steps, time.perf_counter() - start, _tail(outcome.log))


# --- Stream stages -----------------------------------------------------------------------------

ARGMAX_CHECKS = {
    "delivered": "o.valid is high exactly while a result is owed (none lost, none duplicated)",
    "exact": "an offered result is the argmax and the scores of the vector it answers",
    "held": "a result offered and not taken is offered again, unchanged",
    "not_overwritten": "no vector completes while its predecessor's result is still owed",
    "ready_when_empty": "an empty output never stalls the input",
}
"""The argmax stage's stream contract, by the name of the check that finds it broken."""


class _StageMiter(wiring.Component):
    """A stream stage's ports, plus ``ok``, ``legal`` and one ``check_<name>`` output per
    check, with the stage inside (:meth:`_core_in` connects it to the ports)."""

    def __init__(self, core: wiring.Component, checks):
        self._core = core
        members = dict(core.signature.members)
        members.update({"ok": Out(1), "legal": Out(1)})
        members.update({f"check_{check}": Out(1) for check in checks})
        super().__init__(members)

    def _core_in(self, m: Module) -> wiring.Component:
        m.submodules.core = core = self._core
        wiring.connect(m, wiring.flipped(self.i_stream), core.i_stream)
        wiring.connect(m, core.o_stream, wiring.flipped(self.o_stream))
        return core


class _ArgmaxMiter(_StageMiter):
    """An argmax stage beside a checker that models, from the transfers, what must come out.

    A result is owed ``latency`` moves of the output after the transfer that completes its
    vector, where the output moves in a cycle it is empty or taken (a pipelined argmax holds
    its registers otherwise); unpipelined (``latency`` 0), from the next cycle on.
    """

    def __init__(self, core: wiring.Component, latency: int):
        self._latency = latency
        super().__init__(core, ARGMAX_CHECKS)

    def elaborate(self, platform):
        m = Module()
        core = self._core_in(m)
        i, o = self.i_stream, self.o_stream
        lanes, classes = len(i.payload), len(o.payload.scores)
        beats = classes // lanes
        taken, given = i.valid & i.ready, o.valid & o.ready

        # the vector being received, and the one a transfer of the last beat completes
        beat = Signal(range(beats))
        seen = Signal(data.ArrayLayout(o.payload.scores.shape().elem_shape, classes))
        complete = [Mux(beat == c // lanes, i.payload[c % lanes], seen[c]) for c in range(classes)]
        with m.If(taken):
            m.d.sync += beat.eq(Mux(beat == beats - 1, 0, beat + 1))
            for c in range(classes):
                with m.If(beat == c // lanes):
                    m.d.sync += seen[c].eq(i.payload[c % lanes])
        # numpy.argmax: the lowest index whose score no other score exceeds
        cls = Const(0, range(classes))
        for c in reversed(range(classes)):
            cls = Mux(Cat(*(complete[c] >= complete[j] for j in range(classes))).all(), c, cls)

        owed = Signal()
        expected = Signal.like(o.payload)
        completes = taken & (beat == beats - 1)
        moves = ~owed | given
        # the completed vector's result, `latency` moves from being owed
        result = Signal.like(o.payload, name="completed")
        m.d.comb += [result.cls.eq(cls)]
        m.d.comb += [result.scores[c].eq(complete[c]) for c in range(classes)]
        ahead, ahead_valid = result, completes
        for k in range(self._latency):
            stage, stage_valid = (Signal.like(o.payload, name=f"ahead{k + 1}"),
                                  Signal(name=f"ahead{k + 1}_valid"))
            with m.If(moves):
                m.d.sync += [stage.eq(ahead), stage_valid.eq(ahead_valid)]
            ahead, ahead_valid = stage, stage_valid
        with m.If(moves):
            m.d.sync += [owed.eq(ahead_valid), expected.eq(ahead)]

        stalled, offered = Signal(), Signal.like(o.payload)
        m.d.sync += [stalled.eq(o.valid & ~o.ready), offered.eq(o.payload)]
        m.d.comb += [
            self.check_delivered.eq(o.valid == owed),
            self.check_exact.eq(~owed | (o.payload.as_value() == expected.as_value())),
            self.check_held.eq(~stalled | (o.valid & (o.payload.as_value()
                                                      == offered.as_value()))),
            self.check_not_overwritten.eq(~(completes & ~moves)),
            self.check_ready_when_empty.eq(o.valid | i.ready),
        ]
        m.d.comb += [self.ok.eq(Cat(*(getattr(self, f"check_{c}") for c in ARGMAX_CHECKS)).all()),
                     self.legal.eq(1)]
        return m


def prove_argmax_stream(core: wiring.Component, *, name: str, steps: int, latency: int = 0,
                        timeout: float | None = 600) -> Proof:
    """Prove that an argmax stage keeps its stream contract for ``steps`` cycles from reset.

    Every input sequence is searched: scores, ``i_stream.valid`` and ``o_stream.ready`` are free
    in every cycle. The checks are :data:`ARGMAX_CHECKS`; together they say that every vector
    taken in gets exactly one result, its argmax (ties to the lowest index) with its scores, and
    that no beat is lost, duplicated or changed while ``valid & ~ready``.

    Parameters
    ----------
    core : wiring.Component
        A fresh :class:`~qnnforge.hw.cores.argmax.Argmax` (or a component with its signature).
    name : str
        The core and its parameters, for the result and the error message.
    steps : int
        Cycles searched (a bounded proof); at least 2.
    latency : int
        Moves of the output (cycles it is empty or taken) a result takes beyond the
        unpipelined argmax's (:attr:`~qnnforge.hw.cores.argmax.Argmax.latency`).

    Raises
    ------
    EquivalenceError
        If some input sequence breaks a check; the message names the core, the check, the step
        and the inputs of every step up to it.
    ProofTimeout
        If Yosys does not finish in ``timeout`` seconds.
    ValueError
        If ``steps`` is not an integer of at least 2.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, not {steps!r}")
    if not isinstance(latency, int) or isinstance(latency, bool) or latency < 0:
        raise ValueError(f"latency must be a non-negative integer, not {latency!r}")
    start = time.perf_counter()
    top = _ArgmaxMiter(core, latency)
    outcome = _solve(top, name, steps=steps, skip=0, timeout=timeout)
    if not outcome.proved:
        step = next(index for index, values in enumerate(outcome.model) if not values["ok"])
        broken = [check for check in ARGMAX_CHECKS if not outcome.model[step][f"check_{check}"]]
        inputs = [{port: values[port] for port in
                   ("i_stream__valid", "i_stream__payload", "o_stream__ready")}
                  for values in outcome.model[:step + 1]]
        sequence = "; ".join(f"step {index + 1}: {_format(values)}"
                             for index, values in enumerate(inputs))
        raise EquivalenceError(
            name, inputs, {"o_stream__payload": (outcome.model[step]["o_stream__payload"], None)},
            f"{name} breaks its stream contract at step {step + 1} "
            f"({'; '.join(ARGMAX_CHECKS[check] for check in broken)}) after {sequence}")
    return Proof(name, True, steps, time.perf_counter() - start, _tail(outcome.log))


STREAM_CHECKS = {
    "exact": "an offered beat is the next one the reference gives for the items taken in, "
             "and every input it depends on has been taken",
    "held": "a beat offered and not taken is offered again, unchanged",
    "not_overrun": "the stage never takes a beat of an item more than the checker's ring ahead "
                   "of the oldest item still owed",
    "progress": "with the sink ready, an item taken in whole starts coming out within the "
                "patience, and with both sides willing some beat moves within it",
    "full_rate": "with the sink ready and the item taken in whole, its beats follow each other "
                 "one per interval",
}
"""A stream stage's contract (:func:`prove_stream`), by the name of the check that finds it
broken."""


@dataclass(frozen=True)
class StreamModel:
    """What a stream stage must emit, per item (a vector, an image), from what it took in.

    Attributes
    ----------
    in_beats, out_beats : int
        Beats of one item on the input and the output stream.
    needs : tuple of int
        For each output beat of an item, the last input beat of the same item it depends on
        (``-1``: none, e.g. a padding beat).
    expected : callable
        ``expected(m, beats, index)``: given a module, the item's input beats (payload values,
        in order) and the output beat's index within the item (a signal), returns the value the
        output payload must have. It may add combinational logic to ``m``.
    patience : int
        Cycles the stage may take before the progress check fails.
    interval : int
        Cycles between the output beats of an item taken in whole, at full rate.
    settle : int
        Cycles from an item's last input beat until full rate is owed (its pipeline latency).
    ring : int
        Items the checker remembers (a power of two).
    """

    in_beats: int
    out_beats: int
    needs: tuple[int, ...]
    expected: Callable
    patience: int
    interval: int
    settle: int
    ring: int


def _table(m: Module, key: Value, entries: Mapping[int, int], shape) -> Signal:
    """Return a signal equal to ``entries[key]`` (0 for a key not listed)."""
    value = Signal(shape)
    with m.Switch(key):
        for k, entry in entries.items():
            with m.Case(k):
                m.d.comb += value.eq(entry)
    return value


def _pack(values, width: int) -> int:
    """Return the bit concatenation of ``values`` (element 0 lowest), each ``width`` bits."""
    return sum((int(v) & ((1 << width) - 1)) << (i * width) for i, v in enumerate(values))


def _power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def mvu_model(unit, layer) -> StreamModel:
    """Return the stream model of a :class:`~qnnforge.hw.cores.mvu.MatrixVectorUnit`.

    The expected output of an input vector is read from a table of ``layer.forward`` (the
    integer reference, :mod:`qnnforge.sw.reference`) over every legal input code vector, so the
    checker shares nothing with the unit but the encodings; the table has ``2**(bits * fan_in)``
    entries, which keeps this to tiny layers.

    Parameters
    ----------
    unit : MatrixVectorUnit
        The unit under proof.
    layer : DenseLayer
        The artifact layer it was lowered from.
    """
    fan_in, fan_out, pe = layer.in_features, layer.out_features, unit.pe
    in_enc, out_enc = layer.input_encoding, layer.output_encoding
    in_width = Shape.cast(unit.layer.input_shape).width
    out_width = Shape.cast(unit.layer.output_shape).width
    codes = np.array(list(np.ndindex(*([1 << in_width] * fan_in))), dtype=np.int64)
    legal = np.array([in_enc.contains(in_enc.from_code(row)) for row in codes], dtype=bool)
    codes = codes[legal]
    outputs = layer.forward(in_enc.from_code(codes))
    if out_enc is not None:
        outputs = out_enc.to_code(outputs)
    folds = fan_out // pe
    table = {fold: {_pack(row, in_width):
                    _pack(out[fold * pe:(fold + 1) * pe], out_width)
                    for row, out in zip(codes, outputs)} for fold in range(folds)}
    beats = fan_in // unit.in_lanes

    def expected(m, item_beats, index):
        vector = Cat(*(beat.as_value() for beat in item_beats))
        words = [_table(m, vector, table[fold], out_width * pe) for fold in range(folds)]
        return words[0] if folds == 1 else _pick(m, index, words)

    # a vector waits behind at most two (the banks) and then takes NF * SF cycles plus the
    # pipeline's registers; once taken in whole it sits in its bank, so its folds follow each
    # other SF cycles apart (settle 0). Besides the banks and the output register, each
    # pipeline register can hold a vector of its own (an unfolded unit), so the ring grows.
    sf, registers = unit.synapse_folds, sum(unit.stages)
    return StreamModel(beats, folds, (beats - 1,) * folds, expected,
                       patience=2 * folds * sf + 4 + registers, interval=sf, settle=0,
                       ring=_power_of_two(4 + registers))


def _pick(m: Module, index: Value, values: Sequence[Value]) -> Signal:
    chosen = Signal(max(len(Value.cast(v)) for v in values))
    with m.Switch(index):
        for k, v in enumerate(values):
            with m.Case(k):
                m.d.comb += chosen.eq(v)
    return chosen


def window_model(unit) -> StreamModel:
    """Return the stream model of a :class:`~qnnforge.hw.cores.sliding_window.SlidingWindow`.

    Output beat ``k`` of an image is input beat ``T[k]`` of the same image, or the padding word,
    where ``T`` is :func:`~qnnforge.sw.reference.windows` applied to an image of element indices
    (padding ``-1``), flattened and grouped into beats of ``lanes`` elements.
    """
    from ..sw.reference import windows

    height, width, channels = unit.in_shape
    lanes = unit.lanes
    index = np.arange(height * width * channels).reshape(1, height, width, channels)
    elements = windows(index, unit.kernel, unit.stride, unit.padding, pad_value=-1).reshape(-1)
    sources = []
    for k in range(0, len(elements), lanes):
        group = elements[k:k + lanes]
        if (group < 0).all():
            sources.append(-1)
        else:
            # whole channel groups move together: lane l of the beat is lane l of a source beat
            assert group[0] % lanes == 0 and (group == group[0] + np.arange(lanes)).all()
            sources.append(int(group[0]) // lanes)
    in_beats = unit.input_beats_per_image
    pad_word = Cat(*(Const(unit.pad_code, unit.element_shape) for _ in range(lanes)))

    def expected(m, item_beats, k):
        words = [pad_word if s < 0 else item_beats[s].as_value() for s in sources]
        return _pick(m, k, words)

    # the last rows of an image reach the output three cycles after they are written (row
    # count, read, stage 1); the ring holds the images the line buffer can run ahead by
    rows_beats = unit.buffer_rows * width * channels // lanes
    return StreamModel(in_beats, len(sources), tuple(sources), expected,
                       patience=in_beats + len(sources) + 4, interval=1, settle=3,
                       ring=_power_of_two(-(-rows_beats // in_beats) + 2))


class _StreamMiter(_StageMiter):
    """A stream stage beside a scoreboard: the k-th output beat against the model's."""

    def __init__(self, core: wiring.Component, model: StreamModel, steps: int):
        self._model, self._steps = model, steps
        super().__init__(core, STREAM_CHECKS)

    def elaborate(self, platform):
        m = Module()
        core = self._core_in(m)
        i, o, model = self.i_stream, self.o_stream, self._model
        taken, given = i.valid & i.ready, o.valid & o.ready
        items = range(self._steps + 2)

        # input side: item and beat counters, and a ring of the last `ring` items' beats
        in_item, in_beat = Signal(items), Signal(range(model.in_beats))
        ring = [[Signal.like(i.payload, name=f"ring{r}_{b}") for b in range(model.in_beats)]
                for r in range(model.ring)]
        slot_bits = (model.ring - 1).bit_length()
        with m.If(taken):
            last = in_beat == model.in_beats - 1
            m.d.sync += [in_beat.eq(Mux(last, 0, in_beat + 1)), in_item.eq(in_item + last)]
            for r in range(model.ring):
                for b in range(model.in_beats):
                    with m.If((in_beat == b) & ((in_item[:slot_bits] == r) if slot_bits else 1)):
                        m.d.sync += ring[r][b].eq(i.payload)

        # output side: the item and beat the next output must be
        out_item, out_beat = Signal(items), Signal(range(model.out_beats))
        with m.If(given):
            last = out_beat == model.out_beats - 1
            m.d.sync += [out_beat.eq(Mux(last, 0, out_beat + 1)), out_item.eq(out_item + last)]
        beats = [Signal.like(i.payload, name=f"head_{b}") for b in range(model.in_beats)]
        for b in range(model.in_beats):
            m.d.comb += beats[b].eq(ring[0][b])
            if slot_bits:
                with m.Switch(out_item[:slot_bits]):
                    for r in range(model.ring):
                        with m.Case(r):
                            m.d.comb += beats[b].eq(ring[r][b])
        expected = Signal(len(o.payload.as_value()))
        m.d.comb += expected.eq(model.expected(m, beats, out_beat))
        needs = _table(m, out_beat, dict(enumerate(model.needs)),
                       range(-1, model.in_beats))
        available = (in_item > out_item) | ((in_item == out_item) & (needs < in_beat))
        whole = in_item > out_item

        stalled, offered = Signal(), Signal.like(o.payload)
        m.d.sync += [stalled.eq(o.valid & ~o.ready), offered.eq(o.payload)]
        # progress: cycles the sink has waited for an available beat, and cycles both sides
        # have been willing with nothing moving
        waited, idle = Signal(range(model.patience + 1)), Signal(range(model.patience + 1))
        m.d.sync += [
            waited.eq(Mux(o.ready & whole & ~given, waited + (waited < model.patience), 0)),
            idle.eq(Mux(o.ready & i.valid & ~given & ~taken, idle + (idle < model.patience), 0)),
        ]
        # full rate: since a beat other than an item's last left, the sink has been ready, and
        # the item had been taken in whole for `settle` cycles (its last rows in the pipeline)
        gap, primed = Signal(range(model.interval + 1)), Signal()
        settled = Signal(range(model.settle + 1))
        item_ends = given & (out_beat == model.out_beats - 1)
        # (cycles the sink stalled do not count: a bubble already in the pipeline waits there)
        m.d.sync += settled.eq(Mux(whole & ~item_ends,
                                   settled + ((settled < model.settle) & (o.ready | ~o.valid)),
                                   0))
        m.d.sync += [primed.eq(Mux(given, (settled >= model.settle) & ~item_ends,
                                   primed & o.ready)),
                     gap.eq(Mux(given | ~primed, 0, gap + (gap < model.interval)))]
        m.d.comb += [
            self.check_exact.eq(~o.valid | (available
                                            & (o.payload.as_value() == expected))),
            self.check_held.eq(~stalled | (o.valid & (o.payload.as_value()
                                                      == offered.as_value()))),
            self.check_not_overrun.eq(~taken | (in_item - out_item < model.ring)),
            self.check_progress.eq((waited < model.patience) & (idle < model.patience)),
            self.check_full_rate.eq(~primed | ~o.ready | given | (gap < model.interval - 1)),
        ]
        m.d.comb += [self.ok.eq(Cat(*(getattr(self, f"check_{c}") for c in STREAM_CHECKS)).all()),
                     self.legal.eq(1)]
        return m


def prove_stream(core: wiring.Component, model: StreamModel, *, name: str, steps: int,
                 timeout: float | None = 600) -> Proof:
    """Prove that a stream stage emits what ``model`` says for ``steps`` cycles from reset.

    A scoreboard beside the stage counts items and beats on both streams and remembers the
    input beats of the last ``model.ring`` items; the ``k``-th output beat is compared with
    the model's ``k``-th beat. Every input sequence is searched: payloads, ``i_stream.valid`` and
    ``o_stream.ready`` are free in every cycle. The checks are :data:`STREAM_CHECKS`: together
    they say that no beat is lost, duplicated, reordered or changed (also while
    ``valid & ~ready``), and that the stage does not deadlock.

    Parameters
    ----------
    core : wiring.Component
        A fresh stream stage (``i_stream``, ``o_stream``).
    model : StreamModel
        What it must emit, from :func:`mvu_model` or :func:`window_model`.
    name : str
        The stage and its parameters, for the result and the error message.
    steps : int
        Cycles searched (a bounded proof); at least 2.

    Raises
    ------
    EquivalenceError
        If some input sequence breaks a check; the message names the stage, the checks broken
        and the step.
    ProofTimeout
        If Yosys does not finish in ``timeout`` seconds.
    ValueError
        If ``steps`` is not an integer of at least 2.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, not {steps!r}")
    start = time.perf_counter()
    top = _StreamMiter(core, model, steps)
    outcome = _solve(top, name, steps=steps, skip=0, timeout=timeout)
    if not outcome.proved:
        step = next(index for index, values in enumerate(outcome.model) if not values["ok"])
        broken = [check for check in STREAM_CHECKS if not outcome.model[step][f"check_{check}"]]
        inputs = [{port: values[port] for port in
                   ("i_stream__valid", "i_stream__payload", "o_stream__ready")}
                  for values in outcome.model[:step + 1]]
        raise EquivalenceError(
            name, inputs, {"o_stream__payload": (outcome.model[step]["o_stream__payload"], None)},
            f"{name} breaks its stream contract at step {step + 1}: "
            f"{'; '.join(STREAM_CHECKS[check] for check in broken)}")
    return Proof(name, True, steps, time.perf_counter() - start, _tail(outcome.log))


# --- Specifications, from sw/reference.py ------------------------------------------------------

def _bipolar(bit: Value) -> Value:
    """Return +1 for bit 1 and -1 for bit 0 (the artifact's binary encoding)."""
    return Mux(bit, 1, -1)


def popcount_spec(ports: Mapping[str, Value]) -> Specification:
    """``count = sum(bits[i])``: :class:`~qnnforge.hw.cores.popcount.Popcount`."""
    bits = ports["bits"]
    return Specification({"count": sum(bits[i] for i in range(len(bits)))})


def xnor_dot_spec(ports: Mapping[str, Value]) -> Specification:
    """``dot = sum(x[i] * w[i])`` over bipolar lanes (``reference.dense``); ``count`` is the
    number of agreeing lanes, ``(dot + lanes) / 2`` (``dot = 2 * count - lanes``)."""
    x, w = ports["x"], ports["w"]
    dot = sum(_bipolar(x[i]) * _bipolar(w[i]) for i in range(len(x)))
    return Specification({"count": (dot + len(x)) >> 1})  # dot + lanes is even: exact


def constant_xnor_spec(weights: Sequence[int]) -> Spec:
    """Return the specification of the XNOR dot product with ``weights`` fixed (1 = +1)."""
    weights = tuple(weights)

    def spec(ports: Mapping[str, Value]) -> Specification:
        x = ports["x"]
        dot = sum(_bipolar(x[i]) * (1 if weight else -1) for i, weight in enumerate(weights))
        return Specification({"count": (dot + len(weights)) >> 1})
    return spec


def binary_weight_dot_spec(ports: Mapping[str, Value]) -> Specification:
    """``sum = sum(w[i] * x[i])`` with bipolar weights (``reference.dense``)."""
    x, w = ports["x"], ports["w"]
    return Specification({"sum": sum(_bipolar(w[i]) * x[i] for i in range(len(x)))})


def ternary_dot_spec(ports: Mapping[str, Value]) -> Specification:
    """``sum = sum(w[i] * x[i])`` with ``w[i]`` in {-1, 0, 1}; the code -2 is not a weight."""
    x, w = ports["x"], ports["w"]
    return Specification({"sum": sum(w[i] * x[i] for i in range(len(x)))},
                         [w[i] != -2 for i in range(len(x))])


def ttq_dot_spec(positive: int, negative: int) -> Spec:
    """Return the specification of a TTQ dot with scales ``Wp = positive``, ``Wn = negative``:
    ``sum = sum(v(w[i]) * x[i])`` with ``v`` mapping the codes 1, -1, 0 to ``+Wp``, ``-Wn``, 0
    (``reference.dense`` on the weights' values); the code -2 is not a weight."""
    def spec(ports: Mapping[str, Value]) -> Specification:
        x, w = ports["x"], ports["w"]
        values = [Mux(w[i] == 1, positive, Mux(w[i] == -1, -negative, 0)) for i in range(len(x))]
        return Specification({"sum": sum(values[i] * x[i] for i in range(len(x)))},
                             [w[i] != -2 for i in range(len(x))])
    return spec


def codebook_dot_spec(values: Sequence[int]) -> Spec:
    """Return the specification of a codebook dot with table ``values``:
    ``sum = sum(values[w[i]] * x[i])`` (``reference.dense`` on the weights' values); an index
    past the table is not a weight."""
    def spec(ports: Mapping[str, Value]) -> Specification:
        x, w = ports["x"], ports["w"]

        def value(code: Value) -> Value:  # one-hot: exactly one term is non-zero
            return sum(Mux(code == index, v, 0) for index, v in enumerate(values))
        return Specification({"sum": sum(value(w[i]) * x[i] for i in range(len(x)))},
                             [w[i] < len(values) for i in range(len(x))])
    return spec


def fixed_multiplier_spec(ports: Mapping[str, Value]) -> Specification:
    """``product = x * w``."""
    return Specification({"product": ports["x"] * ports["w"]})


def fixed_dot_spec(ports: Mapping[str, Value]) -> Specification:
    """``sum = sum(x[i] * w[i])`` (``reference.dense``)."""
    x, w = ports["x"], ports["w"]
    return Specification({"sum": sum(x[i] * w[i] for i in range(len(x)))})


def _direction(flip: Value) -> Value:
    # the unit's flip is the reference's direction -1, with bounds negated by the generator:
    # acc <= bound  <=>  -acc >= -bound
    return Mux(flip, -1, 1)


def threshold_spec(ports: Mapping[str, Value]) -> Specification:
    """``y = direction * acc >= threshold`` (``reference.threshold``), where the unit's
    ``bound`` is ``direction * threshold``."""
    direction = _direction(ports["flip"])
    return Specification({"y": direction * ports["acc"] >= direction * ports["bound"]})


def multithreshold_spec(ports: Mapping[str, Value]) -> Specification:
    """``y = #{l : direction * acc >= thresholds[l]}`` (``reference.multithreshold``), for any
    bounds, sorted or not."""
    direction, acc, bounds = _direction(ports["flip"]), ports["acc"], ports["bounds"]
    return Specification({"y": sum(direction * acc >= direction * bounds[level]
                                   for level in range(len(bounds)))})


def requantizer_spec(base: int, output_shape) -> Spec:
    """Return ``y = clip(((acc * multiplier + offset) >> (base + shift)) + zero_point)``
    (``reference.requantize``): an arithmetic shift, saturated to ``output_shape``'s range."""
    shape = Shape.cast(output_shape)
    low = -(1 << (shape.width - 1)) if shape.signed else 0
    high = (1 << (shape.width - 1)) - 1 if shape.signed else (1 << shape.width) - 1

    def spec(ports: Mapping[str, Value]) -> Specification:
        product = ports["acc"] * ports["multiplier"] + ports["offset"]
        y = (product >> (base + ports["shift"])) + ports["zero_point"]
        return Specification({"y": Mux(y < low, low, Mux(y > high, high, y))})
    return spec
