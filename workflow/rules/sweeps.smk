# Steering sweeps that feed the protocol: alphas x prompts x seeds of one (concept, method),
# written as results/sweeps/{arch}/{concept}/{method}/manifest.csv + wav/. For now the methods are
# PCI prompt switching at every layer (pci_all) or at the localized preset (pci_loc); their
# largest LPAPS sets the protocol's cut-offs. Config: sweeps.{concepts, methods, prompts, seeds, alphas}.

rule sweep:
    """PCI alpha sweep of one concept: WAVs and the manifest the protocol reads."""
    input:
        lambda w: model_inputs(w.arch),
    output:
        manifest=sweep_manifest("{arch}", "{concept}", "{method}"),
        clips=directory(f"{RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}/wav"),
    params:
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        prompts=SWEEPS["prompts"],
        seeds=SWEEPS["seeds"],
        alphas=SWEEPS["alphas"],
        threads=config["threads"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/sweeps/{{arch}}/{{concept}}/{{method}}.log",
    wildcard_constraints:
        concept="[a-z_]+",
        method="|".join(SWEEP_METHODS),
    resources:
        runtime=30,
    script:
        "../scripts/sweep_pci.py"
