"""Model reprogramming: learned input-space programs and output label mappings (issue 5).

Shared parts (importing this package imports none of them; each is cheap and torch-only):

* :mod:`.programs`: visual programs (padding, full-canvas tanh, watermark/patch prompts, shrink-pad,
  learnable resize, sample-specific masks, BlackVIP's coordinator, REFINE's transformation);
* :mod:`.label_mapping`: RLM, FLM, ILM, many-to-one, BLM, BLM+, similarity mapping, label shuffling;
* :mod:`.zeroth_order`: RGF (BAR) and SPSA-GC (BlackVIP) gradient estimators for the trainer;
* :mod:`.cross_modal`: tokens → images, series → waveforms, vocabulary remapping, Time-LLM and TEST parts;
* :mod:`.vision_language`: description-based alignments for CLIP (AttrVR, DVP).

One module per catalog id (``ilm_vp``, ``blm``, ``blm_plus``, ...) defines its config and registered
``build``; use :func:`reprogrammability.implementations.create_method`.
"""
