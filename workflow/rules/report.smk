# The HTML report (`snakemake --report report.html`): pages made for it here — steering clips a reader
# can play (the report viewer only downloads WAVs), the localization summary and the protocol tables as
# HTML — next to the figures the other rules flag with report(). Captions: workflow/report/*.rst.

report: "../report/workflow.rst"


rule report_clips:
    """Players for a few alphas of every (method, arm) sweep of one concept, WAVs embedded."""
    input:
        manifests=lambda w: [
            f"{RESULTS}/sweeps/{w.arch}/{c}/{cell}/manifest.csv" for c, cell in steering_cells(w.arch) if c == w.concept
        ],
        # the clips themselves: a re-run sweep writes the same manifest (same checksum) but new audio
        clips=lambda w: [f"{RESULTS}/sweeps/{w.arch}/{c}/{cell}/wav" for c, cell in steering_cells(w.arch) if c == w.concept],
    output:
        report(
            f"{REPORT}/{{arch}}/clips_{{concept}}.html",
            caption="../report/clips.rst",
            category="Steering clips",
            subcategory="{arch}",
            labels={"concept": "{concept}"},
        ),
    params:
        per_sweep=5,
    log:
        f"{LOGS}/report/{{arch}}/clips_{{concept}}.log",
    wildcard_constraints:
        concept="[a-z_]+",
    conda:
        "../../envs/tada.yaml"
    script:
        "../scripts/report_clips.py"


rule report_localization_summary:
    """The localization summary (impact per site, found sets vs ground truth) as an HTML page."""
    input:
        f"{LOC}/{{arch}}/summary.md",
    output:
        report(
            f"{REPORT}/{{arch}}/localization_summary.html",
            caption="../report/localization_summary.rst",
            category="Localization",
            subcategory="{arch}",
            labels={"figure": "summary"},
        ),
    params:
        title=lambda w: f"Localization — {w.arch}",
    log:
        f"{LOGS}/report/{{arch}}/localization_summary.log",
    conda:
        "../../envs/tada.yaml"
    script:
        "../scripts/report_markdown.py"


rule report_protocol_page:
    """A protocol page as HTML: the tables (AUC, smoothness, quality per cell and concept) or the claims."""
    input:
        f"{RESULTS}/protocol/{{arch}}/{{page}}.md",
    output:
        report(
            f"{REPORT}/{{arch}}/protocol_{{page}}.html",
            caption="../report/protocol_page.rst",
            category="Steering protocol",
            subcategory="{arch}",
            labels={"figure": "{page}"},
        ),
    params:
        title=lambda w: f"Steering protocol — {w.arch}" + (" — the paper's claims" if w.page == "claims" else ""),
    log:
        f"{LOGS}/report/{{arch}}/protocol_{{page}}.log",
    wildcard_constraints:
        page="tables|claims",
    conda:
        "../../envs/tada.yaml"
    script:
        "../scripts/report_markdown.py"
