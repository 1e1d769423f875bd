# tada: localization and steering of text-to-music diffusion models.
# Default run: the built-in mini model on CPU (config/config.yaml). See README.md.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/mini.smk"
include: "workflow/rules/localization.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/protocol.smk"


rule all:
    input:
        f"{MINI}/model_card.md",
        localization_targets(),
        sweep_targets(),
        expand(f"{RESULTS}/published/tables_{{axis}}.csv", axis=config["protocol"]["published_axes"]),
        expand(f"{RESULTS}/protocol/{{arch}}/tables.md", arch=["mini"]),
    default_target: True
