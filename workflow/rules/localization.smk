# Localization by activation patching: prompt pairs -> patched and scored cells per
# (arch, feature, preset) -> impact table, heatmap, I(l) bars, localized preset(s), summary;
# plus heatmaps of the published impact table.
# Config: localization.{archs, features, presets, pairs_per_feature, seeds_per_pair, variant,
# reverse, tau, prompt_files}; reference.* (published table, see common.smk), protocol.checkpoints.clap.

rule localization_pairs:
    """Prompt pairs of the configured features: a prompt file, the published dataset or the mini world."""
    input:
        lambda w: [LOCALIZATION["prompt_files"][w.arch]] if w.arch in LOCALIZATION["prompt_files"] else [],
    output:
        f"{LOC}/{{arch}}/pairs.parquet",
    params:
        features=lambda w: features_of(w.arch),
        per_feature=LOCALIZATION["pairs_per_feature"],
        seed=config["world"]["seed"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/{{arch}}/pairs.log",
    script:
        "../scripts/localization_pairs.py"


# One job per (arch, feature): the model and scorer load once and every preset's cell is written from
# one clean recording, while each (feature, preset) cell stays its own output. Rules are named
# `localization_<arch>` (profiles set resources per arch: GPU for the real models, CPU for mini).
for _arch in LOCALIZATION["archs"]:
    _presets = localization_presets(_arch)
    _cell = f"{LOC}/{_arch}/{{feature}}"

    rule:
        name:
            f"localization_{_arch}"
        input:
            pairs=f"{LOC}/{_arch}/pairs.parquet",
            model=model_inputs(_arch),
            scorer=scorer_inputs(_arch),
        output:
            audio=[directory(f"{_cell}/{p}/audio") for p in _presets],
            manifests=[f"{_cell}/{p}/manifest.csv" for p in _presets],
            scores=[f"{_cell}/{p}/scores.csv" for p in _presets],
        params:
            arch=_arch,
            presets=_presets,
            checkpoint=lambda w, arch=_arch: checkpoint_of(arch),  # a function: the mini path is a results prefix
            load=load_options(_arch),
            variant=LOCALIZATION["variant"],
            backwards=LOCALIZATION["reverse"],
            seeds_per_pair=LOCALIZATION["seeds_per_pair"],
            noise=LOCALIZATION.get("noise", "per_clip"),
            loudness=LOCALIZATION.get("loudness", "per_clip"),
            results=lambda w: RESULTS,  # the mini scorer's checkpoint lives under it
            clap=config.get("protocol", {}).get("checkpoints", {}).get("clap"),
        threads: config["threads"]
        conda:
            "../../envs/tada.yaml"
        log:
            f"{LOGS}/localization/{_arch}/{{feature}}.log",
        wildcard_constraints:
            feature="|".join(features_of(_arch)),
        script:
            "../scripts/localization_feature.py"


rule localization_impact:
    """Impact I(l, c), I(l), the tau bottleneck as a preset, the figures and a summary."""
    input:
        scores=lambda w: expand(
            f"{LOC}/{w.arch}/{{feature}}/{{preset}}/scores.csv",
            feature=features_of(w.arch),
            preset=localization_presets(w.arch),
        ),
        truth=lambda w: built_here(w.arch, "model", []),  # the mini model's config holds its ground truth
    output:
        impact=f"{LOC}/{{arch}}/impact.csv",
        heatmap_png=report(
            f"{LOC}/{{arch}}/heatmap.png",
            caption="../report/localization_heatmap.rst",
            category="Localization",
            subcategory="{arch}",
            labels={"figure": "heatmap"},
        ),
        heatmap_pdf=f"{LOC}/{{arch}}/heatmap.pdf",
        bars=report(
            f"{LOC}/{{arch}}/impact_bars.png",
            caption="../report/localization_bars.rst",
            category="Localization",
            subcategory="{arch}",
            labels={"figure": "impact per site"},
        ),
        preset=f"{LOC}/{{arch}}/localized.yaml",
        summary=f"{LOC}/{{arch}}/summary.md",
    params:
        sites=lambda w: localization_sites(w.arch),
        tau=LOCALIZATION["tau"],
        settings={k: LOCALIZATION[k] for k in ("variant", "reverse", "pairs_per_feature", "seeds_per_pair")},
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/{{arch}}/impact.log",
    script:
        "../scripts/localization_impact.py"


rule localization_family_preset:
    """The bottleneck of one attribute family of the mini world, as a preset."""
    input:
        f"{LOC}/{{arch}}/impact.csv",
    output:
        f"{LOC}/{{arch}}/localized_{{family}}.yaml",
    params:
        tau=LOCALIZATION["tau"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/{{arch}}/localized_{{family}}.log",
    wildcard_constraints:
        family="[a-z]+",
    script:
        "../scripts/localization_family.py"


rule localization_published_heatmap:
    """The published impact table of one model, drawn like ours (one panel per metric)."""
    input:
        published_input("localization_impact.csv"),
    output:
        f"{LOC}/published/heatmap_{{model}}.png",
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/published_{{model}}.log",
    wildcard_constraints:
        model="|".join(LOC_PUBLISHED_MODELS),
    script:
        "../scripts/localization_published.py"
