"""cocotb tests of a generated network against the integer reference model.

Parameters come from the JSON file named by ``QNNFORGE_SIM_CONFIG`` (see
:mod:`qnnforge.sim.verify`): the vectors file (input codes and the reference's values of every
layer), the design's interface (:mod:`qnnforge.hw.compiler.interface`: lanes and element formats
of every stream, bit offsets of the result word) and where to write the measured results.
Driver, monitors, model and checker are kept apart: the reference outputs were computed before
simulation by :mod:`qnnforge.sw.reference`; the checker reads every stream's codes into values
as the interface says, compares in order and names the first mismatch.
"""

from __future__ import annotations

import json
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from ..hw.compiler.interface import DesignInterface
from .packing import pack_rows, unpack_beats
from .runner import load_config
from .streams import CycleCounter, StreamDriver, StreamMonitor, StreamPort


async def _reset(dut) -> None:
    dut.rst.value = 1
    dut.i_stream__valid.value = 0
    dut.o_stream__ready.value = 0
    if hasattr(dut, "w_stream__valid"):  # writable weights: the built-in ones are used
        dut.w_stream__valid.value = 0
    await ClockCycles(dut.clk, 3)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


def first_mismatch(name: str, expected: np.ndarray, actual: np.ndarray) -> str | None:
    """Return a message naming the first differing sample and element, or None if equal."""
    if actual.shape[0] < expected.shape[0]:
        return f"{name}: only {actual.shape[0]} of {expected.shape[0]} outputs arrived"
    rows = np.nonzero(np.any(expected != actual[:len(expected)], axis=1))[0]
    if not len(rows):
        return None
    sample = int(rows[0])
    element = int(np.nonzero(expected[sample] != actual[sample])[0][0])
    return (f"sample {sample}, layer {name}, element {element}: expected "
            f"{int(expected[sample, element])}, got {int(actual[sample, element])} "
            f"({int(np.sum(np.any(expected != actual[:len(expected)], axis=1)))} samples differ)")


async def _run_network(dut, stall: float, backpressure: float, seed: int) -> dict:
    config = load_config()
    vectors = np.load(config["vectors"])
    codes = vectors["input_codes"]
    samples = len(codes)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await _reset(dut)
    counter = CycleCounter(dut.clk)
    cocotb.start_soon(counter.run())
    rng = random.Random(seed)
    driver = StreamDriver(StreamPort(dut, "i_stream"), counter, stall, rng)
    monitor = StreamMonitor(StreamPort(dut, "o_stream"), counter, backpressure,
                            random.Random(seed + 1))
    interface = DesignInterface.from_json(config["interface"])
    layer_monitors = {}
    for layer in interface.layers:
        port = StreamPort(getattr(dut, layer.name), "o_stream")
        layer_monitors[layer.name] = StreamMonitor(port, counter, passive=True)
    for watcher in (monitor, *layer_monitors.values()):
        cocotb.start_soon(watcher.run())

    if config.get("weight_beats"):  # new weights first, taken between inferences
        weights = StreamDriver(StreamPort(dut, "w_stream"), counter, stall, random.Random(seed + 2))
        await weights.send([int(beat, 16) for beat in config["weight_beats"]])
    stream = interface.input
    await driver.send(pack_rows(codes, stream.lanes, stream.element.bits))
    budget = 20 * config["latency_cycles"] + samples * config["cycles_per_inference"] * (
        4 if stall or backpressure else 2)
    while len(monitor.beats) < samples and counter.cycle < budget:
        await RisingEdge(dut.clk)
    await ClockCycles(dut.clk, 2)

    # checker: every layer's outputs in order, then class and scores
    errors = []
    for layer in interface.layers:
        layer_codes = unpack_beats(layer_monitors[layer.name].beats, layer.lanes,
                                   layer.element.bits, False, layer.elements)
        message = first_mismatch(layer.name, vectors[f"{layer.name}_values"],
                                 layer.element.from_code(layer_codes))
        if message:
            errors.append(message)
    results = [interface.result.decode(word) for word in monitor.beats]
    cls = np.array([index for index, _ in results], dtype=np.int64).reshape(-1, 1)
    scores = np.array([row for _, row in results], dtype=np.int64).reshape(-1, interface.classes)
    for name, expected, actual in (("argmax", vectors["classes"].reshape(-1, 1), cls),
                                   (interface.layers[-1].name + " scores",
                                    vectors["scores"], scores)):
        message = first_mismatch(name, expected, actual)
        if message:
            errors.append(message)
    received = monitor.received_at
    mismatches = int(np.sum(cls[:samples, 0] != vectors["classes"][:len(cls)])) + \
        max(0, samples - len(cls))
    # steady state: skip the pipeline fill, measure the interval between later results
    warm = min(8, max(0, len(received) - 2))
    interval = ((received[-1] - received[warm]) / (len(received) - 1 - warm)
                if len(received) - 1 > warm else None)
    return {
        "samples": samples, "received": len(cls), "mismatches": mismatches,
        "errors": errors, "classes": cls[:, 0].tolist(),
        "cycles_per_inference": interval,
        "latency_cycles": received[0] - driver.sent_at[0] if received else None,
        "total_cycles": counter.cycle, "stall": stall, "backpressure": backpressure,
    }


def _record(key: str, result: dict) -> None:
    config = load_config()
    path = config["results"][key]
    with open(path, "w") as f:
        json.dump(result, f, indent=2)


@cocotb.test()
async def network_full_rate(dut):
    """Every sample back to back, no stalls: bit-exact, and the measured cycle figures."""
    result = await _run_network(dut, 0.0, 0.0, load_config().get("seed", 1))
    _record("full_rate", result)
    assert not result["errors"], "; ".join(result["errors"])


@cocotb.test()
async def network_with_stalls(dut):
    """Every sample with random input stalls and random output backpressure: bit-exact."""
    config = load_config()
    result = await _run_network(dut, config.get("stall", 0.3), config.get("backpressure", 0.3),
                                config.get("seed", 1) + 100)
    _record("stalls", result)
    assert not result["errors"], "; ".join(result["errors"])
