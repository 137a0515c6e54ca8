"""Option groups several commands share, each with the function that reads it into a typed value.

A command adds a group to its parser (``add_training_options``, ``add_hardware_options``) and
reads it back once (``train_config``, ``hardware_options``, ``design_folding``); it then calls
library functions with those values, never with the parsed arguments themselves.
"""

from __future__ import annotations

import argparse

from .errors import usage_errors

__all__ = ["add_training_options", "train_config", "add_hardware_options", "hardware_options",
           "design_folding", "fold_overrides", "probability", "positive_integer",
           "non_negative_integer", "positive_number", "PIPELINE_HELP", "WRITABLE_WEIGHTS_HELP",
           "add_scheduler_option",
           "scheduler_address"]


def _positive_list(what: str):
    """Return an argparse ``type`` reading comma-separated positive integers (``what``)."""
    def parse(text: str) -> tuple[int, ...]:
        try:
            widths = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be comma-separated integers, not {text!r}") from None
        if not widths or min(widths) < 1:
            raise argparse.ArgumentTypeError(f"{what} must be positive, not {text!r}")
        return widths
    return parse


PIPELINE_HELP = ("adder levels between the datapath's registers: each matrix-vector unit "
                 "registers its dot product every LEVELS levels and its accumulator's result, "
                 "and the argmax compares in a registered tree (more latency, same "
                 "throughput); 0: no pipeline registers")
WRITABLE_WEIGHTS_HELP = ("give every weight memory a write port, loaded through the top's "
                         "w_stream between inferences (FINN's runtime-writable weights); "
                         "shallow ones become LUT RAM on Xilinx 7-series, half the LUTs of a "
                         "ROM")

_widths = _positive_list("hidden widths")
_channels = _positive_list("channels")


def _layer_precision(text: str) -> tuple[int, str]:
    from .sw.precision import PRECISIONS, parse_layer_precision

    try:
        (index, name), = parse_layer_precision([text]).items()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if name not in PRECISIONS:
        raise argparse.ArgumentTypeError(f"precision must be one of {', '.join(PRECISIONS)}, "
                                         f"not {name!r}")
    return index, name


def positive_integer(text: str) -> int:
    """Parse a positive integer (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def non_negative_integer(text: str) -> int:
    """Parse an integer of at least 0 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a non-negative integer, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, not {value}")
    return value


def positive_number(text: str) -> float:
    """Parse a positive finite number (an argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def probability(text: str) -> float:
    """Parse a probability in [0, 1) (an argparse ``type``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), not {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), not {text}")
    return value


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of :class:`~qnnforge.sw.config.TrainConfig` (``train`` and ``demo``)."""
    from .sw.config import ARCHITECTURES, ROUNDINGS, TrainConfig
    from .sw.precision import PRESETS

    defaults = TrainConfig()
    group = parser.add_argument_group("training")
    group.add_argument("--arch", choices=ARCHITECTURES, default=defaults.arch,
                       help="network: mlp (dense layers of --hidden widths) or cnn (3x3 "
                            "convolutions of --channels, 2x2 max-pools after all but the first, "
                            "one dense layer) (default: %(default)s)")
    group.add_argument("--precision", choices=tuple(PRESETS), default=defaults.precision,
                       help="weights/activations of every layer; mixed = int8 first, ternary "
                            "hidden, int8 last (default: %(default)s)")
    group.add_argument("--layer-precision", type=_layer_precision, action="append", default=[],
                       metavar="LAYER=PRECISION",
                       help="override one layer's precision, e.g. --layer-precision 1=int4 "
                            "(repeatable; layers count the dense layers, or the convolutions "
                            "then the dense layer)")
    group.add_argument("--hidden", type=_widths, default=defaults.hidden, metavar="W1,W2,...",
                       help="hidden layer widths of the mlp (default: "
                            f"{','.join(map(str, defaults.hidden))})")
    group.add_argument("--channels", type=_channels, default=defaults.channels,
                       metavar="C1,C2,...",
                       help="output channels of each convolution of the cnn (default: "
                            f"{','.join(map(str, defaults.channels))})")
    group.add_argument("--epochs", type=int, default=defaults.epochs,
                       help="training epochs (default: %(default)s)")
    group.add_argument("--input-bits", type=int, default=defaults.input_bits,
                       help="bits of the unsigned fixed-point input (default: %(default)s)")
    group.add_argument("--seed", type=int, default=defaults.seed,
                       help="random seed (default: %(default)s)")
    group.add_argument("--rounding", choices=ROUNDINGS, default=defaults.rounding,
                       help="training rounding of fixed-point weights and unsigned activations: "
                            "nearest, or stochastic (unbiased; evaluation and export always "
                            "round to nearest) (default: %(default)s)")


def train_config(args: argparse.Namespace):
    """Return the :class:`~qnnforge.sw.config.TrainConfig` of the training options.

    Raises
    ------
    ConfigError
        If a value or the combination of precisions is invalid.
    """
    from .sw.config import TrainConfig

    return TrainConfig(hidden=tuple(args.hidden), epochs=args.epochs, input_bits=args.input_bits,
                       seed=args.seed, precision=args.precision,
                       layer_precision=tuple(args.layer_precision), arch=args.arch,
                       channels=tuple(args.channels), rounding=args.rounding)


def _identifier(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"must be a Verilog identifier, not {text!r}")
    return text


def add_hardware_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Add the options that shape the hardware: folding, DSPs, popcount (and ``--top``)."""
    from .hw.compiler.folding import DEFAULT_IMAGE_TARGET_CYCLES, DEFAULT_TARGET_CYCLES
    from .hw.compiler.options import HardwareOptions
    from .hw.cores.xnor_dot import POPCOUNTS

    defaults = HardwareOptions()
    group = parser.add_argument_group("hardware")
    if top:
        group.add_argument("--top", type=_identifier, default="qnnforge_top",
                           help="top module name (default: %(default)s)")
    group.add_argument("--target-cycles", type=int, default=None,
                       help="cycles per inference the default folding aims for (default: "
                            f"{DEFAULT_TARGET_CYCLES} for an MLP, {DEFAULT_IMAGE_TARGET_CYCLES} "
                            "for a CNN)")
    group.add_argument("--fold", action="append", default=[], metavar="LAYER:PExSIMD",
                       help="set one layer's folding by index or name, e.g. --fold 1:8x16 or "
                            "--fold conv0:4x9 (repeatable)")
    group.add_argument("--no-dsp", dest="dsp", action="store_false",
                       help="build fixed-point multipliers from LUTs (shift-add) instead of "
                            "letting the synthesizer infer DSP blocks")
    group.add_argument("--popcount", choices=tuple(POPCOUNTS), default=defaults.popcount,
                       help="popcount of XNOR layers (a binary first layer too): adder tree, "
                            "or the compressor tree of carry chains and LUT counters "
                            "(default: %(default)s)")
    group.add_argument("--lut-inputs", type=int, choices=(4, 5, 6), default=defaults.lut_inputs,
                       help="LUT size the compressor popcount is built for: 6 for Xilinx "
                            "7-series, 4 for iCE40 and ECP5 (default: %(default)s)")
    group.add_argument("--pipeline", type=non_negative_integer, default=defaults.pipeline,
                       metavar="LEVELS", help=PIPELINE_HELP + " (default: %(default)s)")
    group.add_argument("--block-rom-words", type=positive_integer, default=None,
                       metavar="WORDS",
                       help="ask for block RAM for every weight memory of at least WORDS words "
                            "(128 suits Xilinx 7-series, whose deep ROMs Yosys builds from "
                            "LUTs; default: leave it to synthesis)")
    group.add_argument("--writable-weights", action="store_true",
                       help=WRITABLE_WEIGHTS_HELP)


def hardware_options(args: argparse.Namespace):
    """Return the :class:`~qnnforge.hw.compiler.options.HardwareOptions` of the options.

    Raises
    ------
    UsageError
        If the popcount cannot be built for the LUT size.
    """
    from .hw.compiler.options import HardwareOptions

    with usage_errors():
        return HardwareOptions(dsp=args.dsp, popcount=args.popcount, lut_inputs=args.lut_inputs,
                               pipeline=args.pipeline, block_rom_words=args.block_rom_words,
                               writable_weights=args.writable_weights)


def fold_overrides(specs: list[str]) -> dict:
    """Return the per-layer foldings of ``--fold`` specs.

    Raises
    ------
    UsageError
        If a spec is malformed or names a layer twice.
    """
    from .hw.compiler.folding import parse_folding

    with usage_errors():
        return parse_folding(specs)


def design_folding(artifact, target_cycles: int | None, overrides: dict):
    """Return the :class:`~qnnforge.hw.compiler.folding.Folding` of ``artifact`` that meets
    ``target_cycles`` with the user's per-layer ``overrides`` (from :func:`fold_overrides`).

    Raises
    ------
    UsageError
        If the target is not positive or an override does not fit its layer.
    """
    from .hw.compiler.plan import default_folding

    with usage_errors():
        return default_folding(artifact.layers, target_cycles, overrides)


def scheduler_address(text: str) -> str:
    """Parse a Dask scheduler address ``tcp://HOST:PORT`` (an argparse ``type``)."""
    from .sw.sweep import check_scheduler

    try:
        return check_scheduler(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler ADDRESS``: run a sweep's jobs on a running Dask cluster
    (``args.scheduler``; None for a local cluster of this machine)."""
    parser.add_argument("--scheduler", type=scheduler_address, default=None, metavar="ADDRESS",
                        help="run the jobs on the Dask cluster of this scheduler, e.g. "
                             "tcp://HOST:8786 (default: a local cluster, one worker per core)")
