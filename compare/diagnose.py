"""Name the learner's bug from the pattern of the difference (`check --model`).

Every rule is measured, not guessed: it compares the learner's numbers (their outputs,
their gradients, the step their code took) with what the bug it names would give at the
same weights on the same batch (`bugmodels.gradients`, scratch's optimizers) or with a
simple transform of the Keras reference (a factor of the batch size, of -1, of lr, a
transpose). A rule matches when the two agree to MATCH (norm-wise, every array).

Rules, tried in this order (the first that matches names the bug):
hidden_state, weight_gradient_transposed, bias_gradient_wrong_axis,
gradient_not_averaged, gradient_averaged_twice, sign_flipped, the bug models
(derivative_at_activation, derivative_applied_twice, extra_softmax_derivative,
l2_on_biases), then on the first step where the weights part: the same on the step,
learning_rate_applied_twice, stale_weights, update_rule_differs; else unrecognised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compare import bugmodels
from compare.check_gradients import norm_error
from scratch.config import ModelConfig
from scratch.keras_rounding import keras_cast
from scratch.optimizers import make_optimizer

MATCH = {"float64": 1e-6, "float32": 1e-3}

HINTS = {
    "hidden_state": "the outputs before any step differ from Keras's at the weights the class "
    "reports: it computes with weights it does not report (or another forward pass than "
    "--activation/--loss say)",
    "weight_gradient_transposed": "dW must have W's shape: A_prev.T @ dZ in Keras layout "
    "(dZ @ A_prev.T for column vectors); yours is its transpose",
    "bias_gradient_wrong_axis": "sum dZ over the batch axis (axis 0 for rows, axis 1 for "
    "columns), one entry per unit; yours is summed over the units",
    "gradient_not_averaged": "divide the summed gradient by the batch size: Keras averages "
    "the loss over the batch",
    "gradient_averaged_twice": "the gradient is divided by the batch size twice; divide once",
    "sign_flipped": "the step goes up the gradient, so the loss rises: use W -= lr * dW "
    "(and dZ = P - Y, not Y - P)",
    "derivative_at_activation": "take the activation's derivative at the pre-activation Z "
    "(sigmoid'(z)), not at the activation a = sigmoid(z)",
    "derivative_applied_twice": "multiply by the activation's derivative once per layer, not twice",
    "extra_softmax_derivative": "softmax + cross-entropy gives dZ = (P - Y) / batch, softmax's "
    "derivative included; remove the extra P * (1 - P) factor",
    "l2_on_biases": "the L2 penalty (l2 * sum W**2) applies to the kernels, not the biases",
    "learning_rate_applied_twice": "the step is lr times the right one: the learning rate is "
    "multiplied in twice",
    "stale_weights": "compute every layer's gradient before updating any weight: an earlier "
    "layer's gradient used a later layer's already-updated W",
    "update_rule_differs": "the gradient is right but the step is not the {optimizer} rule: {rule}",
    "unrecognised": "no known bug pattern fits; compare the arrays listed",
}
RULES = {
    "sgd": "W -= lr * dW",
    "momentum": "v = momentum * v - lr * dW; W += v",
    "nesterov": "v = momentum * v - lr * dW; W += momentum * v - lr * dW",
    "adam": "m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); W -= lr sqrt(1 - b2^t)/(1 - b1^t) "
    "m / (sqrt(v) + eps), moments kept across steps",
}


@dataclass
class Diagnosis:
    name: str
    hint: str
    array: str | None  # the array to look at, named as the learner's code names it
    evidence: str  # the measured numbers behind it

    def to_json(self) -> dict:
        return {"name": self.name, "hint": self.hint, "array": self.array,
                "evidence": self.evidence}  # fmt: skip


@dataclass
class Observation:
    """What one comparison measured: the learner's arrays and the reference at `weights`."""

    weights: list[np.ndarray]  # both models' weights before (Keras layout)
    x: np.ndarray
    y: np.ndarray
    step: int  # 0: the gradient batch before training; t: lockstep step t
    user_grads: list[np.ndarray] | None = None
    user_delta: list[np.ndarray] | None = None  # weights after their step - weights before
    keras_delta: list[np.ndarray] | None = None


@dataclass
class Evidence:
    config: ModelConfig
    batch_size: int
    array_names: list[str]
    forward_error: float | None = None
    first: Observation | None = None  # step 0
    departure: Observation | None = None  # the first lockstep step beyond rounding
    user_losses: list[float] = field(default_factory=list)


def diagnose(evidence: Evidence) -> Diagnosis:
    """The first rule that the measurements match."""
    tol = MATCH[evidence.config.dtype]
    if evidence.forward_error is not None and evidence.forward_error > tol:
        return _found("hidden_state", None, f"outputs differ by {evidence.forward_error:.1e}")
    for observation in (evidence.first, evidence.departure):
        if observation is not None and observation.user_grads is not None:
            found = _gradient_rules(evidence, observation, tol)
            if found is not None:
                return found
    if evidence.departure is not None and evidence.departure.user_delta is not None:
        found = _step_rules(evidence, evidence.departure, tol)
        if found is not None:
            return found
    losses = evidence.user_losses
    if len(losses) >= 4 and losses[-1] > losses[0] and np.mean(np.diff(losses)) > 0:
        return _found("sign_flipped", None, f"your loss rose from {losses[0]:.4g} to "
                      f"{losses[-1]:.4g} (no exact pattern matched)")  # fmt: skip
    return _unrecognised(evidence)


def _found(name: str, array: str | None, evidence: str, **fields: str) -> Diagnosis:
    return Diagnosis(name, HINTS[name].format(**fields), array, evidence)


def _unrecognised(evidence: Evidence) -> Diagnosis:
    """No rule fits: say so, and show every array's error and ratio to Keras's."""
    observation = evidence.departure or evidence.first
    if observation is None:
        return _found("unrecognised", None, "nothing was measured beyond the outputs")
    stepped = observation.user_delta is not None
    user = observation.user_delta if stepped else observation.user_grads
    ref = observation.keras_delta if stepped else _reference(evidence, observation)
    if user is None or ref is None:
        return _found("unrecognised", None, "see the arrays in the table")
    parts, errors = [], []
    for name, u, r in zip(evidence.array_names, user, ref, strict=False):
        same = np.shape(u) == np.shape(r)
        errors.append(norm_error(u, r) if same else 1.0)
        ratio = f", ratio {_ratio([u], [r]):.3g}" if same else f", shape {np.shape(u)}"
        parts.append(f"{name}: rel.error {errors[-1]:.1e}{ratio}")
    what = f"step {observation.step}" if stepped else "gradients before training"
    worst = evidence.array_names[int(np.argmax(errors))]
    return _found("unrecognised", worst, f"{what} vs Keras's: " + "; ".join(parts))


def _reference(evidence: Evidence, observation: Observation, **bug) -> list[np.ndarray]:
    return bugmodels.gradients(observation.weights, observation.x, observation.y,
                               evidence.config, **bug)  # fmt: skip


def _departing(user, ref, names, tol) -> str | None:
    """The first array (from the output layer backwards, kernel before bias) where `user`
    departs from `ref`."""
    order = [i for layer in range(len(ref) - 2, -1, -2) for i in (layer, layer + 1)]
    for index in order:
        if not _same(user[index], ref[index], tol):
            return names[index]
    return None


def _same(user, ref, tol: float) -> bool:
    return np.shape(user) == np.shape(ref) and norm_error(user, ref) <= tol


def _all_same(user, ref, tol: float) -> bool:
    return len(user) == len(ref) and all(_same(u, r, tol) for u, r in zip(user, ref, strict=True))


def _scale_rules(user, ref, evidence: Evidence, tol, what: str) -> Diagnosis | None:
    """The whole list is ref times a telling factor."""
    n = evidence.batch_size
    factors = [("gradient_not_averaged", float(n)), ("gradient_averaged_twice", 1.0 / n),
               ("sign_flipped", -1.0)]  # fmt: skip
    if what == "step":
        factors.append(("learning_rate_applied_twice", evidence.config.learning_rate))
    matched = [
        name
        for name, factor in factors
        if all(norm_error(u, factor * r) <= tol for u, r in zip(user, ref, strict=True))
    ]
    if not matched:
        return None
    also = f"; the same factor fits {', '.join(matched[1:])}" if matched[1:] else ""
    return _found(matched[0], evidence.array_names[-2], f"your {what} / Keras's = "
                  f"{_ratio(user, ref):.6g} in every array (batch size {n}){also}")  # fmt: skip


def _optimizer_factor(config: ModelConfig, step: int) -> tuple[float, str] | None:
    """The step-1 ratio (theirs / Keras's) of a telling variant of the named optimizer."""
    if step != 1:
        return None
    if config.optimizer in ("momentum", "nesterov"):
        return 1 - config.momentum, "v = momentum * v + (1 - momentum) * g, an average"
    if config.optimizer == "adam":
        beta_1, beta_2 = (
            float(keras_cast(b, np.dtype(np.float64))) for b in (config.beta_1, config.beta_2)
        )  # as Keras's alpha has them
        return ((1 - beta_1) / np.sqrt(1 - beta_2), "Adam without bias correction (or "
                "moments reset every batch)")  # fmt: skip
    return None


def _ratio(user, ref) -> float:
    u = np.concatenate([np.ravel(a) for a in user])
    r = np.concatenate([np.ravel(a) for a in ref])
    return float(u @ r / (r @ r)) if r @ r else float("nan")


def _shape_rules(user, ref, evidence: Evidence, tol) -> Diagnosis | None:
    for index, (u, r) in enumerate(zip(user, ref, strict=False)):
        name = evidence.array_names[index]
        u = np.asarray(u)
        if u.ndim == 2 and u.shape != r.shape and _same(u.T, r, tol):
            return _found("weight_gradient_transposed", name,
                          f"{name} gradient has shape {u.shape}, W has {r.shape}; "
                          f"its transpose matches Keras's")  # fmt: skip
        if r.ndim == 1 and u.size != r.size and evidence.batch_size in u.shape:
            return _found("bias_gradient_wrong_axis", name,
                          f"{name} gradient has shape {u.shape}: one entry per sample "
                          f"(batch {evidence.batch_size}), not per unit ({r.size})")  # fmt: skip
        if u.ndim == 2 and u.shape == r.shape and not _same(u, r, tol) and _same(u.T, r, tol):
            return _found("weight_gradient_transposed", name, f"{name} gradient equals "
                          "the transpose of Keras's")  # fmt: skip
    if any(np.shape(u) != np.shape(r) for u, r in zip(user, ref, strict=False)):
        shapes = [np.shape(u) for u in user]
        return _found("unrecognised", None, f"gradient shapes {shapes} do not match the "
                      f"weights {[r.shape for r in ref]}")  # fmt: skip
    return None


def _gradient_rules(evidence: Evidence, observation: Observation, tol) -> Diagnosis | None:
    user = observation.user_grads
    ref = _reference(evidence, observation)
    if len(user) != len(ref):
        return _found("unrecognised", None, f"{len(user)} gradient arrays for {len(ref)} weights")
    found = _shape_rules(user, ref, evidence, tol)
    if found is not None or _all_same(user, ref, tol):
        return found
    found = _scale_rules(user, ref, evidence, tol, "gradient")
    if found is not None:
        return found
    for name, bug in bugmodels.hypotheses(evidence.config):
        hypothesis = _reference(evidence, observation, **bug)
        if _all_same(user, hypothesis, tol):
            array = _departing(user, ref, evidence.array_names, tol)
            where = f" ({bug['scope']} layers)" if "scope" in bug else ""
            error = _max_error(user, hypothesis)
            return _found(name, array, f"your gradients equal this bug's{where} to "
                          f"{error:.1e} at step {observation.step}")  # fmt: skip
    return None


def _max_error(a, b) -> float:
    return max(norm_error(u, v) for u, v in zip(a, b, strict=True))


def expected_step(evidence: Evidence, observation: Observation, grads) -> list | None:
    """The step the named optimizer takes from `grads`, when its state is known (sgd, or
    the first step of any optimizer); None otherwise."""
    config = evidence.config
    if config.optimizer != "sgd" and observation.step != 1:
        return None
    params = [np.array(w, dtype=config.dtype) for w in observation.weights]
    make_optimizer(config, params).step(params, [np.asarray(g, config.dtype) for g in grads],
                                        observation.step)  # fmt: skip
    return [p - w for p, w in zip(params, observation.weights, strict=True)]


def _step_rules(evidence: Evidence, observation: Observation, tol) -> Diagnosis | None:
    user, keras = observation.user_delta, observation.keras_delta
    names = evidence.array_names
    variant = _optimizer_factor(evidence.config, observation.step)
    if variant and _all_same(user, [variant[0] * k for k in keras], tol):
        optimizer = evidence.config.optimizer
        return _found("update_rule_differs", names[-2], f"your step 1 / Keras's = "
                      f"{_ratio(user, keras):.4g} = {variant[0]:.4g}, as {variant[1]}",
                      optimizer=optimizer, rule=RULES[optimizer])  # fmt: skip
    found = _scale_rules(user, keras, evidence, tol, "step")
    if found is not None:
        return found
    hypotheses = bugmodels.hypotheses(evidence.config)
    if len(observation.weights) > 2:
        stale = [w + d for w, d in zip(observation.weights, user, strict=True)][0::2]
        hypotheses.append(("stale_weights", {"backward_kernels": stale}))
    for name, bug in hypotheses:
        step = expected_step(evidence, observation, _reference(evidence, observation, **bug))
        if step is not None and _all_same(user, step, tol):
            array, error = _departing(user, keras, names, tol), _max_error(user, step)
            return _found(name, array, f"your step {observation.step} equals this bug's "
                          f"to {error:.1e}")  # fmt: skip
    grads = observation.user_grads
    if grads is None or not _all_same(grads, _reference(evidence, observation), tol):
        return None
    optimizer = evidence.config.optimizer
    return _found("update_rule_differs", _departing(user, keras, names, tol),
                  f"at step {observation.step} your gradients match Keras's, your step / "
                  f"Keras's = {_ratio(user, keras):.4g}", optimizer=optimizer,
                  rule=RULES[optimizer])  # fmt: skip
