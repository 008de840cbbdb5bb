"""`mnist-compare check`: evidence that the scratch network computes what Keras computes.

Two kinds of rows, each PASS or FAIL (see compare/check_gradients.py and
compare/check_lockstep.py for the exact criteria, docs/check.md for the reasons):

- gradient: scratch backprop vs finite differences, and vs `tf.GradientTape` of the
  Keras twin, for every activation x loss, with and without L2 (float64);
- lockstep: both networks from the same initial weights on the same real-MNIST
  batches, per optimizer and dtype, compared at steps 1, 10, 100, 1000 and the end.

`run_check(options)` returns a `CheckResult`; `format_result` renders the table and
`write_json` stores every figure (atomically).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from compare import check_cnn
from compare.batches import BatchSchedule
from compare.check_gradients import gradient_rows
from compare.check_lockstep import F32_ABS_LIMIT, F32_EARLY_STEPS, lockstep_rows
from compare.environment import environment
from compare.runconfig import DEFAULT_LEARNING_RATE
from compare.threads import blas_threads
from scratch.config import OPTIMIZERS, ModelConfig
from scratch.serialization import atomic_path

QUICK_STEPS = 200
QUICK_TRAIN_IMAGES = 6400  # 200 batches of 32: the quick run is one (small) epoch
GRADIENT_BATCH = 16
FLOAT32_NOTE = (
    "float32: rounding differences (~1e-7, from different summation orders in NumPy's BLAS "
    "and TensorFlow's Eigen kernels) stay below 1e-5 for the first hundred steps, then grow "
    "chaotically, as in any two float32 trainings that differ in the last bit; the models "
    "still agree on almost every test prediction and reach the same accuracy."
)


@dataclass(frozen=True)
class CheckOptions:
    """What to check. `steps=None` means one full epoch of the training split."""

    data_dir: str | None = None
    steps: int | None = None
    batch_size: int = 32
    optimizers: tuple[str, ...] = OPTIMIZERS
    dtypes: tuple[str, ...] = ("float64", "float32")
    hidden: tuple[int, ...] = (128,)
    quick: bool = False
    seed: int = 0
    gradients: bool = True
    cnn: bool = True
    command: str = "mnist-compare check"


@dataclass
class CheckResult:
    passed: bool
    rows: list[dict]
    header: dict
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"passed": self.passed, **self.header, "notes": self.notes, "rows": self.rows}


def _splits(options: CheckOptions, dtype: str, cache: dict):
    from compare.data import load_mnist, make_splits

    if "data" not in cache:
        cache["data"] = load_mnist(options.data_dir)
    limit = QUICK_TRAIN_IMAGES if options.quick else None
    # val_size=0: the check never validates, so it trains on all 60,000 images
    # (1,875 steps of 32 per epoch).
    key = ("splits", dtype)
    if key not in cache:
        cache[key] = make_splits(
            cache["data"], val_size=0, seed=options.seed, dtype=dtype, limit_train=limit
        )
    return cache[key]


def _header(options: CheckOptions, splits, steps: int, schedule: BatchSchedule) -> dict:
    return {
        "command": options.command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "data": {"source": str(splits.source), "verified": splits.verified, **splits.sizes()},
        "options": asdict(options),
        "hidden_sizes": list(options.hidden),
        "batch_size": options.batch_size,
        "steps": steps,
        "steps_per_epoch": schedule.steps_per_epoch,
    }


# One more float64 lockstep run through the paths the four above leave out: the MSE
# loss with sigmoid outputs, he_normal initial weights, the L2 penalty inside every
# step, and the float32 InverseTimeDecay learning-rate schedule.
RARER_PATHS = ModelConfig(
    optimizer="momentum", learning_rate=0.1, momentum=0.9, loss="mse", init="he_normal",
    l2=1e-3, lr_decay=1e-3, dtype="float64",
)  # fmt: skip
RARER_PATHS_NOTE = (
    "momentum*: the same lockstep run with the rarer paths: mse loss (sigmoid outputs), "
    "he_normal init, l2 1e-3 and lr_decay 1e-3 (lr 0.1, momentum 0.9)"
)


def run_check(options: CheckOptions, on_row: Callable[[dict], None] | None = None) -> CheckResult:
    """Run every gradient and lockstep check; `on_row` sees each row as it is made.

    NumPy's OpenBLAS runs single-threaded meanwhile (see compare/threads.py).
    """
    with blas_threads(1):
        return _run_check(options, on_row)


def _run_check(options: CheckOptions, on_row: Callable[[dict], None] | None) -> CheckResult:
    cache: dict = {}
    first = _splits(options, options.dtypes[0] if options.dtypes else "float64", cache)
    schedule = BatchSchedule(len(first.y_train), options.batch_size, seed=options.seed)
    default_steps = QUICK_STEPS if options.quick else schedule.steps_per_epoch
    steps = options.steps or default_steps
    cnn_default = check_cnn.QUICK_LOCKSTEP_STEPS if options.quick else check_cnn.LOCKSTEP_STEPS
    cnn_steps = options.steps or cnn_default
    rows: list[dict] = []

    def add(new_rows: list[dict]) -> None:
        for row in new_rows:
            rows.append(row)
            if on_row is not None:
                on_row(row)

    if options.gradients:
        x, y = first.x_train[:GRADIENT_BATCH], first.y_train[:GRADIENT_BATCH]
        add(gradient_rows(x, y, options.hidden, options.quick, seed=options.seed))
        if options.cnn:
            add(check_cnn.gradient_rows(x, y, options.quick, seed=options.seed))
    for dtype in options.dtypes:
        splits = _splits(options, dtype, cache)
        for optimizer in options.optimizers:
            config = ModelConfig(
                hidden_sizes=options.hidden,
                optimizer=optimizer,
                learning_rate=DEFAULT_LEARNING_RATE[optimizer],
                dtype=dtype,
            )
            rows += lockstep_rows(config, splits, schedule, steps, options.seed, on_row)
        if dtype == "float64" and "momentum" in options.optimizers:
            config = replace(RARER_PATHS, hidden_sizes=options.hidden)
            rows += lockstep_rows(config, splits, schedule, steps, options.seed, on_row)
        if options.cnn:
            for config in check_cnn.lockstep_configs((dtype,), options.optimizers):
                rows += lockstep_rows(config, splits, schedule, cnn_steps, options.seed, on_row)
    grew = [r for r in rows if r.get("dtype") == "float32" and r.get("check") == "lockstep"
            and not r["max_abs_weight_diff"] <= F32_ABS_LIMIT]  # fmt: skip
    notes = [FLOAT32_NOTE] if grew else []
    if any(row.get("variant") for row in rows):
        notes.append(RARER_PATHS_NOTE)
    notes += flip_notes(rows)
    passed = bool(rows) and all(row["passed"] for row in rows)
    header = _header(options, first, steps, schedule) | {"cnn_steps": cnn_steps}
    return CheckResult(passed, rows, header, notes)


def flip_notes(rows: list[dict]) -> list[str]:
    """One note per lockstep run in which a ReLU unit or a pool window flipped sides of
    its kink between the models (compare/check_kinks.py)."""
    notes, seen = [], set()
    for row in rows:
        key = (row.get("network", "mlp"), row.get("dtype"), row.get("optimizer"))
        step = row.get("parting_flip_step")
        if row["check"] != "lockstep" or step is None or key in seen:
            continue
        seen.add(key)
        size, layer = row["parting_flip_size"], row["parting_flip_layer"]
        if layer.startswith("pool"):
            what = (
                f"a window of {layer} held two maxima {size:.1e} apart, and the two models "
                "picked different ones (rounding noise), so they sent that window's gradient "
                "to different pixels"
            )
        else:
            what = (
                f"a unit of {layer} had pre-activation |Z| = {size:.1e} with opposite signs in "
                "the two models (rounding noise straddling the kink), so one model passed that "
                "unit's gradient and the other blocked it"
            )
        notes.append(
            f"{'CNN ' if key[0] == 'cnn' else ''}{key[1]} {key[2]}: at step {step} {what}; from "
            "that step on the weights differ by far more than rounding"
            + (", so the 1e-5 bound is judged only before it." if step <= F32_EARLY_STEPS else ".")
        )
    return notes


def _fmt(value, spec: str = ".1e") -> str:
    return "-" if value is None else format(value, spec)


def format_gradient_row(row: dict) -> str:
    l2 = f"{row['l2']:g}"
    return (
        f"  {row['activation']:<8} {row['loss']:<13} {l2:<6} {row['reference']:<19} "
        f"{_fmt(row['relative_error']):>9} {_fmt(row['limit'], '.0e'):>7} "
        f"{_fmt(row['loss_diff']):>9}  {'PASS' if row['passed'] else 'FAIL'}"
        + (f"  max|diff| {_fmt(row['max_abs_error'])}" if "max_abs_error" in row else "")
    )


def format_lockstep_row(row: dict) -> str:
    return (
        f"  {row['dtype']:<8} {row['optimizer']:<9} {row['learning_rate']:<6g} {row['steps']:>6} "
        f"{_fmt(row['max_abs_weight_diff']):>9} {_fmt(row['max_rel_weight_diff']):>9} "
        f"{_fmt(row['loss_diff']):>9} {row['prediction_agreement']:>8.2%} "
        f"{row['scratch_test_accuracy']:>8.2%} {row['keras_test_accuracy']:>8.2%}  "
        f"{row['criterion']:<40} {'PASS' if row['passed'] else 'FAIL'}"
    )


def format_cnn_gradient_row(row: dict) -> str:
    tied = "" if row.get("tied_windows") is None else f" ({row['tied_windows']:.0%} tied)"
    if row.get("kink_skips"):
        samples = "sample" if row["kink_skips"] == 1 else "samples"
        tied += f" ({row['kink_skips']} {samples} skipped: +-h crossed a kink)"
    return (
        f"  {row['layer']:<14} {row['reference']:<19} {_fmt(row['relative_error']):>9} "
        f"{_fmt(row['limit'], '.0e'):>7} {_fmt(row['loss_diff']):>9}  "
        f"{'PASS' if row['passed'] else 'FAIL'}  {row['stack']}{tied}"
    )


CNN_GRADIENT_TITLE = (
    "  layer          reference           rel.error   limit loss diff  result  network"
)
GRADIENT_TITLE = (
    "  activ.   loss          l2     reference           rel.error   limit loss diff  result"
)
LOCKSTEP_TITLE = (
    "  dtype    optimizer lr       step   max|dW|  max rel  loss diff    agree  scratch "
    "   keras  criterion                                result"
)


def format_result(result: CheckResult) -> str:
    """The whole report as plain text (what the command prints)."""
    head = result.header
    env = head["environment"]
    sizes = "-".join(str(s) for s in (784, *head["hidden_sizes"], 10))
    lines = [
        f"mnist-compare check: {head.get('subject', 'scratch network')} vs Keras {env['keras']} "
        f"(TensorFlow {env['tensorflow']}), NumPy {env['numpy']}",
        f"data: {head['data']['source']} ({head['data']['train']:,} train / "
        f"{head['data']['test']:,} test images, verified={head['data']['verified']})",
    ]
    rows = {(r["check"], r.get("network", "mlp")): [] for r in result.rows}
    for row in result.rows:
        rows[row["check"], row.get("network", "mlp")].append(row)
    if ("gradient", "mlp") in rows:
        dtype, batch = head.get("dtype", "float64"), head.get("gradient_batch", GRADIENT_BATCH)
        lines += ["", f"Gradients: {dtype}, {sizes}, a batch of {batch} real images"]
        lines += [GRADIENT_TITLE, *map(format_gradient_row, rows["gradient", "mlp"])]
    if ("gradient", "cnn") in rows:
        lines += ["", f"CNN gradients: float64, a batch of {GRADIENT_BATCH} real images"]
        lines += [CNN_GRADIENT_TITLE, *map(format_cnn_gradient_row, rows["gradient", "cnn"])]
    if ("lockstep", "mlp") in rows:
        lines += [
            "",
            f"Lockstep training: {sizes} {head.get('activation', 'relu')}/"
            f"{head.get('loss', 'crossentropy')}, batch {head['batch_size']}, "
            f"{head['steps']:,} steps ({head['steps'] / head['steps_per_epoch']:.2f} epochs); "
            "test accuracy of each model over the 10,000 test images",
            LOCKSTEP_TITLE.replace("scratch", "  yours") if "subject" in head else LOCKSTEP_TITLE,
            *map(format_lockstep_row, rows["lockstep", "mlp"]),
        ]
    if ("lockstep", "cnn") in rows:
        lines += [
            "",
            f"CNN lockstep training: {','.join(check_cnn.LOCKSTEP_LAYERS)}, batch "
            f"{head['batch_size']}, {head['cnn_steps']:,} steps",
            LOCKSTEP_TITLE,
            *map(format_lockstep_row, rows["lockstep", "cnn"]),
        ]
    lines += ["", *(f"note: {note}" for note in result.notes)]
    failed = sum(not r["passed"] for r in result.rows)
    verdict = "PASSED" if result.passed else f"FAILED ({failed} of {len(result.rows)} rows)"
    lines.append(f"check {verdict}: {len(result.rows)} rows")
    return "\n".join(lines)


def write_json(result: CheckResult, path: str | Path) -> Path:
    """Write `result.to_json()` atomically (temp file in the same folder, then rename)."""
    from compare.writeerrors import one_line_write_errors

    target = Path(path)
    with one_line_write_errors(f"--json {target}"), atomic_path(target) as temp:
        temp.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return target
