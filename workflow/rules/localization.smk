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
        features=LOCALIZATION["features"],
        per_feature=LOCALIZATION["pairs_per_feature"],
        seed=config["world"]["seed"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/{{arch}}/pairs.log",
    script:
        "../scripts/localization_pairs.py"


rule localization_cell:
    """Patched clips of one (feature, preset), written and scored against the clean concept's text."""
    input:
        pairs=f"{LOC}/{{arch}}/pairs.parquet",
        model=lambda w: model_inputs(w.arch),
        scorer=lambda w: scorer_inputs(w.arch),
    output:
        audio=directory(f"{LOC}/{{arch}}/{{feature}}/{{preset}}/audio"),
        manifest=f"{LOC}/{{arch}}/{{feature}}/{{preset}}/manifest.csv",
        scores=f"{LOC}/{{arch}}/{{feature}}/{{preset}}/scores.csv",
    params:
        checkpoint=lambda w: checkpoint_of(w.arch),
        load=lambda w: load_options(w.arch),
        variant=LOCALIZATION["variant"],
        backwards=LOCALIZATION["reverse"],
        seeds_per_pair=LOCALIZATION["seeds_per_pair"],
        results=lambda w: RESULTS,  # the mini scorer's checkpoint lives under it
        clap=config.get("protocol", {}).get("checkpoints", {}).get("clap"),
        threads=config["threads"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/localization/{{arch}}/{{feature}}/{{preset}}.log",
    wildcard_constraints:
        feature="[^/]+",
        preset="[^/]+",
    script:
        "../scripts/localization_cell.py"


rule localization_impact:
    """Impact I(l, c), I(l), the tau bottleneck as a preset, the figures and a summary."""
    input:
        scores=lambda w: expand(
            f"{LOC}/{w.arch}/{{feature}}/{{preset}}/scores.csv",
            feature=LOCALIZATION["features"],
            preset=localization_presets(w.arch),
        ),
        truth=lambda w: [MINI_MODEL] if w.arch == "mini" else [],
    output:
        impact=f"{LOC}/{{arch}}/impact.csv",
        heatmap_png=f"{LOC}/{{arch}}/heatmap.png",
        heatmap_pdf=f"{LOC}/{{arch}}/heatmap.pdf",
        bars=f"{LOC}/{{arch}}/impact_bars.png",
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
