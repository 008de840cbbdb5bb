"""`mnist-compare report RUN_DIR`: render a run folder into report.md, report.html and
figures/*.png, from the folder's files alone (no training, no TensorFlow)."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `mnist-compare report`."""
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", help="a run folder made by `mnist-compare run`"
    )


def run(args: argparse.Namespace) -> int:
    from compare.cli import CliError
    from compare.runguard import prepare_to_read
    from compare.writeerrors import check_writable, one_line_write_errors
    from reports import ReportError, render_report

    prepare_to_read(args.run_dir)
    what = f"the report into {args.run_dir}"
    remedy = {"read_only_remedy": "copy the folder somewhere you can write and report that"}
    if Path(args.run_dir).is_dir():
        check_writable(Path(args.run_dir), what, **remedy)
    try:
        with one_line_write_errors(what, **remedy):
            written = render_report(args.run_dir)
    except ReportError as error:
        raise CliError(str(error), exit_code=error.exit_code) from None
    except OSError as error:
        raise CliError(f"cannot write {what}: {error.strerror or error}", 1) from None
    figures = len(written) - 2
    print(f"wrote {written['html']}")
    print(f"wrote {written['markdown']}")
    print(f"wrote {figures} figure(s) in {written['html'].parent / 'figures'}")
    return 0
