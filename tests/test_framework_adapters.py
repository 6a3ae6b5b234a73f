"""Interface adapters on tiny random transformers models: without manipulations they reproduce the
model exactly; with them, prompts reach the right interface and gradients reach only the prompts."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn

transformers = pytest.importorskip("transformers")

from reprogrammability.framework import (  # noqa: E402
    Configuration,
    EmbeddingState,
    FrozenModel,
    HiddenManipulation,
    IdentityAlignment,
    InputManipulation,
    InterfaceError,
    Location,
    Operator,
    Reprogrammer,
    ShapeError,
)
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x  # noqa: E402


class Prompt(InputManipulation):
    """[P; e] at a position of the embedding sequence (optionally of one tower)."""

    configuration, operator, location = Configuration.LEARNABLE, Operator.CONCATENATIVE, Location.EMBEDDING

    def __init__(self, length: int, dim: int, position: int = 0, tower: str | None = None):
        super().__init__()
        self.prompt = nn.Parameter(torch.randn(length, dim) * 0.1)
        self.position, self.tower = position, tower

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.insert(self.prompt, self.position)

    def symbolic(self) -> SymbolicForm:
        P, D = symbols("P D")
        return SymbolicForm(concat(sp.Symbol("P"), x), P * D, {P: self.prompt.shape[0], D: self.prompt.shape[1]})


class KVPrefix(HiddenManipulation):
    configuration, operator = Configuration.LEARNABLE, Operator.CONCATENATIVE

    def __init__(self, geometry, length: int):
        super().__init__()
        g = geometry
        self.kv = nn.Parameter(torch.randn(g.num_layers, 2, g.num_kv_heads, length, g.head_dim) * 0.1)

    def key_value_prefix(self, batch_size, geometry):
        expand = lambda t: t.unsqueeze(0).expand(batch_size, -1, -1, -1)  # noqa: E731
        return [(expand(self.kv[i, 0]), expand(self.kv[i, 1])) for i in range(geometry.num_layers)]

    def symbolic(self) -> SymbolicForm:
        L, H, P, d = symbols("L H_kv P d")
        shape = self.kv.shape
        return SymbolicForm(x, 2 * L * H * P * d, {L: shape[0], H: shape[2], P: shape[3], d: shape[4]})


class Shift(HiddenManipulation):
    """h_ℓ + δ at chosen layers (an additive hidden edit)."""

    configuration, operator = Configuration.LEARNABLE, Operator.ADDITIVE

    def __init__(self, dim: int, layers=(1,)):
        super().__init__()
        self.layers = tuple(layers)
        self.delta = nn.Parameter(torch.zeros(dim))

    def edit_hidden(self, layer, hidden):
        return hidden + self.delta

    def symbolic(self) -> SymbolicForm:
        (D,) = symbols("D")
        return SymbolicForm(x + sp.Symbol("delta"), D, {D: self.delta.numel()})


def causal_lm(kind: str):
    torch.manual_seed(0)
    if kind == "llama":
        config = transformers.LlamaConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
    else:
        config = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def batch():
    ids = torch.randint(0, 64, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[0, 5:] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_causal_lm_readouts_match_the_model(kind):
    lm = causal_lm(kind)
    x = batch()
    reference = lm(**x).logits
    sequence = FrozenModel(lm, readout="sequence")(x)
    assert torch.allclose(sequence, reference, atol=1e-6)
    last = FrozenModel(lm)(x)  # auto readout for causal LMs: the last real token
    assert torch.allclose(last[0], reference[0, 4], atol=1e-6) and torch.allclose(last[1], reference[1, 6], atol=1e-6)


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_soft_prompt_at_embedding_equals_manual_inputs_embeds(kind):
    lm = causal_lm(kind)
    x = batch()
    prompt = Prompt(4, 32)
    r = Reprogrammer(lm, prompt, IdentityAlignment([3, 5, 7]), paradigm="prompt-tuning")
    scores = r(x)
    embeds = lm.get_input_embeddings()(x["input_ids"])
    manual = torch.cat([prompt.prompt.expand(3, -1, -1), embeds], 1)
    mask = torch.cat([torch.ones(3, 4, dtype=torch.long), x["attention_mask"]], 1)
    logits = lm(inputs_embeds=manual, attention_mask=mask).logits
    assert torch.allclose(scores[0], logits[0, 4 + 4, [3, 5, 7]], atol=1e-6)
    scores.sum().backward()
    assert prompt.prompt.grad.abs().sum() > 0 and all(p.grad is None for p in lm.parameters())
    assert r.evaluated_parameter_count() == r.parameter_count() == 4 * 32


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_key_value_prefix_changes_outputs_and_trains(kind):
    lm = causal_lm(kind)
    frozen = FrozenModel(lm)
    geometry = frozen.adapter.attention_geometry(lm)
    assert (geometry.num_layers, geometry.num_kv_heads, geometry.head_dim) == (
        (2, 2, 8) if kind == "llama" else (2, 4, 8)
    )
    prefix = KVPrefix(geometry, 3)
    r = Reprogrammer(frozen, prefix, paradigm="prompt-tuning")
    x = batch()
    out = r(x)
    assert out.shape == (3, 64) and not torch.allclose(out, frozen(x))
    out.sum().backward()
    assert prefix.kv.grad.abs().sum() > 0
    trace = frozen.trace(x, [prefix])
    assert trace.key_value_length == 3
    assert r.evaluated_parameter_count() == prefix.kv.numel()


def test_hidden_edit_hooks_only_the_chosen_layer():
    lm = causal_lm("llama")
    frozen = FrozenModel(lm)
    x = batch()
    shift = Shift(32, layers=(1,))
    with torch.no_grad():
        shift.delta.fill_(0.5)
    plain, edited = frozen.trace(x, []), frozen.trace(x, [shift])
    assert torch.equal(plain.hidden[0], edited.hidden[0])
    assert torch.allclose(edited.hidden[1], plain.hidden[1] + 0.5, atol=1e-6)
    assert not lm.model.layers[1]._forward_pre_hooks, "hooks are removed after the forward"


def test_vit_matches_and_prompts_go_after_the_class_token():
    torch.manual_seed(0)
    vit = transformers.ViTForImageClassification(
        transformers.ViTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=32,
            patch_size=8,
            num_labels=5,
        )
    ).eval()
    frozen = FrozenModel(vit)
    pixels = torch.randn(2, 3, 32, 32)
    assert torch.allclose(frozen(pixels), vit(pixel_values=pixels).logits, atol=1e-5)
    prompt = Prompt(3, 32, position=1)
    trace = frozen.trace(pixels, [prompt])
    assert trace.hidden[0].shape == (2, 1 + 3 + 16, 32)
    assert torch.equal(trace.hidden[0][:, 1:4], prompt.prompt.detach().expand(2, -1, -1))


def tiny_clip():
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            vocab_size=100,
            max_position_embeddings=20,
            eos_token_id=2,
            bos_token_id=0,
            pad_token_id=1,
        ),
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    return transformers.CLIPModel(config).eval()


def test_clip_classifier_matches_and_both_towers_take_prompts():
    clip = tiny_clip()
    ids = torch.tensor([[0, 5, 6, 7, 99, 1, 1], [0, 8, 9, 99, 1, 1, 1]])
    mask = (torch.arange(7) < torch.tensor([[5], [4]])).long()
    frozen = FrozenModel(clip, class_prompts={"input_ids": ids, "attention_mask": mask})
    pixels = torch.randn(2, 3, 32, 32)
    reference = clip(input_ids=ids, attention_mask=mask, pixel_values=pixels).logits_per_image
    assert torch.allclose(frozen(pixels), reference, atol=1e-5)
    text, vision = Prompt(2, 32, position=1, tower="text"), Prompt(2, 32, position=1, tower="vision")
    r = Reprogrammer(frozen, [text, vision], paradigm="prompt-tuning")
    r(pixels).sum().backward()
    assert text.prompt.grad.abs().sum() > 0 and vision.prompt.grad.abs().sum() > 0
    with pytest.raises(InterfaceError, match=r"tower: 'audio' is not one of \['text', 'vision'\]"):
        Reprogrammer(frozen, Prompt(2, 32, tower="audio"), paradigm="prompt-tuning")(pixels)


def test_embedding_state_insert_tracks_original_positions():
    state = EmbeddingState(torch.zeros(2, 5, 4), torch.ones(2, 5, dtype=torch.long))
    grown = state.insert(torch.ones(3, 4), position=1)
    assert grown.embeds.shape == (2, 8, 4) and grown.attention_mask.shape == (2, 8)
    assert grown.token_positions.tolist() == [0, 4, 5, 6, 7]
    with pytest.raises(ShapeError, match=r"prompt: expected shape \(P, 4\) or \(2, P, 4\), got \(3, 5\)"):
        state.insert(torch.ones(3, 5))
    with pytest.raises(ShapeError, match="embeds: expected shape"):
        state.with_embeds(torch.zeros(2, 6, 4))


def test_strings_need_a_tokenizer():
    with pytest.raises(InterfaceError, match="tokenizer: string inputs need a tokenizer"):
        FrozenModel(causal_lm("gpt2"))(["hello"])


def test_masked_lm_reads_the_mask_token_and_classifier_reads_its_logits():
    from reprogrammability.implementations.models import tiny_masked_lm, tiny_tokenizer

    tokenizer = tiny_tokenizer(style="bert")
    bert = tiny_masked_lm().eval()
    texts = ["the movie was [MASK] .", "a [MASK] film"]
    frozen = FrozenModel(bert, tokenizer=tokenizer)
    scores = frozen(texts)
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    logits = bert(**encoded).logits
    where = (encoded["input_ids"] == tokenizer.mask_token_id).nonzero()
    assert torch.allclose(scores, logits[where[:, 0], where[:, 1]], atol=1e-6)
    prompt = Prompt(2, bert.config.hidden_size)
    prompted = Reprogrammer(frozen, prompt, IdentityAlignment([5, 6]), paradigm="prompt-tuning")
    out = prompted(texts)
    manual = torch.cat([prompt.prompt.expand(2, -1, -1), bert.get_input_embeddings()(encoded["input_ids"])], 1)
    mask = torch.cat([torch.ones(2, 2, dtype=torch.long), encoded["attention_mask"]], 1)
    reference = bert(inputs_embeds=manual, attention_mask=mask).logits
    assert torch.allclose(out, reference[where[:, 0], where[:, 1] + 2][:, [5, 6]], atol=1e-5)
    with pytest.raises(InterfaceError, match="exactly one mask token"):
        frozen(["no mask here"])

    classifier = transformers.BertForSequenceClassification(bert.config).eval()
    frozen = FrozenModel(classifier, tokenizer=tokenizer)
    assert torch.allclose(frozen(texts), classifier(**encoded).logits, atol=1e-6)
