"""No forgetting, measured: tasks learned one after another on one frozen EfficientNet-Lite0.

After each new task every earlier task is evaluated again, for three ways of adapting f:

* RCA (padding program + FLM per task, f frozen, programs kept in a ProgramBank);
* sequential full fine-tuning (one network trained task after task, FLM per task fixed at its start);
* sequential LoRA (one peft LoRA adapter on f's classifier trained task after task, FLM per task).

Tasks: scikit-learn digits (10 classes), Fashion-MNIST (10), digit parity (2). Writes
``benchmarks/results/many_tasks.json`` (``--quick``: ``many_tasks_quick.json``) with machine, versions and seeds.

    .venv/bin/python benchmarks/many_tasks.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

SIZES = {"default": dict(train=128, test=128, epochs=2), "quick": dict(train=48, test=48, epochs=1)}
CANVAS, IMAGE, BATCH, SEED = 112, 56, 32, 0
RESULTS = Path(__file__).parent / "results"


def tasks(train: int, test: int):
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


def run_rca(frozen, data, epochs: int) -> tuple[dict, list[str]]:
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


def run_sequential(net: nn.Module, data, epochs: int, trainable) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny subsets, one epoch (for the test)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    mode = "quick" if args.quick else "default"
    sizes = SIZES[mode]
    from reprogrammability.framework import FrozenModel
    from reprogrammability.framework.training import seed_everything
    from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

    seed_everything(SEED)
    data = tasks(sizes["train"], sizes["test"])
    start = time.time()
    frozen = FrozenModel(efficientnet_lite0(pretrained=True))
    rca, fingerprints = run_rca(frozen, data, sizes["epochs"])
    seed_everything(SEED)
    finetune = run_sequential(
        copy.deepcopy(frozen.model).requires_grad_(True), data, sizes["epochs"], nn.Module.parameters
    )
    from peft import LoraConfig, get_peft_model

    seed_everything(SEED)
    lora_net = get_peft_model(copy.deepcopy(frozen.model), LoraConfig(r=8, lora_alpha=16, target_modules=["_fc"]))
    lora = run_sequential(lora_net, data, sizes["epochs"], nn.Module.parameters)
    import peft

    report = {
        "mode": mode,
        "settings": {**sizes, "canvas": CANVAS, "image": IMAGE, "batch": BATCH, "seed": SEED, "tasks": list(data)},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "threads": torch.get_num_threads(),
        },
        "versions": {"torch": torch.__version__, "peft": peft.__version__, "python": platform.python_version()},
        "seconds": time.time() - start,
        "accuracy_after_each_task": {"rca": rca, "finetune": finetune, "lora": lora},
        "drop": {"rca": drops(rca), "finetune": drops(finetune), "lora": drops(lora)},
        "f_fingerprint_unchanged": len(set(fingerprints)) == 1,
        "f_fingerprint": fingerprints[0],
    }
    output = args.output or RESULTS / ("many_tasks_quick.json" if args.quick else "many_tasks.json")
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"drop": report["drop"], "f_unchanged": report["f_fingerprint_unchanged"]}, indent=2))


if __name__ == "__main__":
    main()
