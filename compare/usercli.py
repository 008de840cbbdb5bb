"""The `--model` flags of `mnist-compare check` and how they become `ModelCheckOptions`.

Precedence as in `run`: defaults < `--config FILE.toml` ([model] table, batch_size,
seed) < flags; the learning rate defaults per optimizer (compare.runconfig).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compare.cli import non_negative_int, positive_int
from scratch.config import ACTIVATIONS, DTYPES, LOSSES, OPTIMIZERS

MODEL_HELP = (
    "check YOUR network instead of this project's: FILE.py:CLASS or package.module:CLASS "
    "(a class or a function returning the network). THIS RUNS YOUR PYTHON FILE in this "
    "process: only pass code you trust. Layouts accepted: get_weights/set_weights/"
    "train_step/predict_proba (Keras layout); the textbook (Nielsen) weights/biases/"
    "feedforward/update_mini_batch; params + gradients(x, y). See docs/check.md"
)
# flag dest -> key of the [model] table (None: top level of the config file)
FLAG_KEYS = {
    "activation": "activation", "loss": "loss", "optimizer": "optimizer",
    "lr": "learning_rate", "l2": "l2", "hidden": "hidden_sizes",
}  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags that say what the learner's network is meant to be."""
    group = parser.add_argument_group("checking your own network (--model)")
    group.add_argument("--model", metavar="FILE.py:CLASS", help=MODEL_HELP)
    group.add_argument("--activation", choices=ACTIVATIONS, help="hidden activation (relu)")
    group.add_argument("--loss", choices=LOSSES, help="crossentropy (softmax) or mse (sigmoid)")
    group.add_argument("--optimizer", choices=OPTIMIZERS, help="the update rule meant (sgd)")
    group.add_argument("--lr", type=float, help="Keras learning rate (default per optimizer)")
    group.add_argument("--l2", type=float, help="L2 factor on the kernels (default 0)")
    group.add_argument("--dtype", choices=DTYPES, help="default: your weights' dtype")
    group.add_argument(
        "--init-seed", type=non_negative_int, default=0, help="seeds NumPy/random before "
        "your constructor runs (default 0)",
    )  # fmt: skip
    group.add_argument("--config", metavar="FILE.toml", help="[model] table, batch_size, seed")
    group.add_argument(
        "--limit-train",
        type=positive_int,
        metavar="N",
        help="train on the first N shuffled images only",
    )


MODEL_ONLY = ("activation", "loss", "optimizer", "lr", "l2", "dtype", "config", "limit_train")


def reject_model_flags(args: argparse.Namespace) -> None:
    """The flags that describe a learner's network mean nothing without --model."""
    from compare.cli import CliError

    given = [f"--{d.replace('_', '-')}" for d in MODEL_ONLY if getattr(args, d, None) is not None]
    if given or args.init_seed:
        shown = ", ".join(given or ["--init-seed"])
        raise CliError(f"{shown} describe your own network: give --model FILE.py:CLASS too")


def options_from_args(args: argparse.Namespace):
    """ModelCheckOptions from the parsed flags (defaults < --config < flags)."""
    from compare.runconfig import load_toml, resolve
    from compare.usercheck import DEFAULT_STEPS, ModelCheckOptions

    file_layer = load_toml(args.config) if args.config else {}
    flags: dict = {"model": {}}
    for dest, key in FLAG_KEYS.items():
        if getattr(args, dest, None) is not None:
            flags["model"][key] = getattr(args, dest)
    if args.batch_size is not None:
        flags["batch_size"] = args.batch_size
    if args.seed is not None:
        flags["seed"] = args.seed
    config = resolve(file_layer, flags)
    model_table = file_layer.get("model", {})
    return ModelCheckOptions(
        model=args.model,
        config=config.model,
        dtype=args.dtype or model_table.get("dtype"),
        lr_given=args.lr is not None or "learning_rate" in model_table,
        batch_size=config.batch_size,
        steps=args.steps or DEFAULT_STEPS,
        init_seed=args.init_seed,
        seed=config.seed,
        data_dir=args.data_dir,
        limit_train=args.limit_train,
        command=" ".join(["mnist-compare", *sys.argv[1:]]) if sys.argv[1:2] == ["check"]
        else f"mnist-compare check --model {args.model}",
    )  # fmt: skip


def reject_project_flags(args: argparse.Namespace) -> None:
    """The flags of the project's own check mean nothing with --model."""
    from compare.cli import CliError

    given = [flag for flag, on in (
        ("--quick", args.quick), ("--no-gradients", args.no_gradients), ("--no-cnn", args.no_cnn),
        ("--optimizers", args.optimizers != OPTIMIZERS),
        ("--dtypes", args.dtypes != ("float64", "float32")),
    ) if on]  # fmt: skip
    if given:
        raise CliError(f"{', '.join(given)} check this project's network; with --model use "
                       "--optimizer, --dtype and --steps")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """`check --model`: print the table, notes and verdict; 0 equal, 1 different."""
    from compare.check import format_result, write_json
    from compare.usercheck import print_progress, run_model_check
    from compare.usermodel import parse_target

    reject_project_flags(args)
    options = options_from_args(args)
    parse_target(args.model)  # a malformed spec is refused before "it is executed"
    print(f"mnist-compare check: running your code from {args.model} (it is executed) ...",
          file=sys.stderr)  # fmt: skip
    result, _ = run_model_check(options, progress=print_progress)
    print(format_result(result))
    if args.json:
        print(f"figures written to {write_json(result, Path(args.json).expanduser())}")
    return 0 if result.passed else 1
