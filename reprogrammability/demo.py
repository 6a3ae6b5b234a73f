"""``nnr demo``: visual reprogramming of a frozen ImageNet network to a new task, end to end.

A frozen EfficientNet-Lite0 (ImageNet-1k, weights from a registry package) is reprogrammed to
classify scikit-learn's 8x8 handwritten digits: each digit is up-sampled, placed in the middle of
the network's canvas, a learned sigmoid program fills the frame around it (padding visual
reprogramming, ILM-VP style), and the 1000 ImageNet classes are mapped to the 10 digits by
frequency label mapping (FLM). Only the program is trained.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .arguments import device, integer, output_directory, positive_float, seed

MAX_BATCH_PIXELS = 2**24
"""Guard against absurd sizes: a batch holds at most 2²⁴ canvas pixels (e.g. 1024 images at 128², 16 at 1024²)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="reprogram a frozen ImageNet EfficientNet-Lite0 to handwritten digits (CPU, a few minutes)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--epochs", type=integer(0, 10_000), default=4, help="training epochs (default: 4)")
    parser.add_argument(
        "--canvas",
        type=integer(32, 1024),
        default=128,
        help="input size of the frozen network, 32..1024 (default: 128)",
    )
    parser.add_argument(
        "--image-size",
        type=integer(8, 1024),
        default=64,
        help="size of the up-sampled digit, 8..canvas (default: 64)",
    )
    parser.add_argument(
        "--train-size",
        type=integer(10, 100_000),
        default=1000,
        help="training images, stratified, at least one per digit (default: 1000)",
    )
    parser.add_argument("--batch-size", type=integer(1, 4096), default=32, help="1..4096 (default: 32)")
    parser.add_argument("--learning-rate", type=positive_float, default=0.05, help="> 0 (default: 0.05)")
    parser.add_argument("--seed", type=seed, default=0, help="0..2^32-1 (default: 0)")
    parser.add_argument(
        "--device", type=device, default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ..."
    )
    parser.add_argument(
        "--output-dir",
        type=output_directory,
        default=Path("outputs/demo"),
        help="where to write results: into it when it is new or empty, else into a new run-<time>-<pid> "
        "folder inside it (earlier results are never replaced) (default: outputs/demo)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true", help="print the result row as JSON instead of a table")
    parser.set_defaults(handler=run)


def build(canvas: int, image_size: int, num_classes: int = 10):
    """The demo's reprogrammer: FLM ∘ f ∘ padding program, f = frozen EfficientNet-Lite0."""
    from reprogrammability.framework import FrozenModel, Reprogrammer
    from reprogrammability.implementations.models.efficientnet_lite import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        efficientnet_lite0,
    )
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    frozen = FrozenModel(efficientnet_lite0(pretrained=True))
    program = PaddingProgram(canvas, image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return Reprogrammer(
        frozen,
        program,
        FrequencyLabelMapping(1000, num_classes),
        paradigm="model-reprogramming",
        modality="vision",
        name="padding-vr+flm",
    )


def load_digits(image_size: int, train_size: int, seed: int):
    """scikit-learn digits as (N, 3, s, s) tensors in [0, 1], a stratified train/test split."""
    from reprogrammability.implementations.data.images import load_digits_images

    train = load_digits_images(size=image_size, split="train", seed=seed)
    test = load_digits_images(size=image_size, split="test", seed=seed)
    if train_size < len(train):
        train = train.subset(train_size, seed=seed)
    return (train.inputs, train.labels), (test.inputs, test.labels)


def run(args: argparse.Namespace) -> int:
    """Check every argument, reserve the output folder, then train; results appear only when complete."""
    from reprogrammability.outputs import RunFolder

    if args.image_size >= args.canvas:
        raise ValueError(
            f"argument --image-size: {args.image_size} leaves no frame for the program in --canvas {args.canvas}; "
            f"allowed: 8..{args.canvas - 1}"
        )
    if args.batch_size * args.canvas**2 > MAX_BATCH_PIXELS:
        raise ValueError(
            f"argument --batch-size: {args.batch_size} images of {args.canvas}x{args.canvas} pixels do not fit the "
            f"memory guard; allowed: batch-size × canvas² ≤ {MAX_BATCH_PIXELS:,} "
            f"(here --batch-size ≤ {MAX_BATCH_PIXELS // args.canvas**2})"
        )
    run_folder = RunFolder(args.output_dir, "--output-dir")  # checked and reserved before any work
    try:
        return _run(args, run_folder)
    finally:
        run_folder.discard()  # a failed or interrupted run leaves nothing half-written


def _run(args: argparse.Namespace, run_folder: Any) -> int:
    from reprogrammability.framework.training import Trainer, seed_everything

    start = time.perf_counter()
    seed_everything(args.seed)
    reprogrammer = build(args.canvas, args.image_size)
    train, test = load_digits(args.image_size, args.train_size, args.seed)
    trainer = Trainer(
        reprogrammer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        optimizer="adam",
        scheduler="cosine",
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
    )
    fingerprint = reprogrammer.frozen.fingerprint()
    trainer.fit_alignment(train)  # FLM from the frozen model's predictions with the untrained program
    before = trainer.evaluate(test)["accuracy"]
    result = trainer.fit(train)
    after = trainer.evaluate(test)["accuracy"]
    unchanged = reprogrammer.frozen.fingerprint() == fingerprint
    seconds = time.perf_counter() - start

    spec = reprogrammer.spec
    row = {
        "method": reprogrammer.name,
        "coordinates": spec.coordinates_str(),
        "trainable_parameters": reprogrammer.parameter_count(),
        "share_of_f": reprogrammer.parameter_share(),
        "frozen_accuracy": before,
        "reprogrammed_accuracy": after,
        "seconds": seconds,
        "device": str(trainer.device),
        "train_images": len(train[1]),
        "test_images": len(test[1]),
        "epochs": args.epochs,
        "frozen_model_unchanged": unchanged,
        "formula": reprogrammer.latex(),
    }
    stage = run_folder.path
    save_program_picture(reprogrammer, test[0][:5], test[1][:5], stage / "visual_program.png")
    (stage / "result.json").write_text(json.dumps({**row, "history": result.history}, indent=2) + "\n")
    reprogrammer.save_learned(stage / "learned")
    out = run_folder.publish()
    picture = out / "visual_program.png"
    if args.json:
        print(json.dumps(row, indent=2))
    else:
        print(render_table(row))
        print(f"\nŷ = O_ω(f(I(x))): {row['formula']}")
        print(f"frozen model unchanged (fingerprint): {unchanged}")
        print(f"picture of the learned visual program: {picture}")
        print(f"learned parameters (safetensors) and results: {out}")
    return 0 if unchanged else 1


def render_table(row: dict[str, Any]) -> str:
    from reprogrammability.tables import format_table

    headers = [
        "method",
        "coordinates (λ τ ℓ ω)",
        "trainable params",
        "share of f",
        "frozen acc",
        "reprogrammed acc",
        "time",
    ]
    values = [
        row["method"],
        row["coordinates"],
        f"{row['trainable_parameters']:,}",
        f"{100 * row['share_of_f']:.2f}%",
        f"{100 * row['frozen_accuracy']:.1f}%",
        f"{100 * row['reprogrammed_accuracy']:.1f}%",
        f"{row['seconds']:.0f} s",
    ]
    return format_table([values], headers)


def save_program_picture(reprogrammer: Any, images: Any, labels: Any, path: Path) -> Path:
    """A figure: the learned program M ⊙ σ(W), and reprogrammed inputs as the frozen model sees them,
    titled with the true digit and the reprogrammed prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    program = reprogrammer.inputs[0]
    reprogrammer.eval()
    with torch.no_grad():
        delta = program.delta().detach().cpu()
        padded = torch.nn.functional.pad(images.cpu(), program.padding) + delta
        predictions = reprogrammer(images.to(reprogrammer.device)).argmax(-1).cpu()
    columns = 1 + len(padded)
    figure, axes = plt.subplots(1, columns, figsize=(2.6 * columns, 2.9))
    axes[0].imshow(delta.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title("learned program\nM ⊙ σ(W)")
    for axis, image, label, predicted in zip(axes[1:], padded, labels, predictions):
        axis.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        axis.set_title(f"pad(x) + M ⊙ σ(W)\ndigit {int(label)} → predicted {int(predicted)}")
    for axis in axes:
        axis.axis("off")
    figure.suptitle("Padding visual reprogramming of a frozen ImageNet EfficientNet-Lite0 to digits")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
