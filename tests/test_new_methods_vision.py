"""Issue 13 §4, vision and vision-language methods: CODA-Prompt on the tiny ViT, UPT on the tiny CLIP."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reprogrammability.framework import Trainer
from reprogrammability.implementations.prompt_tuning import coda_prompt
from reprogrammability.implementations.prompt_tuning.composed_prompt import QUERY
from reprogrammability.implementations.prompt_tuning.vision import tiny_vit_example


def _images(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_coda_prompt_is_the_attention_weighted_sum_of_components_on_the_frozen_query():
    model, images, labels = tiny_vit_example()
    rp = coda_prompt.build(model, num_classes=3, prompt_length=2, num_tasks=2, components_per_task=3)
    (part,) = rp.inputs
    adapter, raw = rp.frozen.adapter, rp.frozen.model
    state = adapter.embed(raw, images)
    with torch.no_grad():
        plain_cls = adapter.forward_embedded(raw, adapter.embed(raw, images))
    assert torch.equal(state.extra[QUERY], plain_cls)  # q(x): the frozen class token of the plain image
    q = state.extra[QUERY]
    A, K, P = part.attention[0], part.keys[0], part.components[0]
    alpha = torch.stack([F.cosine_similarity(q * A[m], K[m].expand_as(q), dim=-1) for m in range(3)], dim=1)
    torch.testing.assert_close(part.weights(q), alpha)
    torch.testing.assert_close(part.prompts(q), torch.einsum("bm,mld->bld", alpha, P))
    assert (alpha[0] - alpha[1]).abs().max() > 1e-4  # the weights depend on the image
    out = part(state)
    assert torch.equal(out.embeds[:, :1], state.embeds[:, :1]) and torch.equal(out.embeds[:, 3:], state.embeds[:, 1:])


def test_coda_prompt_learns_task_after_task_without_touching_earlier_components():
    model, _, _ = tiny_vit_example()
    rp = coda_prompt.build(model, num_classes=4, prompt_length=2, num_tasks=2, components_per_task=3)
    (part,) = rp.inputs
    fingerprint = rp.frozen.fingerprint()
    tasks = [(_images(8, 1), torch.tensor([0, 1] * 4)), (_images(8, 2), torch.tensor([2, 3] * 4))]
    assert [p.requires_grad for p in part.components] == [True, False]
    losses = []
    for task, (images, labels) in enumerate(tasks):
        if task:
            frozen_group = [g[0].detach().clone() for g in (part.components, part.keys, part.attention)]
            part.start_task(task)
            # the new group starts orthogonal to the old one, and the old one is frozen
            for old, new in ((part.components[0], part.components[1]), (part.keys[0], part.keys[1])):
                cross = old.reshape(3, -1) @ new.reshape(3, -1).t()
                assert cross.abs().max() < 1e-4 * old.norm() * new.norm()
            assert [p.requires_grad for p in part.keys] == [False, True]
        with torch.no_grad():
            before = F.cross_entropy(rp(images), labels)
        Trainer(rp, epochs=30, batch_size=8, learning_rate=0.05, progress=False).fit((images, labels))
        with torch.no_grad():
            losses.append((float(before), float(F.cross_entropy(rp(images), labels))))
    for before, after in losses:
        assert after < 0.7 * before
    for old, group in zip(frozen_group, (part.components, part.keys, part.attention)):
        assert torch.equal(group[0], old)  # task 0's components, keys and attention are untouched by task 1
    assert part.orthogonality_penalty() >= 0
    assert rp.frozen.fingerprint() == fingerprint


# --- UPT -------------------------------------------------------------------------------------------------

from reprogrammability.implementations.prompt_tuning import upt  # noqa: E402
from reprogrammability.implementations.prompt_tuning.coop import tiny_clip_example  # noqa: E402


def test_upt_text_and_visual_prompts_come_from_one_refined_prompt():
    model, tokenizer, names, images, labels = tiny_clip_example()
    rp = upt.build(model, tokenizer=tokenizer, class_names=names, visual_length=2, ffn_dim=16)
    text, visual = rp.inputs
    refined = text.block(text.prompt.unsqueeze(0)).squeeze(0)
    n_t = text.length
    assert n_t == 4 and text.prompt.shape[0] == 6  # "a photo of a" + 2 visual rows
    torch.testing.assert_close(text.prompts(), refined[:n_t])
    torch.testing.assert_close(visual.prompts(), visual.coupling(refined[n_t:]))
    # one source: the visual prompts depend on the text rows of U through the shared block's attention
    grad = torch.autograd.grad(visual.prompts().sum(), text.prompt)[0]
    assert grad[:n_t].abs().max() > 0 and grad[n_t:].abs().max() > 0
    assert visual.tower == "vision" and text.tower == "text"


def test_upt_training_lowers_the_loss_and_keeps_clip_frozen():
    model, tokenizer, names, _, _ = tiny_clip_example()
    images, labels = _images(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    rp = upt.build(model, tokenizer=tokenizer, class_names=names, visual_length=2, ffn_dim=16)
    fingerprint = rp.frozen.fingerprint()
    with torch.no_grad():
        before = F.cross_entropy(rp(images), labels)
    Trainer(rp, epochs=60, batch_size=6, learning_rate=0.03, progress=False).fit((images, labels))
    with torch.no_grad():
        after = F.cross_entropy(rp(images), labels)
    assert after < before - 0.15  # 1.12 → 0.90 (the tiny random CLIP's logits move slowly, as for CoOp and MaPLe)
    assert rp.frozen.fingerprint() == fingerprint
