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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="let --show replace existing files that are not its own figures (never an input)",
    )


def _check_show(show: str | None, images: list[str], overwrite: bool) -> list[Path] | None:
    """The --show figure paths, validated before any work: the folder exists, the format
    is known, no figure is an input image, and an existing file is replaced only when it
    is a figure this tool wrote (or with --overwrite)."""
    from compare.cli import CliError
    from compare.predictfigure import figure_paths, is_our_figure

    if show is None:
        return None
    out = Path(show)
    if not out.parent.is_dir():
        raise CliError(f"--show {show}: folder {out.parent} does not exist; create it first")
    if out.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise CliError(f"--show {show}: use a .png, .pdf, .svg or .jpg file name")
    inputs = {Path(image).resolve() for image in images}
    paths = figure_paths(out, images)
    for path in paths:
        if path.resolve() in inputs:
            raise CliError(f"--show {show}: {path} is an input image; choose another name")
        if path.exists() and not overwrite and not is_our_figure(path):
            raise CliError(
                f"--show {show}: {path} exists and is not a figure mnist-compare wrote; "
                "choose another name or pass --overwrite"
            )
    from compare.writeerrors import check_writable

    check_writable(out.parent, f"--show {show}")
    return paths


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.predict import (
        RunError,
        format_text,
        load_run,
        predict_images,
        to_json,
    )
    from compare.runguard import prepare_to_read

    paths = _check_show(args.show, list(args.images), args.overwrite)
    prepare_to_read(args.run)
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
    if paths is not None:
        _save_figures(results, paths)
    return 1 if any(result.error is not None for result in results) else 0


def _save_figures(results: list, paths: list[Path]) -> None:
    """One figure per recognised image; a full disk stops at the first figure it refuses
    (one line, exit code 1; that figure's temp file is removed, an older one kept)."""
    from compare.predictfigure import save_figure
    from compare.writeerrors import one_line_write_errors

    for result, path in zip(results, paths, strict=True):
        if result.error is None:
            with one_line_write_errors(f"--show figure {path}"):
                save_figure(result, path)
            print(f"figure: {path}", file=sys.stderr)
