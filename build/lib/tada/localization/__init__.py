"""Localization by activation patching: which cross-attention layers carry each musical concept.

``features`` (the concepts and their counterfactual swaps) -> ``prompts`` (clean/corrupted pairs) ->
``patching`` (the engine) -> ``cells`` (patched clips written and scored) -> ``impact`` (I(l, c), I(l),
the tau bottleneck) -> ``report`` and ``plots`` (impact table, heatmaps, localized presets, summary).
``layout`` names the sites a sweep visits before any model is loaded.
"""
