"""`mnist-compare predict IMAGE [IMAGE ...] --run RUN_DIR`: recognise your own digits.

Each image is preprocessed the MNIST way (`compare.digits`) and given to every
model the run trained. Per image: each model's digit with its top-3
probabilities and whether the models agree (`--json`: a JSON list). An image
that fails gets a one-line error and the others are still processed; the exit
code is then 1. An unusable `--run` folder or `--show` path exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare predict`."""
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, ... files")
    parser.add_argument(
        "--run", required=True, metavar="RUN_DIR", help="a finished run folder (mnist-compare run)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per image"
    )
    parser.add_argument(
        "--show",
        metavar="OUT.png",
        help="save a figure per image: OUT.png for one image, OUT-<stem>.png for several",
    )


def _check_show(show: str | None) -> Path | None:
    """The --show path, validated before any work: its folder exists, its format is known."""
    from compare.cli import CliError

    if show is None:
        return None
    out = Path(show)
    if not out.parent.is_dir():
        raise CliError(f"--show {show}: folder {out.parent} does not exist; create it first")
    if out.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise CliError(f"--show {show}: use a .png, .pdf, .svg or .jpg file name")
    return out


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.predict import (
        RunError,
        figure_paths,
        format_text,
        load_run,
        predict_images,
        save_figure,
        to_json,
    )

    out = _check_show(args.show)
    try:
        models = load_run(args.run)
    except RunError as error:
        raise CliError(str(error), exit_code=2) from None
    results = predict_images(models, list(args.images))
    for result in results:
        if result.error is not None:
            print(f"mnist-compare: error: {result.error}", file=sys.stderr)
    if args.json:
        # Valid JSON, one image per line: easy to read and to grep.
        lines = ",\n".join(f"  {json.dumps(to_json(result))}" for result in results)
        print(f"[\n{lines}\n]")
    else:
        blocks = [format_text(result) for result in results if result.error is None]
        if blocks:
            print("\n\n".join(blocks))
    if out is not None:
        for result, path in zip(results, figure_paths(out, list(args.images)), strict=True):
            if result.error is None:
                save_figure(result, path)
                print(f"figure: {path}", file=sys.stderr)
    return 1 if any(result.error is not None for result in results) else 0
