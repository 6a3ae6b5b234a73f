"""Our prompt-tuning parts against huggingface/peft on local random-config models (no hub).

With the same prompt weights copied into both, the logits, the loss and the prompt gradients agree
to 1e-6: prompt tuning, P-tuning (MLP and LSTM encoders), prefix tuning (direct and MLP-
reparameterised) on a GPT-2-like and a Llama-like model with grouped-query attention; learned
prompts round-trip through peft's adapter format in both directions.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

peft = pytest.importorskip("peft")
pytest.importorskip("transformers")

from peft import PeftModel, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, get_peft_model  # noqa: E402

from reprogrammability.framework.frozen import FrozenModel  # noqa: E402
from reprogrammability.framework.reprogrammer import Reprogrammer  # noqa: E402
from reprogrammability.implementations.models.tiny import tiny_causal_lm  # noqa: E402
from reprogrammability.implementations.prompt_tuning.encoders import EncodedPrompt, PromptEncoder  # noqa: E402
from reprogrammability.implementations.prompt_tuning.peft_format import export_peft, import_peft  # noqa: E402
from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt  # noqa: E402
from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt  # noqa: E402

TOL = 1e-6
KINDS = ("gpt2", "llama")
P = 5  # virtual tokens


def model_of(kind: str):
    # llama: 4 query heads sharing 2 key/value heads (grouped-query attention), rotary positions
    return tiny_causal_lm(kind, vocab_size=97, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, seed=3)


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(7, 97, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # right padding
    mask[2, 4:] = 0
    targets = torch.randint(7, 97, (3, 9), generator=g)
    return {"input_ids": ids, "attention_mask": mask}, targets


def lm_loss(logits, targets, mask):
    keep = mask.bool()
    return F.cross_entropy(logits[keep].float(), targets[keep])


def ours(model, part):
    return Reprogrammer(FrozenModel(model, readout="sequence"), part, paradigm="prompt-tuning")


def compare(peft_model, peft_params, reprogrammer, our_params, real_offset: int):
    """Run both on the same batch; return max |Δ| of logits, loss and each pair of gradients."""
    x, targets = batch()
    peft_model.train()  # dropout is 0 everywhere; train mode as in fine-tuning
    theirs = peft_model(**x).logits[:, real_offset:]
    loss_theirs = lm_loss(theirs, targets, x["attention_mask"])
    loss_theirs.backward()
    mine = reprogrammer(x)
    loss_mine = lm_loss(mine, targets, x["attention_mask"])
    loss_mine.backward()
    keep = x["attention_mask"].bool()
    diffs = {
        "logits": (theirs[keep] - mine[keep]).abs().max().item(),
        "loss": abs(loss_theirs.item() - loss_mine.item()),
    }
    for (name, a), b in zip(peft_params, our_params):
        assert a.grad is not None and b.grad is not None, name
        assert a.grad.abs().sum() > 0, f"{name}: no gradient reached the prompt"
        diffs[f"grad:{name}"] = (a.grad - b.grad).abs().max().item()
    return diffs


@pytest.mark.parametrize("kind", KINDS)
def test_prompt_tuning_matches_peft(kind):
    model = model_of(kind)
    peft_model = get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P))
    weight = peft_model.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    part = SoftPrompt(weight.detach().clone())
    diffs = compare(peft_model, [("prompt", weight)], ours(peft_model.get_base_model(), part), [part.prompt], P)
    assert max(diffs.values()) < TOL, diffs


@pytest.mark.parametrize("encoder", ["MLP", "LSTM"])
@pytest.mark.parametrize("kind", KINDS)
def test_p_tuning_matches_peft(kind, encoder):
    model = model_of(kind)
    config = PromptEncoderConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=P, encoder_reparameterization_type=encoder, encoder_hidden_size=16
    )
    peft_model = get_peft_model(model, config)
    theirs = peft_model.prompt_encoder["default"]
    mine = EncodedPrompt(
        theirs.embedding.weight.detach(),
        PromptEncoder(32, 16, kind=encoder.lower(), lstm_layers=config.encoder_num_layers),
    )
    state = {"pseudo_tokens": theirs.embedding.weight}
    for key, value in theirs.state_dict().items():
        if key.startswith("mlp_head."):
            state["encoder.mlp." + key[len("mlp_head.") :]] = value
        elif key.startswith("lstm_head."):
            state["encoder.lstm." + key[len("lstm_head.") :]] = value
    mine.load_state_dict(state, strict=True)
    pairs = [("pseudo_tokens", theirs.embedding.weight, mine.pseudo_tokens)]
    pairs += [
        (f"mlp.{n}", p, dict(mine.encoder.mlp.named_parameters())[n]) for n, p in theirs.mlp_head.named_parameters()
    ]
    if encoder == "LSTM":
        pairs += [
            (f"lstm.{n}", p, dict(mine.encoder.lstm.named_parameters())[n])
            for n, p in theirs.lstm_head.named_parameters()
        ]
    diffs = compare(
        peft_model, [(n, a) for n, a, _ in pairs], ours(peft_model.get_base_model(), mine), [b for *_, b in pairs], P
    )
    assert max(diffs.values()) < TOL, diffs
    assert mine.symbolic().evaluate_parameter_count() == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_prefix_tuning_matches_peft(kind, projection):
    model = model_of(kind)
    peft_model = get_peft_model(
        model,
        PrefixTuningConfig(
            task_type="CAUSAL_LM", num_virtual_tokens=P, prefix_projection=projection, encoder_hidden_size=24
        ),
    )
    theirs = peft_model.prompt_encoder["default"]
    frozen = FrozenModel(peft_model.get_base_model(), readout="sequence")
    geometry = frozen.adapter.attention_geometry(frozen.model)
    if kind == "llama":
        assert geometry.num_kv_heads == 2 and peft_model.peft_config["default"].num_attention_heads == 2
    token_dim = geometry.num_kv_heads * geometry.head_dim
    mine = KeyValuePrompt(geometry, P, reparameterize_dim=token_dim if projection else None, hidden=24)
    if projection:
        with torch.no_grad():  # peft zero-initialises nothing here; give the output layer some scale
            theirs.transform[2].weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(2))
        mine.load_state_dict(
            {
                "prefix_embedding": theirs.embedding.weight,
                **{f"reparameterization.{k}": v for k, v in theirs.transform.state_dict().items()},
            }
        )
        pairs = [("embedding", theirs.embedding.weight, mine.prefix_embedding)]
        pairs += [
            (f"mlp.{n}", p, dict(mine.reparameterization.named_parameters())[n])
            for n, p in theirs.transform.named_parameters()
        ]
    else:
        mine.load_state_dict({"prefix": theirs.embedding.weight})
        pairs = [("prefix", theirs.embedding.weight, mine.prefix)]
    reprogrammer = Reprogrammer(frozen, mine, paradigm="prompt-tuning")
    diffs = compare(peft_model, [(n, a) for n, a, _ in pairs], reprogrammer, [b for *_, b in pairs], 0)
    assert max(diffs.values()) < TOL, diffs
    assert mine.symbolic().evaluate_parameter_count() == sum(p.numel() for p in theirs.parameters())


def test_prefix_positions_are_offset_by_the_prefix_length_on_rotary_models():
    """Real tokens take positions L_p, L_p+1, ... (as in peft): the same prefix with positions 0.. differs."""
    model = model_of("llama")
    frozen = FrozenModel(model, readout="sequence")
    geometry = frozen.adapter.attention_geometry(model)
    part = KeyValuePrompt(geometry, P, generator=torch.Generator().manual_seed(0))
    x, _ = batch()
    x = {"input_ids": x["input_ids"][:1, :6], "attention_mask": x["attention_mask"][:1, :6]}
    mine = Reprogrammer(frozen, part, paradigm="prompt-tuning")(x)
    from transformers import DynamicCache

    def run(positions):
        cache = DynamicCache(
            ddp_cache_data=[(k, v) for k, v in part.key_value_prefix(1, geometry)], config=model.config
        )
        mask = torch.ones(1, P + 6, dtype=torch.long)
        return model(
            input_ids=x["input_ids"], attention_mask=mask, past_key_values=cache, position_ids=positions
        ).logits

    shifted = run(torch.arange(P, P + 6).unsqueeze(0))
    unshifted = run(torch.arange(6).unsqueeze(0))
    assert (mine - shifted).abs().max() < TOL
    assert (mine - unshifted).abs().max() > 1e-3


@pytest.mark.parametrize("method", ["prompt", "p-tuning", "prefix"])
def test_export_to_peft_loads_in_peft_with_the_same_logits(tmp_path, method):
    model = model_of("llama")
    frozen = FrozenModel(model, readout="sequence")
    geometry = frozen.adapter.attention_geometry(model)
    torch.manual_seed(5)
    if method == "prompt":
        part = SoftPrompt(torch.randn(P, 32))
    elif method == "p-tuning":
        part = EncodedPrompt(torch.randn(P, 32), PromptEncoder(32, 16, kind="lstm"))
    else:
        part = KeyValuePrompt(geometry, P, reparameterize_dim=16, hidden=24)
        with torch.no_grad():
            part.reparameterization[2].weight.mul_(10)
    reprogrammer = Reprogrammer(frozen, part, paradigm="prompt-tuning")
    x, _ = batch()
    with torch.no_grad():
        mine = reprogrammer(x)
    folder = export_peft(reprogrammer, tmp_path / "adapter")
    with pytest.raises(FileExistsError):
        export_peft(reprogrammer, tmp_path / "adapter")
    loaded = PeftModel.from_pretrained(model_of("llama"), folder)
    with torch.no_grad():
        theirs = loaded(**x).logits
    theirs = theirs if method == "prefix" else theirs[:, P:]
    keep = x["attention_mask"].bool()
    assert (theirs[keep] - mine[keep]).abs().max() < TOL


@pytest.mark.parametrize("method", ["prompt", "p-tuning", "prefix"])
def test_import_from_peft_gives_the_same_logits(tmp_path, method):
    model = model_of("gpt2")
    if method == "prompt":
        config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
    elif method == "p-tuning":
        config = PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=P, encoder_hidden_size=16)
    else:
        config = PrefixTuningConfig(
            task_type="CAUSAL_LM", num_virtual_tokens=P, prefix_projection=True, encoder_hidden_size=24
        )
    torch.manual_seed(7)
    peft_model = get_peft_model(model, config)
    for p in peft_model.prompt_encoder.parameters():
        with torch.no_grad():
            p.normal_(0, 0.5)
    peft_model.eval()
    x, _ = batch()
    with torch.no_grad():
        theirs = peft_model(**x).logits
    peft_model.save_pretrained(tmp_path / "adapter")
    frozen = FrozenModel(model_of("gpt2"), readout="sequence")
    part = import_peft(tmp_path / "adapter", geometry=frozen.adapter.attention_geometry(frozen.model))
    assert isinstance(part, KeyValuePrompt if method == "prefix" else SoftPrompt)
    with torch.no_grad():
        mine = Reprogrammer(frozen, part, paradigm="prompt-tuning")(x)
    theirs = theirs if method == "prefix" else theirs[:, P:]
    keep = x["attention_mask"].bool()
    assert (theirs[keep] - mine[keep]).abs().max() < TOL


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prompt", "prefix"])
def test_smollm2_matches_peft(method):
    """The real SmolLM2-135M (Llama architecture, 9 query / 3 key-value heads, RoPE)."""
    from reprogrammability.implementations.models.pretrained import load_smollm2

    model, tokenizer = load_smollm2()
    texts = ["Review: a warm and funny film\nSentiment:", "Review: dull\nSentiment:"]
    x = tokenizer(texts, padding=True, return_tensors="pt")
    x = {"input_ids": x["input_ids"], "attention_mask": x["attention_mask"]}
    if method == "prompt":
        config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
    else:
        config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
    peft_model = get_peft_model(model, config)
    weight = peft_model.prompt_encoder["default"].embedding.weight
    with torch.no_grad():
        weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    frozen = FrozenModel(peft_model.get_base_model(), readout="sequence")
    if method == "prompt":
        part, offset = SoftPrompt(weight.detach().clone()), P
    else:
        geometry = frozen.adapter.attention_geometry(frozen.model)
        assert (geometry.num_layers, geometry.num_kv_heads, geometry.head_dim) == (30, 3, 64)
        part, offset = KeyValuePrompt(geometry, P, init_std=0.0), 0
        with torch.no_grad():
            part.prefix.copy_(weight)
    with torch.no_grad():
        theirs = peft_model(**x).logits[:, offset:]
        mine = Reprogrammer(frozen, part, paradigm="prompt-tuning")(x)
    keep = x["attention_mask"].bool()
    assert (theirs[keep] - mine[keep]).abs().max() < 1e-4
