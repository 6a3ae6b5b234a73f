"""No forgetting, measured: tasks learned one after another on one frozen model.

After each new task every earlier task is evaluated again, for three ways of adapting f:

* RCA (f frozen, one program per task kept in a :class:`ProgramBank`);
* sequential full fine-tuning (one network trained task after task);
* sequential LoRA (one peft LoRA adapter trained task after task).

``--setting vision`` (default): f = EfficientNet-Lite0 (ImageNet); tasks scikit-learn digits (10 classes),
Fashion-MNIST (10), digit parity (2, the digits images relabelled). RCA: padding program + frequency
label mapping (FLM) per task; fine-tuning and LoRA (on f's classifier) read ImageNet logits through
each task's FLM, fitted at the task's start and fixed.

``--setting text``: f = SmolLM2-135M-Instruct; tasks sentiment (2), topic (4), both shipped
(``implementations/data/text``), and sentence length (2), derived here from the same sentences:
"long" when a sentence has at least as many words as the median of the pooled training sentences (9 words:
59 % of them are "long"). Every method
reads the next-token scores after a task cue ("Review: … Sentiment:") through the task's verbalizer
(label words). RCA: a soft prompt per task (lengths 8, 12, 4: the final evaluation runs all tasks' rows
as ONE mixed batch of different prompt lengths, checked against each task's own run); fine-tuning: all
weights; LoRA: rank 8 on the attention query/value projections. Short runs (a few optimiser steps per
task on a CPU), so accuracies are low; the point is the change of earlier tasks.

Writes ``benchmarks/results/many_tasks[_text][_quick].json`` with machine, versions and seeds.

    .venv/bin/python benchmarks/many_tasks.py [--setting vision|text] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

SIZES = {
    "vision": {"default": dict(train=192, test=256, epochs=3), "quick": dict(train=48, test=48, epochs=1)},
    "text": {"default": dict(train=64, test=48, epochs=2), "quick": dict(train=8, test=8, epochs=1)},
}
CANVAS, IMAGE, BATCH, SEED = 112, 56, 32, 0
TEXT_BATCH, TEXT_MAX_TOKENS = 8, 48
CUES = {"sentiment": "Review: {}\nSentiment:", "topic": "Article: {}\nTopic:", "length": "Sentence: {}\nLength:"}
LABEL_WORDS = {
    "sentiment": ["negative", "positive"],
    "topic": ["world", "sports", "business", "science"],
    "length": ["short", "long"],
}
PROMPT_LENGTHS = {"sentiment": 8, "topic": 12, "length": 4}
TEXT_LEARNING_RATES = {"rca": 1e-2, "finetune": 3e-5, "lora": 2e-3}
RESULTS = Path(__file__).parent / "results"


def vision_tasks(train: int, test: int):
    from reprogrammability.implementations.data.images import load_digits_images, load_fashion_mnist

    def take(data, count, parity=False):
        labels = data.labels[:count] % 2 if parity else data.labels[:count]
        return data.inputs[:count].float(), labels.long()

    digits_train, digits_test = load_digits_images(IMAGE, "train", SEED), load_digits_images(IMAGE, "test", SEED)
    fashion_train = load_fashion_mnist(split="train", size=IMAGE, channels=3, max_samples=train, seed=SEED)
    fashion_test = load_fashion_mnist(split="test", size=IMAGE, channels=3, max_samples=test, seed=SEED)
    return {
        "digits": (take(digits_train, train), take(digits_test, test), 10),
        "fashion": (take(fashion_train, train), take(fashion_test, test), 10),
        "parity": (take(digits_train, train, True), take(digits_test, test, True), 2),
    }


def accuracy(predict, data) -> float:
    inputs, labels = data
    with torch.no_grad():
        scores = torch.cat([predict(inputs[i : i + 64]) for i in range(0, len(inputs), 64)])
    return float((scores.argmax(-1) == labels).float().mean())


def vision_rca(frozen, data, epochs: int) -> tuple[dict, list[str]]:
    from reprogrammability.framework import Reprogrammer, Trainer
    from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram
    from reprogrammability.implementations.serving import ProgramBank

    bank = ProgramBank(frozen)
    table: dict[str, dict[str, float]] = {}
    fingerprints = [frozen.fingerprint()]
    for name, (train, _, classes) in data.items():
        program = Reprogrammer(
            frozen,
            PaddingProgram(CANVAS, IMAGE, mean=IMAGENET_MEAN, std=IMAGENET_STD),
            FrequencyLabelMapping(1000, classes),
            paradigm="model-reprogramming",
        )
        Trainer(program, epochs=epochs, batch_size=BATCH, learning_rate=0.01, progress=False).fit(train)
        bank.add(name, program)
        table[name] = {
            seen: accuracy(lambda x, t=seen: torch.stack(bank.predict(x, t)), data[seen][1]) for seen in bank.tasks
        }
        fingerprints.append(frozen.fingerprint())
    return table, fingerprints


def vision_sequential(net: nn.Module, data, epochs: int, trainable) -> dict:
    """Train ``net`` (its ``trainable`` parameters) task after task; each task reads ImageNet logits through its
    own FLM, fitted at the task's start and fixed; after each task, every task so far is evaluated."""
    import torch.nn.functional as F

    from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping

    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pad = (CANVAS - IMAGE) // 2

    def source(x):
        return net((F.pad(x, (pad, CANVAS - IMAGE - pad, pad, CANVAS - IMAGE - pad)) - mean) / std)

    mappings, table = {}, {}
    parameters = [p for p in trainable(net) if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=1e-4)
    generator = torch.Generator().manual_seed(SEED)
    for name, (train, _, classes) in data.items():
        inputs, labels = train
        net.eval()
        with torch.no_grad():
            mappings[name] = FrequencyLabelMapping(1000, classes).fit(source(inputs), labels)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for i in range(0, len(inputs), BATCH):
                index = order[i : i + BATCH]
                loss = F.cross_entropy(mappings[name](source(inputs[index])), labels[index])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        net.eval()
        table[name] = {seen: accuracy(lambda x, s=seen: mappings[s](source(x)), data[seen][1]) for seen in mappings}
    return table


def drops(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per task: accuracy right after learning it minus accuracy after the last task."""
    last = list(table)[-1]
    return {task: table[task][task] - table[last][task] for task in table}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def text_tasks(train: int, test: int):
    """(texts with the task cue, labels) per task; the length task is derived from the pooled sentences."""
    from reprogrammability.implementations.data.text import load_text_task

    pooled = {split: ([], []) for split in ("train", "test")}
    data = {}
    for name in ("sentiment", "topic"):
        parts = []
        for split in ("train", "test"):
            loaded = load_text_task(name, split)
            pooled[split][0].extend(loaded.inputs)
            parts.append((list(loaded.inputs), loaded.labels))
        data[name] = parts
    median = sorted(len(t.split()) for t in pooled["train"][0])[len(pooled["train"][0]) // 2]
    data["length"] = [
        (texts, torch.tensor([int(len(t.split()) >= median) for t in texts])) for texts, _ in pooled.values()
    ]
    generator = torch.Generator().manual_seed(SEED)
    out = {}
    for name, ((train_x, train_y), (test_x, test_y)) in data.items():
        picked = []
        for (texts, labels), count in (((train_x, train_y), train), ((test_x, test_y), test)):
            order = torch.randperm(len(texts), generator=generator)[:count].tolist()
            picked.append(([CUES[name].format(texts[i]) for i in order], labels[order].long()))
        out[name] = (picked[0], picked[1], len(LABEL_WORDS[name]))
    return out, median


def _text_model(kind: str):
    if kind == "tiny":
        from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_tokenizer

        return tiny_causal_lm("llama"), tiny_tokenizer(style="causal")
    from reprogrammability.implementations.models.pretrained import load_smollm2

    return load_smollm2()


def text_rca(frozen, data, epochs: int) -> tuple[dict, list[str], float]:
    """Soft prompt + verbalizer per task, trained on frozen f and kept in a bank; after each task every
    task so far is evaluated in ONE mixed batch per chunk (rows of different prompt lengths)."""
    from reprogrammability.framework import Trainer
    from reprogrammability.implementations.prompt_tuning import prompt_tuning
    from reprogrammability.implementations.serving import ProgramBank

    bank = ProgramBank(frozen)
    table: dict[str, dict[str, float]] = {}
    fingerprints = [frozen.fingerprint()]
    worst = 0.0
    for name, (train, _, _) in data.items():
        program = prompt_tuning.build(
            frozen,
            label_words=LABEL_WORDS[name],
            num_virtual_tokens=PROMPT_LENGTHS[name],
            init="sampled-vocabulary",
            seed=SEED,
        )
        options = dict(epochs=epochs, batch_size=TEXT_BATCH, progress=False, seed=SEED)
        Trainer(program, learning_rate=TEXT_LEARNING_RATES["rca"], **options).fit(train)
        bank.add(name, program)
        texts = [t for seen in bank.tasks for t in data[seen][1][0]]
        names = [seen for seen in bank.tasks for _ in data[seen][1][0]]
        with torch.no_grad():
            rows = [r for i in range(0, len(texts), 32) for r in bank.predict(texts[i : i + 32], names[i : i + 32])]
        table[name] = {}
        for seen in bank.tasks:
            index = [i for i, n in enumerate(names) if n == seen]
            predicted = torch.stack([rows[i].argmax() for i in index])
            table[name][seen] = float((predicted == data[seen][1][1]).float().mean())
            with torch.no_grad():  # every mixed-batch row equals the task's own reprogrammer
                own = torch.cat([bank[seen].program(data[seen][1][0][i : i + 32]) for i in range(0, len(index), 32)])
            worst = max(worst, float((torch.stack([rows[i] for i in index]) - own).abs().max()))
        fingerprints.append(frozen.fingerprint())
        log(f"rca after {name}: {table[name]}")
    return table, fingerprints, worst


def text_sequential(net: nn.Module, tokenizer, data, epochs: int, learning_rate: float) -> dict:
    """Train ``net``'s trainable weights task after task on the verbalizer scores at the last token;
    after each task, every task so far is evaluated with its own verbalizer."""
    import torch.nn.functional as F

    from reprogrammability.implementations.prompt_tuning.verbalizer import Verbalizer

    verbalizers = {name: Verbalizer.from_words(tokenizer, LABEL_WORDS[name]) for name in data}

    def scores(texts, name):
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=TEXT_MAX_TOKENS, return_tensors="pt")
        logits = net(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).logits
        mask = encoded["attention_mask"]
        last = (torch.arange(mask.shape[1]) * mask).argmax(1)
        return verbalizers[name](logits[torch.arange(len(texts)), last])

    def accuracy_of(name):
        texts, labels = data[name][1]
        with torch.no_grad():
            predicted = torch.cat([scores(texts[i : i + 32], name).argmax(-1) for i in range(0, len(texts), 32)])
        return float((predicted == labels).float().mean())

    parameters = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=learning_rate)
    generator = torch.Generator().manual_seed(SEED)
    table, seen = {}, []
    for name, ((texts, labels), _, _) in data.items():
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(texts), generator=generator).tolist()
            for i in range(0, len(texts), TEXT_BATCH):
                index = order[i : i + TEXT_BATCH]
                loss = F.cross_entropy(scores([texts[j] for j in index], name), labels[index])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        net.eval()
        seen.append(name)
        table[name] = {task: accuracy_of(task) for task in seen}
        log(f"sequential after {name}: {table[name]}")
    return table


def run_vision(sizes: dict) -> dict:
    from reprogrammability.framework import FrozenModel
    from reprogrammability.framework.training import seed_everything
    from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

    seed_everything(SEED)
    data = vision_tasks(sizes["train"], sizes["test"])
    frozen = FrozenModel(efficientnet_lite0(pretrained=True))
    rca, fingerprints = vision_rca(frozen, data, sizes["epochs"])
    seed_everything(SEED)
    finetune = vision_sequential(
        copy.deepcopy(frozen.model).requires_grad_(True), data, sizes["epochs"], nn.Module.parameters
    )
    from peft import LoraConfig, get_peft_model

    seed_everything(SEED)
    lora_net = get_peft_model(copy.deepcopy(frozen.model), LoraConfig(r=8, lora_alpha=16, target_modules=["_fc"]))
    lora = vision_sequential(lora_net, data, sizes["epochs"], nn.Module.parameters)
    return {
        "settings": {**sizes, "canvas": CANVAS, "image": IMAGE, "batch": BATCH, "seed": SEED, "tasks": list(data)},
        "model": "EfficientNet-Lite0 (ImageNet)",
        "accuracy_after_each_task": {"rca": rca, "finetune": finetune, "lora": lora},
        "fingerprints": fingerprints,
    }


def run_text(sizes: dict, model_kind: str) -> dict:
    from reprogrammability.framework import FrozenModel
    from reprogrammability.framework.training import seed_everything

    seed_everything(SEED)
    data, median = text_tasks(sizes["train"], sizes["test"])
    model, tokenizer = _text_model(model_kind)
    frozen = FrozenModel(model, tokenizer=tokenizer, readout="last", max_length=TEXT_MAX_TOKENS)
    rca, fingerprints, worst = text_rca(frozen, data, sizes["epochs"])
    seed_everything(SEED)
    finetune = text_sequential(
        copy.deepcopy(frozen.model).requires_grad_(True),
        tokenizer,
        data,
        sizes["epochs"],
        TEXT_LEARNING_RATES["finetune"],
    )
    from peft import LoraConfig, get_peft_model

    seed_everything(SEED)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"])
    lora_net = get_peft_model(copy.deepcopy(frozen.model), config)
    lora = text_sequential(lora_net, tokenizer, data, sizes["epochs"], TEXT_LEARNING_RATES["lora"])
    settings = {**sizes, "batch": TEXT_BATCH, "max_tokens": TEXT_MAX_TOKENS, "seed": SEED, "tasks": list(data)}
    settings.update(
        cues=CUES,
        label_words=LABEL_WORDS,
        prompt_lengths=PROMPT_LENGTHS,
        learning_rates=TEXT_LEARNING_RATES,
        length_median_words=median,
        optimiser_steps_per_task={name: sizes["epochs"] * -(-len(data[name][0][0]) // TEXT_BATCH) for name in data},
    )
    return {
        "settings": settings,
        "model": "SmolLM2-135M-Instruct" if model_kind == "smollm2" else "tiny random llama (tests)",
        "accuracy_after_each_task": {"rca": rca, "finetune": finetune, "lora": lora},
        "fingerprints": fingerprints,
        "mixed_batch_max_difference": worst,
    }


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=sorted(SIZES), default="vision")
    parser.add_argument("--quick", action="store_true", help="tiny subsets, one epoch (for the test)")
    parser.add_argument(
        "--model", choices=("smollm2", "tiny"), default="smollm2", help="text setting: f (tiny: a random LM, tests)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "default"
    sizes = SIZES[args.setting][mode]
    start = time.time()
    result = run_vision(sizes) if args.setting == "vision" else run_text(sizes, args.model)
    import peft

    table = result["accuracy_after_each_task"]
    fingerprints = result.pop("fingerprints")
    report = {
        "setting": args.setting,
        "mode": mode,
        **result,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "threads": torch.get_num_threads(),
        },
        "versions": {"torch": torch.__version__, "peft": peft.__version__, "python": platform.python_version()},
        "seconds": time.time() - start,
        "drop": {method: drops(rows) for method, rows in table.items()},
        "f_fingerprint_unchanged": len(set(fingerprints)) == 1,
        "f_fingerprint": fingerprints[0],
    }
    name = "many_tasks" + ("_text" if args.setting == "text" else "") + ("_quick" if args.quick else "")
    output = args.output or RESULTS / f"{name}.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"drop": report["drop"], "f_unchanged": report["f_fingerprint_unchanged"]}, indent=2))
    return output


if __name__ == "__main__":
    main()
