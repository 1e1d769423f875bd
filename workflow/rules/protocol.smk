# Evaluation protocol: the published tables rebuilt from the frozen CSVs, and
# sweep -> per-clip metrics -> per-alpha curves -> protocol tables and plots.
# Config: protocol.{shared_reference, published_axes, window_seconds}; optional
# protocol.{concepts, methods} (the sweeps to tabulate; default: those on disk),
# protocol.extra_metrics (muqt, fad, aesthetics, mir) and protocol.checkpoints
# (clap, muqt, vggish, aesthetics -> local path or hub id).

PROTOCOL = config["protocol"]
PROTOCOL_RESULTS = config.get("results", "results")
PROTOCOL_REFERENCE_CELLS = ("pci_all", "pci_loc")


def protocol_cells(arch):
    """(concept, method) sweeps of an arch: protocol.concepts x protocol.methods, else those on disk."""
    if PROTOCOL.get("concepts") and PROTOCOL.get("methods"):
        return [(c, m) for c in PROTOCOL["concepts"] for m in PROTOCOL["methods"]]
    found = glob_wildcards(
        f"{PROTOCOL_RESULTS}/sweeps/{arch}/{{concept,[^/]+}}/{{method,[^/]+}}/manifest.csv"
    )
    return sorted(set(zip(found.concept, found.method)))


def protocol_per_alpha(arch, concept, method):
    return f"{PROTOCOL_RESULTS}/protocol/{arch}/{concept}/{method}/per_alpha.csv"


def protocol_cell_inputs(wildcards):
    """The cell's own curve plus the reference (PCI) cells of its concept, which set the cut-offs."""
    cells = set(protocol_cells(wildcards.arch))
    refs = [m for m in PROTOCOL_REFERENCE_CELLS if (wildcards.concept, m) in cells and m != wildcards.method]
    return [protocol_per_alpha(wildcards.arch, wildcards.concept, m) for m in [wildcards.method, *refs]]


def protocol_arch_inputs(wildcards):
    return [protocol_per_alpha(wildcards.arch, c, m) for c, m in protocol_cells(wildcards.arch)]


rule published_tables:
    """The paper's AUC / smoothness / quality tables for one preservation axis, from the frozen CSVs."""
    input:
        steering=f"{PROTOCOL['shared_reference']}/steering_metrics.csv",
        quality=f"{PROTOCOL['shared_reference']}/quality_metrics.csv",
    output:
        csv=f"{PROTOCOL_RESULTS}/published/tables_{{axis}}.csv",
        md=f"{PROTOCOL_RESULTS}/published/tables_{{axis}}.md",
        tex=f"{PROTOCOL_RESULTS}/published/tables_{{axis}}.tex",
    log:
        f"{PROTOCOL_RESULTS}/logs/protocol/published_{{axis}}.log",
    wildcard_constraints:
        axis="[a-z]+",
    script:
        "../scripts/protocol_published.py"


rule protocol_metrics:
    """Per-clip alignment to the concept text (the arch's scorer) and LPAPS vs the alpha=0 clip."""
    input:
        manifest=f"{PROTOCOL_RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}/manifest.csv",
        scorer=lambda w: [f"{PROTOCOL_RESULTS}/mini/scorer/config.json"] if w.arch == "mini" else [],
    output:
        f"{PROTOCOL_RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/metrics.csv",
    params:
        results=PROTOCOL_RESULTS,
        window_seconds=PROTOCOL["window_seconds"],
        extras=PROTOCOL.get("extra_metrics", []),
        checkpoints=PROTOCOL.get("checkpoints", {}),
        cache=lambda w: f"{PROTOCOL_RESULTS}/protocol/{w.arch}/cache",
    log:
        f"{PROTOCOL_RESULTS}/logs/protocol/{{arch}}/{{concept}}/{{method}}/metrics.log",
    wildcard_constraints:
        arch="[^/]+",
        concept="[^/]+",
        method="[^/]+",
    threads: config.get("threads", 1)
    script:
        "../scripts/protocol_metrics.py"


rule protocol_per_alpha:
    """Per-alpha means over prompts and seeds."""
    input:
        f"{PROTOCOL_RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/metrics.csv",
    output:
        f"{PROTOCOL_RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/per_alpha.csv",
    log:
        f"{PROTOCOL_RESULTS}/logs/protocol/{{arch}}/{{concept}}/{{method}}/per_alpha.log",
    wildcard_constraints:
        arch="[^/]+",
        concept="[^/]+",
        method="[^/]+",
    script:
        "../scripts/protocol_per_alpha.py"


rule protocol_cell_table:
    """AUC / smoothness / quality of one (arch, concept, method) cell."""
    input:
        protocol_cell_inputs,
    output:
        csv=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/table.csv",
        md=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/{{concept}}/{{method}}/table.md",
    log:
        f"{PROTOCOL_RESULTS}/logs/protocol/{{arch}}/{{concept}}/{{method}}/table.log",
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
        csv=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/tables.csv",
        md=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/tables.md",
        tex=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/tables.tex",
        alignment=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/alignment_vs_lpaps.png",
        gain=f"{PROTOCOL_RESULTS}/protocol/{{arch}}/gain_auc.png",
    log:
        f"{PROTOCOL_RESULTS}/logs/protocol/{{arch}}/tables.log",
    wildcard_constraints:
        arch="[^/]+",
    script:
        "../scripts/protocol_tables.py"
