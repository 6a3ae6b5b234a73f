"""The three paradigms side by side on one frozen dual encoder (the survey's case study).

f = :class:`~reprogrammability.implementations.models.dual_encoder.DualEncoder`: EfficientNet-Lite0
image tower g (ImageNet) + all-MiniLM-L6-v2 text tower h + a fitted text→image map A, logits
``z_c = s · cos(g(x), A h(t_c))`` over class prompts t_c. Every method below is a registered
implementation composed with :class:`Reprogrammer` / :class:`Trainer`; all see the same frozen f,
the same training images (per seed) and the same test images:

* prompt instruction (λ fixed): one template, a template ensemble, class descriptors (DCLIP's mean
  score, CuPL's mean embedding), hand-written in ``implementations/data/descriptors``;
* prompt tuning (context on h's token embeddings): CoOp, CoCoOp (meta-net on g(x)), KgCoOp;
* model reprogramming (program on the image): a padding program with ω = identity over the class
  prompts, and ILM-VP (the same program, ω = frequency label mapping from the image tower's 1000
  ImageNet classes, re-fitted each epoch);
* combination: the padding program and CoOp's context, trained jointly, ω = identity.

f's fingerprint (SHA-256 of every parameter and buffer) is taken before the runs and after each one.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

__all__ = ["Budget", "BUDGETS", "MethodRow", "METHOD_ROWS", "TaskData", "load_task", "run_case_study", "table_rows"]

CANVAS = 112
"""f's input size (pixels): the images of the fixed and prompt-tuning methods are resized to it."""
PROGRAM_IMAGE = 64
"""The image inside the padding program's canvas (the frame around it is the program)."""


@dataclass(frozen=True)
class Budget:
    """Data and optimisation budget of one run (the same for every trained method)."""

    shots: int
    """training images per class (per seed: a stratified draw under that seed)."""
    test: int
    """test images (one fixed stratified draw, seed 0, the same for every method and seed)."""
    epochs: int
    batch_size: int
    learning_rates: dict[str, float] = field(default_factory=dict)
    """Adam step size per kind of learned part: ``context`` (text-side vectors), ``program`` (image program)."""


BUDGETS = {
    "full": Budget(shots=16, test=400, epochs=3, batch_size=32, learning_rates={"context": 2e-2, "program": 0.05}),
    "quick": Budget(shots=2, test=40, epochs=1, batch_size=20, learning_rates={"context": 2e-2, "program": 0.05}),
}


@dataclass
class TaskData:
    """Images in [0, 1] (N, 3, 28, 28), labels (N,), and the task's hand-written prompts."""

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    prompts: dict[str, Any]

    @property
    def class_names(self) -> list[str]:
        return list(self.prompts["class_names"])


def load_task(task: str, budget: Budget, seed: int) -> TaskData:
    """Fashion-MNIST or scikit-learn's digits: ``budget.shots`` training images per class drawn under ``seed``."""
    from reprogrammability.implementations.data.descriptors import task_prompts
    from reprogrammability.implementations.data.images import load_digits_images, load_fashion_mnist

    prompts = task_prompts(task)
    classes = len(prompts["class_names"])
    if task == "fashion-mnist":
        train = load_fashion_mnist(split="train", channels=3)
        test = load_fashion_mnist(split="test", channels=3)
    else:
        train = load_digits_images(size=28, split="train", seed=0, channels=3)
        test = load_digits_images(size=28, split="test", seed=0, channels=3)
    train = train.subset(min(budget.shots * classes, len(train)), seed=seed)
    test = test.subset(min(budget.test, len(test)), seed=0)
    return TaskData(task, train.inputs.float(), train.labels, test.inputs.float(), test.labels, prompts)


def normalised(images: Tensor) -> Tensor:
    """[0, 1] images → f's input: resized to :data:`CANVAS`, normalised with ImageNet's mean and std."""
    from reprogrammability.implementations.data.images import prepare_images
    from reprogrammability.implementations.models.dual_encoder import IMAGENET_MEAN, IMAGENET_STD

    resized = prepare_images(images, CANVAS)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (resized - mean) / std


@dataclass
class Context:
    """What every method's builder needs: the frozen dual encoder, its tokenizer, the task's prompts."""

    model: Any
    tokenizer: Any
    data: TaskData
    seed: int


@dataclass(frozen=True)
class MethodRow:
    """One row of the table: how to build the method and whether it is trained.

    ``build(context) -> (reprogrammer, loss_fn or None)``; ``inputs``: ``"image"`` (normalised
    :data:`CANVAS` images) or ``"program"`` (the [0, 1] images a padding program takes);
    ``learned``: the kind of step size (``"context"``, ``"program"``) or ``None`` for a fixed method.
    """

    key: str
    paradigm: str
    label: str
    method_ids: tuple[str, ...]
    build: Callable[[Context], tuple[Any, Any]]
    inputs: str = "image"
    learned: str | None = None


def _template_prefix(template: str) -> str:
    """The words before ``{}``: CoOp's context initialisation ("a photo of a {}." → "a photo of a")."""
    return template.split("{}")[0].strip()


def _zero_shot(ctx: Context):
    from reprogrammability.implementations.prompt_instruction import clip_zero_shot

    reprogrammer = clip_zero_shot.build(
        ctx.model, tokenizer=ctx.tokenizer, class_names=ctx.data.class_names, template=ctx.data.prompts["template"]
    )
    return reprogrammer, None


def _ensemble(ctx: Context):
    from reprogrammability.implementations.prompt_instruction import prompt_ensemble

    templates = list(ctx.data.prompts["templates"])
    return prompt_ensemble.build(
        ctx.model, tokenizer=ctx.tokenizer, class_names=ctx.data.class_names, templates=templates
    ), None


def _dclip(ctx: Context):
    from reprogrammability.implementations.prompt_instruction import dclip

    descriptors = ctx.data.prompts["descriptors"]
    return dclip.build(
        ctx.model, tokenizer=ctx.tokenizer, class_names=ctx.data.class_names, descriptors=descriptors
    ), None


def _cupl(ctx: Context):
    from reprogrammability.implementations.prompt_instruction import cupl
    from reprogrammability.implementations.prompt_instruction.vision_language import descriptor_prompt

    descriptors = ctx.data.prompts["descriptors"]
    sentences = {name: [descriptor_prompt(name, d) + "." for d in descriptors[name]] for name in ctx.data.class_names}
    return cupl.build(
        ctx.model, tokenizer=ctx.tokenizer, class_names=ctx.data.class_names, descriptions=sentences
    ), None


def _context_options(ctx: Context) -> dict[str, Any]:
    return {
        "tokenizer": ctx.tokenizer,
        "class_names": ctx.data.class_names,
        "context_init": _template_prefix(ctx.data.prompts["template"]),
        "seed": ctx.seed,
    }


def _coop(ctx: Context):
    from reprogrammability.implementations.prompt_tuning import coop

    return coop.build(ctx.model, **_context_options(ctx)), None


def _cocoop(ctx: Context):
    from reprogrammability.implementations.prompt_tuning import cocoop

    return cocoop.build(ctx.model, **_context_options(ctx)), None


def _kgcoop(ctx: Context):
    from reprogrammability.implementations.prompt_tuning import kgcoop

    reprogrammer = kgcoop.build(ctx.model, template=ctx.data.prompts["template"], **_context_options(ctx))
    return reprogrammer, kgcoop.knowledge_guided_loss(reprogrammer)


def _program_config(classes: int) -> Any:
    from reprogrammability.implementations.models.dual_encoder import IMAGENET_MEAN, IMAGENET_STD
    from reprogrammability.implementations.reprogramming.ilm_vp import ILMVPConfig

    return ILMVPConfig(
        num_classes=classes, canvas_size=CANVAS, image_size=PROGRAM_IMAGE, mean=IMAGENET_MEAN, std=IMAGENET_STD
    )


def _class_prompt_model(ctx: Context):
    """f as a classifier over the single template's class prompts (the output space of ω = identity)."""
    from reprogrammability.framework import FrozenModel

    prompts = [ctx.data.prompts["template"].format(name) for name in ctx.data.class_names]
    return FrozenModel(ctx.model, class_prompts=prompts, tokenizer=ctx.tokenizer)


def _vr_identity(ctx: Context):
    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.alignment import IdentityAlignment
    from reprogrammability.implementations.reprogramming.ilm_vp import padding_program

    program = padding_program(_program_config(len(ctx.data.class_names)))
    reprogrammer = Reprogrammer(
        _class_prompt_model(ctx), program, IdentityAlignment(), paradigm="model-reprogramming", name="padding-vr"
    )
    return reprogrammer, None


def _vr_label_mapping(ctx: Context):
    from reprogrammability.framework import FrozenModel
    from reprogrammability.implementations.reprogramming import ilm_vp

    image_classifier = FrozenModel(ctx.model.image_encoder)  # g with its ImageNet head: 1000 source classes
    return ilm_vp.build(image_classifier, _program_config(len(ctx.data.class_names))), None


def _combination(ctx: Context):
    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.alignment import IdentityAlignment
    from reprogrammability.implementations.prompt_tuning import coop
    from reprogrammability.implementations.reprogramming.ilm_vp import padding_program

    context = coop.build(ctx.model, **_context_options(ctx))
    program = padding_program(_program_config(len(ctx.data.class_names)))
    reprogrammer = Reprogrammer(
        context.frozen,
        [program, *context.inputs],
        IdentityAlignment(),
        paradigm="model-reprogramming",
        modality="vision-language",
        name="padding-vr+coop",
    )
    return reprogrammer, None


METHOD_ROWS: tuple[MethodRow, ...] = (
    MethodRow("template", "prompt instruction", "one template", ("clip-zero-shot",), _zero_shot),
    MethodRow("ensemble", "prompt instruction", "template ensemble", ("prompt-ensemble",), _ensemble),
    MethodRow("dclip", "prompt instruction", "descriptors, mean score (DCLIP)", ("dclip",), _dclip),
    MethodRow("cupl", "prompt instruction", "descriptors, mean embedding (CuPL)", ("cupl",), _cupl),
    MethodRow("coop", "prompt tuning", "CoOp context", ("coop",), _coop, learned="context"),
    MethodRow("cocoop", "prompt tuning", "CoCoOp context + meta-net", ("cocoop",), _cocoop, learned="context"),
    MethodRow("kgcoop", "prompt tuning", "KgCoOp context", ("kgcoop",), _kgcoop, learned="context"),
    MethodRow(
        "vr-identity",
        "model reprogramming",
        "padding VR, ω = identity over class prompts",
        ("ilm-vp",),
        _vr_identity,
        inputs="program",
        learned="program",
    ),
    MethodRow(
        "vr-flm",
        "model reprogramming",
        "ILM-VP: padding VR, ω = FLM over ImageNet classes",
        ("ilm-vp",),
        _vr_label_mapping,
        inputs="program",
        learned="program",
    ),
    MethodRow(
        "vr+coop",
        "combination",
        "padding VR + CoOp context, jointly",
        ("ilm-vp", "coop"),
        _combination,
        inputs="program",
        learned="program",
    ),
)


def _accuracy(reprogrammer: Any, images: Tensor, labels: Tensor, batch_size: int) -> float:
    reprogrammer.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = reprogrammer(images[start : start + batch_size])
            correct += int((logits.argmax(-1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def _parts(reprogrammer: Any) -> list[dict[str, str]]:
    """Where each input part acts: its location ℓ, operator τ, configuration λ and tower (for the paths figure)."""
    parts = []
    for manipulation in reprogrammer.inputs:
        operators = manipulation.operator if isinstance(manipulation.operator, tuple) else (manipulation.operator,)
        tower = getattr(manipulation, "tower", None)
        if tower is None:  # an input part without a tower acts on what f is given: images, or text prompts
            tower = "text" if type(manipulation).__name__ == "ClassPromptTemplate" else "vision"
        parts.append(
            {
                "part": type(manipulation).__name__,
                "location": str(manipulation.location),
                "operator": "+".join(str(o) for o in operators),
                "configuration": str(manipulation.configuration),
                "tower": str(tower),
            }
        )
    return parts


def _run_method(row: MethodRow, ctx: Context, budget: Budget, inputs: dict[str, tuple[Tensor, Tensor]]) -> dict:
    from reprogrammability.framework import Trainer

    reprogrammer, loss_fn = row.build(ctx)
    train_x, test_x = inputs[row.inputs]
    seconds = 0.0
    if row.learned is not None:
        trainer = Trainer(
            reprogrammer,
            loss_fn=loss_fn,
            epochs=budget.epochs,
            batch_size=budget.batch_size,
            learning_rate=budget.learning_rates[row.learned],
            seed=ctx.seed,
            device="cpu",
            progress=False,
        )
        start = time.perf_counter()
        trainer.fit((train_x, ctx.data.train_labels))
        seconds = time.perf_counter() - start
    accuracy = _accuracy(reprogrammer, test_x, ctx.data.test_labels, budget.batch_size)
    spec = reprogrammer.spec
    return {
        "reprogrammer": reprogrammer,
        "accuracy": accuracy,
        "train_seconds": seconds,
        "coordinates": spec.coordinates_str(),
        "access": str(spec.access),
        "trainable_parameters": reprogrammer.parameter_count(),
        "alignment": [str(a) for a in spec.alignment],
        "parts": _parts(reprogrammer),
    }


def _environment() -> tuple[dict[str, Any], dict[str, str]]:
    import transformers

    from reprogrammability import __version__

    machine = {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
    }
    versions = {
        "reprogrammability": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return machine, versions


def _alignment_hash() -> str:
    """SHA-256 of the shipped text→image map the run used (the alignment may be re-fitted between runs)."""
    import hashlib

    from reprogrammability.implementations.models.dual_encoder import ALIGNMENT_PATH

    return hashlib.sha256(ALIGNMENT_PATH.read_bytes()).hexdigest()


def _summary(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def run_case_study(
    task: str,
    seeds: Sequence[int],
    mode: str = "full",
    *,
    rows: Sequence[MethodRow] = METHOD_ROWS,
    progress: bool = True,
    keep: Callable[[str, int, Any, TaskData], None] | None = None,
) -> dict[str, Any]:
    """Run every row on ``task`` for each seed; the report (JSON-ready) with per-seed accuracies and fingerprints.

    ``keep(row_key, seed, reprogrammer, data)`` is called after each run (the command keeps the first seed's
    programs for the figures). A row whose method does not run on the dual encoder is reported with
    its error (``status: "not run"``) rather than stopping the others.
    """
    from tqdm.auto import tqdm

    from reprogrammability.framework import FrozenModel
    from reprogrammability.framework.errors import InterfaceError
    from reprogrammability.implementations.models.dual_encoder import load_dual_encoder

    if mode not in BUDGETS:
        raise ValueError(f"mode: {mode!r} is not one of {sorted(BUDGETS)}")
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    budget = BUDGETS[mode]
    started = time.perf_counter()
    model, tokenizer = load_dual_encoder()
    from reprogrammability.implementations.data.descriptors import task_prompts

    prompts = task_prompts(task)
    reference = FrozenModel(  # holds f only to fingerprint it (SHA-256 of every parameter and buffer)
        model, class_prompts=[prompts["template"].format(n) for n in prompts["class_names"]], tokenizer=tokenizer
    )
    before = reference.fingerprint()
    results: dict[str, dict[str, Any]] = {
        row.key: {
            "key": row.key,
            "paradigm": row.paradigm,
            "method": row.label,
            "method_ids": list(row.method_ids),
            "trained": row.learned is not None,
            "note": ""
            if row.learned
            else "fixed: measured once (no training; the test images are one draw for every seed)",
            "accuracy_per_seed": [],
            "train_seconds_per_seed": [],
            "fingerprint_after": [],
            "status": "ok",
        }
        for row in rows
    }
    bar = tqdm(total=len(seeds) * len(rows), desc=f"case study {task}", unit="run", disable=not progress)
    data = None
    for seed in seeds:
        data = load_task(task, budget, seed)
        inputs = {
            "image": (normalised(data.train_images), normalised(data.test_images)),
            "program": (data.train_images, data.test_images),
        }
        ctx = Context(model, tokenizer, data, seed)
        for row in rows:
            bar.set_postfix_str(f"seed {seed}: {row.key}")
            entry = results[row.key]
            if entry["status"] != "ok" or (row.learned is None and entry["accuracy_per_seed"]):
                bar.update()  # not runnable, or fixed and already measured: no training, the same test images
                continue
            torch.manual_seed(seed)
            try:
                outcome = _run_method(row, ctx, budget, inputs)
            except (InterfaceError, TypeError, ValueError) as error:
                if not isinstance(error, InterfaceError) and "DualEncoder" not in str(error):
                    raise
                entry["status"] = "not run"
                entry["error"] = f"{type(error).__name__}: {error}"
                bar.update()
                continue
            after = reference.fingerprint()
            entry["accuracy_per_seed"].append(outcome["accuracy"])
            entry["train_seconds_per_seed"].append(outcome["train_seconds"])
            entry["fingerprint_after"].append(after)
            for name in ("coordinates", "access", "trainable_parameters", "alignment", "parts"):
                entry[name] = outcome[name]
            if keep is not None:
                keep(row.key, seed, outcome["reprogrammer"], data)
            bar.update()
    bar.close()
    for entry in results.values():
        if entry["accuracy_per_seed"]:
            entry["accuracy_mean"], entry["accuracy_std"] = _summary(entry["accuracy_per_seed"])
            entry["train_seconds_mean"] = _summary(entry["train_seconds_per_seed"])[0]
    machine, versions = _environment()
    assert data is not None
    report = {
        "task": task,
        "mode": mode,
        "command": f"nnr case-study --task {task} --seeds {','.join(str(s) for s in seeds)}"
        + (" --quick" if mode == "quick" else ""),
        "seeds": list(seeds),
        "budget": {
            "shots_per_class": budget.shots,
            "train_images": len(data.train_labels),
            "test_images": len(data.test_labels),
            "epochs": budget.epochs,
            "batch_size": budget.batch_size,
            "optimizer": "adam",
            "learning_rates": dict(budget.learning_rates),
            "canvas": CANVAS,
            "program_image": PROGRAM_IMAGE,
        },
        "model": "DualEncoder: EfficientNet-Lite0 (ImageNet) + all-MiniLM-L6-v2 + shipped DeViSE-style map",
        "alignment_sha256": _alignment_hash(),
        "classes": data.class_names,
        "chance": 1.0 / len(data.class_names),
        "machine": machine,
        "versions": versions,
        "seconds": time.perf_counter() - started,
        "fingerprint_before": before,
        "fingerprint_unchanged": all(f == before for e in results.values() for f in e["fingerprint_after"]),
        "rows": list(results.values()),
    }
    report["margins"] = margins(report)
    return report


def margins(report: dict[str, Any]) -> dict[str, Any]:
    """The done-when numbers: best zero-shot prompt vs chance, and each learned method's margin over it (points)."""
    rows = {r["key"]: r for r in report["rows"] if r.get("accuracy_per_seed")}
    fixed = [r for r in rows.values() if not r["trained"]]
    if not fixed:
        return {}
    best = max(fixed, key=lambda r: r["accuracy_mean"])
    out: dict[str, Any] = {
        "best_fixed": best["key"],
        "best_fixed_accuracy": best["accuracy_mean"],
        "best_fixed_over_chance": best["accuracy_mean"] / report["chance"],
        "over_best_fixed": {
            r["key"]: r["accuracy_mean"] - best["accuracy_mean"] for r in rows.values() if r["trained"]
        },
    }
    if "template" in rows:
        out["template_over_chance"] = rows["template"]["accuracy_mean"] / report["chance"]
    return out


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """paradigm, method, coordinates (λ, τ, ℓ, ω), trainable parameters, accuracy mean ± std, training time."""
    out = []
    for r in report["rows"]:
        if not r.get("accuracy_per_seed"):
            out.append([r["paradigm"], r["method"], "—", "—", f"not run ({r.get('error', '')[:60]})", "—"])
            continue
        seconds = f"{r['train_seconds_mean']:.1f} s" if r["trained"] else "—"
        accuracy = f"{100 * r['accuracy_mean']:.1f} ± {100 * r['accuracy_std']:.1f} %"
        out.append([r["paradigm"], r["method"], r["coordinates"], f"{r['trainable_parameters']:,}", accuracy, seconds])
    return out
