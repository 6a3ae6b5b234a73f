"""The shapes and repetitions of each ``nnr bench`` mode (``default``, ``quick``, ``tiny``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Shapes and repetitions of one mode."""

    mode: str
    vision_model: str  # "efficientnet_lite0" or "tiny_cnn"
    batch: int
    canvas: int
    image: int
    classes: int
    steps: int  # batches in one Trainer epoch of the visual suite
    pairs: int  # timed rounds of one step of every variant, interleaved (after ``warmup`` untimed ones)
    trainer_rounds: int  # Trainer epochs, each step paired with a bare step run right before it
    warmup: int
    lm_hidden: int
    lm_layers: int
    lm_heads: int
    lm_kv_heads: int
    lm_vocab: int
    lm_batch: int
    lm_length: int
    virtual_tokens: int
    lm_pairs: int
    icl_queries: int
    icl_batch: int
    icl_ks: tuple[int, ...]
    icl_rounds: int
    mapping_samples: int
    mapping_batch: int
    mapping_canvas: int
    mapping_rounds: int


MODES: dict[str, Settings] = {
    "default": Settings(
        mode="default",
        vision_model="efficientnet_lite0",
        batch=16,
        canvas=112,
        image=80,
        classes=10,
        steps=4,
        pairs=25,
        trainer_rounds=4,
        warmup=2,
        lm_hidden=256,
        lm_layers=4,
        lm_heads=8,
        lm_kv_heads=4,
        lm_vocab=2048,
        lm_batch=8,
        lm_length=64,
        virtual_tokens=16,
        lm_pairs=20,
        icl_queries=16,
        icl_batch=8,
        icl_ks=(0, 4, 8),
        icl_rounds=7,
        mapping_samples=64,
        mapping_batch=16,
        mapping_canvas=96,
        mapping_rounds=8,
    ),
    "quick": Settings(
        mode="quick",
        vision_model="efficientnet_lite0",
        batch=8,
        canvas=64,
        image=48,
        classes=10,
        steps=2,
        pairs=10,
        trainer_rounds=3,
        warmup=1,
        lm_hidden=128,
        lm_layers=2,
        lm_heads=4,
        lm_kv_heads=2,
        lm_vocab=1024,
        lm_batch=4,
        lm_length=32,
        virtual_tokens=8,
        lm_pairs=8,
        icl_queries=8,
        icl_batch=8,
        icl_ks=(0, 4, 8),
        icl_rounds=3,
        mapping_samples=32,
        mapping_batch=8,
        mapping_canvas=64,
        mapping_rounds=3,
    ),
    "tiny": Settings(
        mode="tiny",
        vision_model="tiny_cnn",
        batch=4,
        canvas=32,
        image=24,
        classes=4,
        steps=2,
        pairs=1,
        trainer_rounds=1,
        warmup=0,
        lm_hidden=32,
        lm_layers=2,
        lm_heads=4,
        lm_kv_heads=2,
        lm_vocab=1276,
        lm_batch=2,
        lm_length=12,
        virtual_tokens=4,
        lm_pairs=1,
        icl_queries=4,
        icl_batch=4,
        icl_ks=(0, 8),
        icl_rounds=1,
        mapping_samples=8,
        mapping_batch=4,
        mapping_canvas=32,
        mapping_rounds=1,
    ),
}
