"""Prompt instruction: fixed prompts (λ = fixed) with rule-based, statistical or identity alignment.

Shared parts (composed by the one-module-per-method files):

* :mod:`.templates`: :class:`Template`, :class:`PromptBatch`, :class:`FewShotPrompt` (strings → strings);
* :mod:`.selection`: demonstration selection (random, fixed, nearest by embedding) and ordering;
* :mod:`.scoring`: :class:`CausalLMScorer` (f with a shared-prefix key/value cache and continuation
  scoring) and :class:`LabelWordScoring` (first-token / summed / length-normalised label words);
* :mod:`.calibration`: contextual calibration (Zhao et al. 2021);
* :mod:`.reasoning`: generation, chain-of-thought prompts and answer-extraction rules;
* :mod:`.vision_language`: CLIP class-prompt templates, ensembles, descriptors, ZPE weights;
* :mod:`.markers`: visual markers (circle, box, blur outside a region, numbered marks);
* :mod:`.steering`: steering / task / function vectors read from the frozen model's activations;
* :mod:`.structured`: structured prompting (demonstration groups as a rescaled key/value prefix).
"""
