"""Vision, vision-language and graph prompt tuning on tiny random models: VPT against a hand-written
forward pass, CoOp reproducing CLIP's zero-shot template exactly, CoCoOp's per-image prompts, KgCoOp's
knowledge term, MaPLe's coupled deep prompts, activation prompts and graph prompt features."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("transformers")

from reprogrammability.framework.frozen import FrozenModel  # noqa: E402
from reprogrammability.implementations.models.tiny import tiny_clip, tiny_cnn, tiny_tokenizer, tiny_vit  # noqa: E402
from reprogrammability.implementations.prompt_tuning import (  # noqa: E402
    activation_prompt,
    cocoop,
    coop,
    gpf,
    gpf_plus,
    kgcoop,
    maple,
    vpt_deep,
    vpt_shallow,
)
from reprogrammability.implementations.prompt_tuning.clip import class_text_features  # noqa: E402
from reprogrammability.implementations.prompt_tuning.deep import replace_slots  # noqa: E402
from reprogrammability.implementations.prompt_tuning.graph import TinyGCN, random_graphs  # noqa: E402

NAMES = ["cat", "dog", "red bird"]


@pytest.fixture(scope="module")
def clip():
    return tiny_clip(), tiny_tokenizer(style="clip")


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def layer_inputs(blocks, indices):
    """Forward hooks that keep what each block really received (after the edits of pre-hooks)."""
    kept, handles = {}, []
    for index in indices:

        def hook(module, args, kwargs, output, index=index):
            kept[index] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

        handles.append(blocks[index].register_forward_hook(hook, with_kwargs=True))
    return kept, handles


# -- VPT ------------------------------------------------------------------------------------------------
def vpt_reference(vit, images, prompts, head):
    """Hand-written VPT forward: prompts after the class token, replaced before every later block."""
    body = vit.vit
    h = body.embeddings(images)
    p = prompts[0].shape[0]
    h = torch.cat([h[:, :1], prompts[0].expand(h.shape[0], -1, -1), h[:, 1:]], 1)
    for i, block in enumerate(body.layers):
        if i > 0 and i < len(prompts):
            h = torch.cat([h[:, :1], prompts[i].expand(h.shape[0], -1, -1), h[:, 1 + p :]], 1)
        out = block(h, None)
        h = out[0] if isinstance(out, tuple) else out
    return head(body.layernorm(h)[:, 0])


@pytest.mark.parametrize("deep", [False, True])
def test_vpt_matches_a_hand_written_forward(deep, images):
    vit = tiny_vit(num_layers=3)
    build = vpt_deep.build if deep else vpt_shallow.build
    rp = build(vit, num_classes=4, num_prompts=3)
    first = rp.inputs[0].prompt.detach()
    prompts = [first] + (list(rp.inputs[1].prompt.detach()) if deep else [])
    with torch.no_grad():
        expected = vpt_reference(vit, images, prompts, rp.output)
        assert torch.allclose(rp(images), expected, atol=1e-5)
    assert rp.parameter_count() == (3 if deep else 1) * 3 * 32 + 4 * 33
    bound = (6 / (3 * 8 * 8 + 32)) ** 0.5  # Xavier over a patch's fan-in
    assert first.abs().max() <= bound


def test_vpt_deep_prompts_enter_every_later_block(images):
    vit = tiny_vit(num_layers=3)
    rp = vpt_deep.build(vit, num_classes=2, num_prompts=2)
    kept, handles = layer_inputs(rp.frozen.adapter.layers(vit), [1, 2])
    try:
        with torch.no_grad():
            rp(images)
    finally:
        for h in handles:
            h.remove()
    deep = rp.inputs[1].prompt.detach()
    assert rp.inputs[1].layers == (1, 2)
    for i in (1, 2):
        assert torch.equal(kept[i][:, 1:3], deep[i - 1].expand(3, -1, -1))
    assert kept[1].shape[1] == 1 + 2 + 16


def test_replace_slots():
    h = torch.arange(12.0).view(1, 6, 2)
    p = torch.full((2, 2), -1.0)
    assert replace_slots(h, p, 1)[0, :, 0].tolist() == [0, -1, -1, 6, 8, 10]
    assert replace_slots(h, p, "end")[0, :, 0].tolist() == [0, 2, 4, 6, -1, -1]
    with pytest.raises(ValueError, match="start"):
        replace_slots(h, p, 5)


# -- CoOp -----------------------------------------------------------------------------------------------
def test_coop_from_a_photo_of_a_reproduces_the_zero_shot_template_exactly(clip, images):
    model, tokenizer = clip
    rp = coop.build(model, tokenizer=tokenizer, class_names=NAMES, context_init="a photo of a")
    assert rp.inputs[0].prompt.shape == (4, 32)
    zero_shot = FrozenModel(model, class_prompts=[f"a photo of a {n}." for n in NAMES], tokenizer=tokenizer)
    with torch.no_grad():
        ours = rp(images)
        assert torch.equal(ours, zero_shot(images))
        hf = model(
            **tokenizer([f"a photo of a {n}." for n in NAMES], padding=True, return_tensors="pt"), pixel_values=images
        ).logits_per_image
    assert (ours - hf).abs().max() < 1e-5


@pytest.mark.parametrize("position,template", [("front", "{} a photo of a."), ("middle", "a photo {} of a.")])
def test_coop_class_token_positions(clip, images, position, template):
    model, tokenizer = clip
    rp = coop.build(
        model, tokenizer=tokenizer, class_names=NAMES, context_init="a photo of a", class_token_position=position
    )
    fixed = FrozenModel(model, class_prompts=[template.format(n) for n in NAMES], tokenizer=tokenizer)
    with torch.no_grad():
        assert torch.allclose(rp(images), fixed(images), atol=1e-5)


def test_coop_class_specific_context(clip, images):
    model, tokenizer = clip
    rp = coop.build(model, tokenizer=tokenizer, class_names=NAMES, context_init="a photo of a", class_specific=True)
    part = rp.inputs[0]
    assert part.prompt.shape == (3, 4, 32) and rp.parameter_count() == 3 * 4 * 32
    with torch.no_grad():
        base = rp(images)
        part.prompt[1] = torch.randn(4, 32, generator=torch.Generator().manual_seed(3))  # only class 1's prompt
        changed = rp(images)
    assert torch.allclose(changed[:, [0, 2]], base[:, [0, 2]], atol=1e-6)
    assert (changed[:, 1] - base[:, 1]).abs().max() > 1e-3
    random = coop.build(model, tokenizer=tokenizer, class_names=NAMES, context_length=6)
    assert random.inputs[0].prompt.shape == (6, 32) and random.inputs[0].prompt.std() < 0.05


def test_cocoop_gives_every_image_its_own_prompts(clip, images):
    model, tokenizer = clip
    rp = cocoop.build(model, tokenizer=tokenizer, class_names=NAMES)
    context, conditioned = rp.inputs
    with torch.no_grad():
        conditioned.meta_net[2].weight.normal_(0, 0.5)
        ours = rp(images)
        reference = coop.build(model, tokenizer=tokenizer, class_names=NAMES, context_init="a photo of a")
        features = model.get_image_features(pixel_values=images)
        features = getattr(features, "pooler_output", features)
        shifts = conditioned.meta_net(features / features.norm(dim=-1, keepdim=True))
        for b in range(images.shape[0]):
            reference.inputs[0].prompt.copy_(context.prompt + shifts[b])
            assert torch.allclose(ours[b], reference(images[b : b + 1])[0], atol=1e-5)
    assert conditioned.meta_net[0].out_features == 16 // 16


def test_kgcoop_knowledge_term(clip, images):
    model, tokenizer = clip
    labels = torch.tensor([0, 1, 2])
    rp = kgcoop.build(model, tokenizer=tokenizer, class_names=NAMES)
    loss_fn = kgcoop.knowledge_guided_loss(rp)
    assert loss_fn.distance().item() < 1e-10  # starts at the hand-crafted prompt
    assert torch.allclose(loss_fn(rp(images), labels), F.cross_entropy(rp(images), labels))

    def one_step(weight):
        fresh = kgcoop.build(model, tokenizer=tokenizer, class_names=NAMES)
        fn = kgcoop.knowledge_guided_loss(fresh, class_names=NAMES, weight=weight)
        optimizer = torch.optim.SGD(fresh.parameters(), lr=0.05)
        for _ in range(3):
            optimizer.zero_grad()
            fn(fresh(images), labels).backward()
            optimizer.step()
        return fn.distance().item()

    free, guided = one_step(0.0), one_step(1.0)
    assert free > 0 and guided < free
    assert class_text_features(rp).shape == (3, 16)


def test_maple_couples_deep_vision_prompts_to_the_language_prompts(clip, images):
    model, tokenizer = clip
    rp = maple.build(model, tokenizer=tokenizer, class_names=NAMES, depth=9)
    text, vision, deep_text, deep_vision = rp.inputs
    assert text.prompt.shape == (2, 32) and deep_text.layers == (1,)  # depth capped at the 2 layers
    assert rp.frozen.adapter.class_prompts == [f"of a {n}." for n in NAMES]
    text_blocks = rp.frozen.adapter.layers(model, "text")
    vision_blocks = rp.frozen.adapter.layers(model, "vision")
    text_kept, h1 = layer_inputs(text_blocks, [1])
    vision_kept, h2 = layer_inputs(vision_blocks, [1])
    try:
        with torch.no_grad():
            rp(images)
    finally:
        for h in h1 + h2:
            h.remove()
    with torch.no_grad():
        assert torch.equal(text_kept[1][:, 1:3], deep_text.prompt[0].expand(3, -1, -1))
        coupled = deep_vision.couplings[0](deep_text.prompt[0])
        assert torch.allclose(vision_kept[1][:, -2:], coupled.expand(3, -1, -1))
        assert torch.allclose(vision.prompts(), vision.coupling(text.prompt))
    loss = F.cross_entropy(rp(images), torch.tensor([0, 1, 2]))
    loss.backward()
    assert text.prompt.grad.abs().sum() > 0 and deep_text.prompt.grad.abs().sum() > 0
    assert rp.parameter_count() == 2 * 32 + (32 * 32 + 32) + 2 * 32 + (32 * 32 + 32)


# -- activation prompts ----------------------------------------------------------------------------------
def test_activation_prompt_on_a_cnn_matches_a_hand_written_forward():
    net = tiny_cnn(num_classes=10)
    frozen = FrozenModel(net, layers=["layer2"])
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    rp = activation_prompt.build(frozen, num_classes=3, layers=[0], example_input=x)
    delta = rp.inputs[0].deltas[0]
    assert delta.shape == (16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(rp(x), rp.output(net(x)), atol=1e-6)  # δ starts at zero
        delta.normal_()
        expected = rp.output(net.head(net.layer2(net.layer1(x) + delta).mean(dim=(2, 3))))
        assert torch.allclose(rp(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="layers"):
        activation_prompt.build(frozen, num_classes=3, layers=[3], example_input=x)
    with pytest.raises(ValueError, match="input_shape"):
        activation_prompt.build(frozen, num_classes=3)


def test_activation_prompt_on_a_vit_uses_the_token_map(images):
    vit = tiny_vit()
    rp = activation_prompt.build(FrozenModel(vit, readout="cls"), num_classes=2, layers=[-1], input_shape=[3, 32, 32])
    assert rp.inputs[0].layers == (1,) and rp.inputs[0].deltas[0].shape == (17, 32)


# -- graph prompt features ---------------------------------------------------------------------------------
def test_gpf_and_gpf_plus_formulas():
    torch.manual_seed(0)
    gnn = TinyGCN(5, hidden=8).eval()
    graphs, labels = random_graphs(6, 4, 5, generator=torch.Generator().manual_seed(0))
    graphs["mask"][0, 3] = 0  # a padded node
    plain = gpf.build(gnn, num_classes=2, features=5)
    with torch.no_grad():
        assert torch.allclose(plain(graphs), plain.output(gnn(graphs)), atol=1e-6)
        plain.inputs[0].prompt.normal_()
        shifted = {**graphs, "x": graphs["x"] + plain.inputs[0].prompt * graphs["mask"].unsqueeze(-1)}
        assert torch.allclose(plain(graphs), plain.output(gnn(shifted)), atol=1e-6)
    plus = gpf_plus.build(gnn, num_classes=2, features=5, basis=3)
    part = plus.inputs[0]
    with torch.no_grad():
        alpha = torch.softmax(graphs["x"] @ part.attention.weight.t(), dim=-1)
        x = graphs["x"] + (alpha @ part.basis) * graphs["mask"].unsqueeze(-1)
        assert torch.allclose(plus(graphs), plus.output(gnn({**graphs, "x": x})), atol=1e-6)
        assert torch.equal(part(graphs)["x"][0, 3], graphs["x"][0, 3])
    assert part.trainable_parameters == 2 * 3 * 5


def test_gpf_training_lowers_the_loss():
    from reprogrammability.framework.training import Trainer

    torch.manual_seed(0)
    gnn = TinyGCN(5, hidden=8).eval()
    graphs, labels = random_graphs(32, 6, 5, generator=torch.Generator().manual_seed(1))
    rp = gpf_plus.build(gnn, num_classes=2, features=5, basis=2)
    before = F.cross_entropy(rp(graphs), labels).item()
    one_per_graph = [{key: value[i] for key, value in graphs.items()} for i in range(len(labels))]
    Trainer(rp, epochs=30, batch_size=32, learning_rate=0.05, progress=False, device="cpu").fit((one_per_graph, labels))
    assert F.cross_entropy(rp(graphs), labels).item() < before - 0.05
    rp.frozen.assert_unchanged()
