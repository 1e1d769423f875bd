# Evaluation protocol: the published tables rebuilt from the frozen CSVs, and
# sweep -> per-clip metrics and per-alpha curves -> protocol tables and plots.
# Config: reference.{published, published_url, fetch} (the frozen CSVs: a local copy, or
# downloaded and SHA-256-checked by rule fetch_published_reference), protocol.{published_axes,
# window_seconds}; optional
# protocol.{concepts, methods} (the sweeps to tabulate; default: those on disk),
# protocol.extra_metrics (muqt, fad, aesthetics, mir) and protocol.checkpoints
# (clap, muqt, vggish, aesthetics -> local path or hub id).

rule fetch_published_reference:
    """One frozen CSV downloaded from the pinned upstream; kept only if its SHA-256 is the pinned one."""
    output:
        f"{REFERENCE_CACHE}/{{name}}",
    params:
        url=REFERENCE_URL,
    log:
        f"{LOGS}/reference/{{name}}.log",
    wildcard_constraints:
        name="|".join(reference_data.PUBLISHED_FILES),
    localrule: True  # needs the internet, which compute nodes may lack
    run:
        reference_data.fetch_reference(wildcards.name, params.url, output[0], log[0])


rule published_tables:
    """The paper's AUC / smoothness / quality tables for one preservation axis, from the frozen CSVs."""
    input:
        steering=published_input("steering_metrics.csv"),
        quality=published_input("quality_metrics.csv"),
    output:
        csv=f"{RESULTS}/published/tables_{{axis}}.csv",
        md=f"{RESULTS}/published/tables_{{axis}}.md",
        tex=f"{RESULTS}/published/tables_{{axis}}.tex",
    conda:
        "../../envs/tada.yaml"
    log:
        f"{RESULTS}/logs/protocol/published_{{axis}}.log",
    wildcard_constraints:
        axis="[a-z]+",
    script:
        "../scripts/protocol_published.py"


rule protocol_metrics:
    """Per-clip alignment to the concept text (the arch's scorer) and LPAPS vs the alpha=0 clip, and their
    per-alpha means over prompts and seeds (the archs not in ``steering.batch_arms``: one job per cell)."""
    input:
        manifests=[f"{RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}/manifest.csv"],
        clips=[f"{RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}/wav"],  # a re-run sweep: same manifest, new audio
        scorer=lambda w: scorer_inputs(w.arch),
    output:
        metrics=[protocol_output("{arch}", "{concept}", "{method}", "metrics.csv")],
        per_alpha=[protocol_output("{arch}", "{concept}", "{method}", "per_alpha.csv")],
    params:
        **protocol_metrics_params(lambda w: w.arch),
    conda:
        "../../envs/tada.yaml"
    log:
        f"{RESULTS}/logs/protocol/{{arch}}/{{concept}}/{{method}}/metrics.log",
    wildcard_constraints:
        arch=per_cell_archs_pattern(),
        concept="[^/]+",
        method="[^/]+",
    threads: config.get("threads", 1)
    script:
        "../scripts/protocol_metrics.py"


# The archs in `steering.batch_arms` score every arm of one (concept, method) in one job, as they sweep
# them (`protocol_metrics_<arch>_<method>`); each cell keeps its own metrics and curve.
for _arch in STEERING.get("batch_arms", []):
    for _method in methods_of(_arch):
        _cells = [f"{_method}_{a}" for a in batched_arms(_arch, _method)]
        if not _cells:
            continue

        rule:
            name:
                f"protocol_metrics_{_arch}_{_method}"
            input:
                manifests=[sweep_manifest(_arch, "{concept}", _method, c.removeprefix(f"{_method}_")) for c in _cells],
                clips=[f"{RESULTS}/sweeps/{_arch}/{{concept}}/{c}/wav" for c in _cells],
                scorer=scorer_inputs(_arch),
            output:
                metrics=[protocol_output(_arch, "{concept}", c, "metrics.csv") for c in _cells],
                per_alpha=[protocol_output(_arch, "{concept}", c, "per_alpha.csv") for c in _cells],
            params:
                **protocol_metrics_params(lambda w, arch=_arch: arch),
            conda:
                "../../envs/tada.yaml"
            log:
                f"{LOGS}/protocol/{_arch}/{{concept}}/{_method}.log",
            wildcard_constraints:
                concept="|".join(concepts_of(_arch)),
            threads: config.get("threads", 1)
            script:
                "../scripts/protocol_metrics.py"


rule protocol_cell_table:
    """AUC / smoothness / quality of one (arch, concept, method) cell."""
    input:
        protocol_cell_inputs,
    output:
        csv=f"{RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/table.csv",
        md=f"{RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/table.md",
    conda:
        "../../envs/tada.yaml"
    log:
        f"{RESULTS}/logs/protocol/{{arch}}/{{concept}}/{{method}}/table.log",
    wildcard_constraints:
        arch="[^/]+",
        concept="[^/]+",
        method="[^/]+",
    script:
        "../scripts/protocol_cell_table.py"


rule protocol_tables:
    """The arch's protocol table over all its sweeps, and the two figures."""
    input:
        protocol_arch_inputs,
    output:
        csv=f"{RESULTS}/protocol/{{arch}}/tables.csv",
        md=f"{RESULTS}/protocol/{{arch}}/tables.md",
        tex=f"{RESULTS}/protocol/{{arch}}/tables.tex",
        alignment=report(
            f"{RESULTS}/protocol/{{arch}}/alignment_vs_lpaps.png",
            caption="../report/protocol_alignment.rst",
            category="Steering protocol",
            subcategory="{arch}",
            labels={"figure": "alignment vs LPAPS"},
        ),
        gain=report(
            f"{RESULTS}/protocol/{{arch}}/gain_auc.png",
            caption="../report/protocol_gain.rst",
            category="Steering protocol",
            subcategory="{arch}",
            labels={"figure": "gain AUC"},
        ),
    conda:
        "../../envs/tada.yaml"
    log:
        f"{RESULTS}/logs/protocol/{{arch}}/tables.log",
    wildcard_constraints:
        arch="[^/]+",
    script:
        "../scripts/protocol_tables.py"


rule protocol_claims:
    """The paper's central steering claims tested on the arch's table, beside the published table when the
    reference data is used."""
    input:
        ours=f"{RESULTS}/protocol/{{arch}}/tables.csv",
        published=claims_published_input(),
    output:
        csv=f"{RESULTS}/protocol/{{arch}}/claims.csv",
        md=f"{RESULTS}/protocol/{{arch}}/claims.md",
    conda:
        "../../envs/tada.yaml"
    log:
        f"{RESULTS}/logs/protocol/{{arch}}/claims.log",
    wildcard_constraints:
        arch="[^/]+",
    script:
        "../scripts/protocol_claims.py"
