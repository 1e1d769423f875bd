# tada: localization and steering of text-to-music diffusion models.
# Default run: the built-in mini model on CPU (config/config.yaml). See README.md.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/mini.smk"
include: "workflow/rules/localization.smk"
include: "workflow/rules/steering.smk"
include: "workflow/rules/protocol.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        model_card_targets(),  # when the mini model is one of the archs
        localization_targets(),
        sweep_targets(),
        published_targets(),  # only with the reference data (reference.*), else one line says how
        expand(f"{RESULTS}/protocol/{{arch}}/{{table}}.md", arch=STEERING["archs"], table=["tables", "claims"]),
        report_targets(),  # the pages of `snakemake --report report.html`
    default_target: True


rule sweeps:
    """Every steering artifact and sweep of the config, nothing after them (the DVC steering stage)."""
    input:
        sweep_targets(),
    localrule: True
