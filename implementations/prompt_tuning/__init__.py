"""Prompt tuning: learned continuous (or discrete) prompts in the embedding and hidden space of a frozen model.

Shared parts (each an :class:`~reprogrammability.framework.InputManipulation` or
:class:`~reprogrammability.framework.OutputAlignment` with a ``symbolic()`` form):

============================  ================================================================================
module                        parts
============================  ================================================================================
:mod:`.soft_prompt`           ``SoftPrompt`` ``[P; E(x)]`` and its initialisations (uniform, vocabulary, text)
:mod:`.encoders`              ``EncodedPrompt`` ``[g_θ(P); E(x)]`` with an MLP or bi-LSTM prompt encoder
:mod:`.prefix`                ``KeyValuePrompt``: per-layer key/value prefixes, direct or MLP-reparameterised
:mod:`.deep`                  ``DeepPrompts`` (replace prompt slots at every layer), coupled prompts (MaPLe)
:mod:`.verbalizer`            ``Verbalizer`` (label words), ``LabelEmbeddingAlignment`` (WARP, DART)
:mod:`.clip`                  CoOp context, CoCoOp meta-network, conditional CLIP adapter, KgCoOp loss
:mod:`.discrete`              AutoPrompt trigger tokens and their gradient-guided search
:mod:`.black_box`             BBT's projected prompt ``A z + p₀`` and a CMA-ES optimiser
:mod:`.graph`                 a tiny dense GCN, GPF and GPF-plus feature prompts
:mod:`.activation`            activation prompts ``h_ℓ + δ``
:mod:`.peft_format`           export to / import from peft's prompt-learning adapter format
:mod:`.policy_gradient`       BDPL's categorical prompt tokens and variance-reduced policy-gradient estimator
:mod:`.instruction_search`    searched natural-language instructions, the injectable optimiser LM (OPRO, ProTeGi)
:mod:`.instance_prompt`       IDPG's per-input generated prompt and the adapter that reads M(x)
:mod:`.adaption`              LLaMA-Adapter's zero-initialised gated adaption prompts
:mod:`.composed_prompt`       CODA-Prompt's attention-composed prompt components, grouped by task
:mod:`.unified_prompt`        UPT's unified prompt for CLIP's two towers
:mod:`.graph_pretext`         a GNN with a link-prediction pretext head, GPPT's token-pair prompt
============================  ================================================================================

One module per catalog id (``prompt_tuning.py``, ``p_tuning.py`` ...) composes them and registers
its ``build``.
"""
