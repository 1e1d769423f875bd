# Steering: concept -> (balanced evaluation set) -> artifact (methods with a compute step) -> alpha sweep,
# per (arch, concept, method, arm). The artifact of one (arch, concept, method) is computed once on every
# site and shared by its arms and sweeps (a LoRA slider is trained per arm, on that arm's sites); a sweep
# writes results/sweeps/{arch}/{concept}/{method}_{arm}/manifest.csv + wav/, which the protocol reads.
# The archs in steering.balance.archs steer the clips rule eval_set chose (half on each pole at alpha 0).
# Config: steering.* (config/README.md).


rule eval_set:
    """Choose one concept's evaluation clips, half on each pole at alpha 0, from a pool of its neutral
    prompts x seeds generated unsteered and scored (the archs in ``steering.balance.archs``)."""
    input:
        model=lambda w: model_inputs(w.arch),
        scorer=lambda w: scorer_inputs(w.arch),
    output:
        eval_set=eval_set_path("{arch}", "{concept}"),
        pool=f"{RESULTS}/steering/{{arch}}/{{concept}}/eval_pool.csv",
    params:
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        prompts=STEERING["prompts"],
        pool=lambda w: {"prompts": BALANCE["pool_prompts"], "seeds": BALANCE["pool_seeds"]},
        results=lambda w: RESULTS,  # the mini scorer's checkpoint lives under it (as protocol_metrics)
        checkpoints=PROTOCOL.get("checkpoints", {}),
        reference_prompts=STEERING.get("reference_prompts"),
    wildcard_constraints:
        arch="|".join(BALANCE.get("archs", [])) or "(?!)",
        concept="[a-z_]+",
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/steering/{{arch}}/{{concept}}/eval_set.log",
    script:
        "../scripts/steering_eval_set.py"


rule steering_artifact:
    """Compute one method's steering artifact for one concept: on every cross-attention site, or (methods
    computed per arm, as a LoRA slider) on the sites of one arm (folder ``{method}_{arm}``)."""
    input:
        unpack(artifact_inputs),
    output:
        directory(artifact_dir("{arch}", "{concept}", "{artifact}")),
    params:
        method=lambda w: split_artifact(w.artifact)[0],
        sites=lambda w: artifact_sites(w.arch, w.artifact),
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        options=lambda w: STEERING.get("options", {}).get(split_artifact(w.artifact)[0], {}),
        compute_prompts=STEERING["compute_prompts"],
        reference_prompts=STEERING.get("reference_prompts"),
    wildcard_constraints:
        arch=per_cell_archs_pattern(),
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
    """Alpha sweep of one (concept, method, arm) cell: WAVs and the manifest the protocol reads (the archs
    not in ``steering.batch_arms``: one GPU job per cell)."""
    input:
        unpack(lambda w: sweep_inputs(w.arch, w.concept, w.method, [w.arm])),
    output:
        manifests=[sweep_manifest("{arch}", "{concept}", "{method}", "{arm}")],
        clips=directory(f"{RESULTS}/sweeps/{{arch}}/{{concept}}/{{method}}_{{arm}}/wav"),
    params:
        arch=lambda w: w.arch,
        method=lambda w: w.method,
        arms=lambda w: [w.arm],
        alphas=lambda w: {w.arm: alpha_grid(w.arch, w.method, w.concept, w.arm)},
        checkpoint=lambda w: checkpoint_of(w.arch),
        load_options=lambda w: load_options(w.arch),
        prompts=STEERING["prompts"],
        seeds=STEERING["seeds"],
        options=lambda w: STEERING.get("options", {}).get(w.method, {}),
        reference_prompts=STEERING.get("reference_prompts"),
        noise=STEERING.get("noise", "per_clip"),
    wildcard_constraints:
        arch=per_cell_archs_pattern(),
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


# The archs in `steering.batch_arms` (mini: a job's start-up, mostly importing diffusers, is most of a
# job) compute a (concept, method)'s artifacts and sweep every arm in one job, `sweep_<arch>_<method>`;
# each artifact, arm's manifest and clips stay their own outputs. Forcing one of them re-runs the rest.
for _arch in STEERING.get("batch_arms", []):
    for _method in methods_of(_arch):
        _arms = batched_arms(_arch, _method)
        if not _arms:
            continue
        _artifacts = batched_artifacts(_method, _arms)

        rule:
            name:
                f"sweep_{_arch}_{_method}"
            input:
                unpack(lambda w, arch=_arch, method=_method, arms=_arms: sweep_inputs(arch, w.concept, method, arms, False)),
            output:
                artifacts=[directory(artifact_dir(_arch, "{concept}", a)) for a in sorted(set(_artifacts.values()))],
                manifests=[sweep_manifest(_arch, "{concept}", _method, a) for a in _arms],
                clips=[directory(f"{RESULTS}/sweeps/{_arch}/{{concept}}/{_method}_{a}/wav") for a in _arms],
            params:
                arch=_arch,
                method=_method,
                arms=_arms,
                artifacts=_artifacts,
                artifact_sites=lambda w, arch=_arch, artifacts=_artifacts: {
                    a: artifact_sites(arch, a) for a in sorted(set(artifacts.values()))  # sorted: params are compared as text
                },
                alphas=lambda w, arch=_arch, method=_method, arms=_arms: {
                    a: alpha_grid(arch, method, w.concept, a) for a in arms
                },
                checkpoint=lambda w, arch=_arch: checkpoint_of(arch),
                load_options=load_options(_arch),
                prompts=STEERING["prompts"],
                seeds=STEERING["seeds"],
                options=STEERING.get("options", {}).get(_method, {}),
                compute_prompts=STEERING["compute_prompts"],
                reference_prompts=STEERING.get("reference_prompts"),
                noise=STEERING.get("noise", "per_clip"),
            wildcard_constraints:
                concept="|".join(concepts_of(_arch)),
            threads: config["threads"]
            conda:
                "../../envs/tada.yaml"
            log:
                f"{LOGS}/sweeps/{_arch}/{{concept}}/{_method}.log",
            script:
                "../scripts/steering_sweep.py"
