"""Benchmark the scratch network against pure BLAS and against Keras.

Usage: python benchmarks/bench_scratch.py [--repeats N] [--no-keras] [--data-dir DIR]
(the same as `mnist-compare bench`; the code lives in compare/commands/bench.py).
"""

from __future__ import annotations

import argparse
import sys

from compare.commands import bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_scratch.py", description=__doc__.splitlines()[0])
    bench.configure(parser)
    return bench.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
