# Steering: concept -> artifact (methods with a compute step) -> alpha sweep, per (arch, concept,
# method, arm). The artifact of one (arch, concept, method) is computed once on every site and shared
# by its arms and sweeps (a LoRA slider is trained per arm, on that arm's sites); a sweep writes results/sweeps/{arch}/{concept}/{method}_{arm}/manifest.csv +
# wav/, which the protocol reads. Config: steering.* (config/README.md).


rule steering_artifact:
    """Compute one method's steering artifact for one concept: on every cross-attention site, or (methods
    computed per arm, as a LoRA slider) on the sites of one arm (folder ``{method}_{arm}``)."""
    input:
        unpack(artifact_inputs),
    output:
        directory(f"{RESULTS}/steering/{{arch}}/{{concept}}/{{artifact}}"),
    params:
        method=lambda w: split_artifact(w.artifact)[0],
        sites=artifact_sites,
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        options=lambda w: STEERING.get("options", {}).get(split_artifact(w.artifact)[0], {}),
        compute_prompts=STEERING["compute_prompts"],
        reference_prompts=STEERING.get("reference_prompts"),
    wildcard_constraints:
        concept="[a-z_]+",
        artifact="|".join(ARTIFACT_NAMES),
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/steering/{{arch}}/{{concept}}/{{artifact}}/artifact.log",
    script:
        "../scripts/steering_artifact.py"


rule sweep:
    """Alpha sweep of one (concept, method, arm) cell: WAVs and the manifest the protocol reads."""
    input:
        unpack(sweep_inputs),
    output:
        manifest=sweep_manifest("{arch}", "{concept}", "{method}", "{arm}"),
        clips=directory(f"{RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}_{{arm}}/wav"),
    params:
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        prompts=STEERING["prompts"],
        seeds=STEERING["seeds"],
        alphas=lambda w: alpha_grid(w.arch, w.method, w.concept, w.arm),
        options=lambda w: STEERING.get("options", {}).get(w.method, {}),
        reference_prompts=STEERING.get("reference_prompts"),
        noise=STEERING.get("noise", "per_clip"),
    wildcard_constraints:
        concept="[a-z_]+",
        method="|".join(STEERING_METHODS),
        arm="|".join(STEERING_ARMS),
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/sweeps/{{arch}}/{{concept}}/{{method}}_{{arm}}.log",
    script:
        "../scripts/steering_sweep.py"
