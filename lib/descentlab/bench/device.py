"""``descentlab bench device``: what the accelerator buys, measured against the CPU and a copy.

Two measurements, both from :mod:`descentlab.compare`:

* **throughput**: examples per second of one 784-100-10 MLP training step
  (SGD) at each batch size, on the best device and on the CPU, and the
  *crossover*: the smallest batch size from which the accelerator stays
  faster.  Small batches pay a fixed per-step overhead (kernel launches,
  synchronisation), which a GPU pays more of, so it need not win at all.
* **bandwidth**: an optimizer step's effective GB/s (bytes it really moves,
  counted op by op, over its median time) for torch's ``foreach`` and
  ``fused`` paths, as a fraction of a device-to-device copy's GB/s.

On a machine without an accelerator both run on the CPU alone and say so.
Nothing is pass/fail: these are ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_BATCHES = (1, 4, 16, 64, 96, 100, 128, 256, 1024, 4096)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected ints >= 1, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-sizes", type=_sizes, default=DEFAULT_BATCHES, metavar="B,B,...",
                        help="batch sizes for the throughput sweep (default: 1..4096)")
    parser.add_argument("--numel", type=int, default=2**24,
                        help="parameter elements for the bandwidth test (default: 2**24)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="timed calls per measurement, median reported (default: 20)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or mps (default: the best available)")


def main(args: argparse.Namespace) -> int:
    import torch

    from ..compare import (bandwidth, bandwidth_table, crossover, pick_device, throughput,
                           throughput_table)

    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    if args.numel < 1:
        raise ValueError(f"--numel must be >= 1, got {args.numel}")
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "no accelerator"
    print(f"descentlab bench device: device: {device} ({name}); "
          f"CPU: {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    if device.type == "cpu":
        print("no accelerator here: everything below runs on the CPU")
    rows = throughput(args.batch_sizes, [device, "cpu"], repeat=args.repeat)
    print("\nthroughput of a 784-100-10 MLP SGD step (median of "
          f"{args.repeat} synchronised steps)\n")
    print(throughput_table(rows))
    if device.type != "cpu":
        b = crossover(rows, str(device))
        print(f"\ncrossover batch size: {b if b is not None else f'none up to {max(args.batch_sizes)}'}"
              f" ({device} faster than the CPU from there on)")
    rows = bandwidth(numel=args.numel, device=device, repeat=args.repeat)
    print(f"\noptimizer step bandwidth, {args.numel:,} float32 parameters\n")
    print(bandwidth_table(rows))
    print("\npasses = bytes moved / bytes of the parameter; fraction = step GB/s / copy GB/s")
    return 0
