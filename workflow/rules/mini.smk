# The built-in mini model: synthetic world -> model and scorer training -> model card.


rule world:
    """Render the synthetic music world: training and validation clips, example WAVs."""
    output:
        train=f"{MINI}/world/train.npz",
        valid=f"{MINI}/world/valid.npz",
        examples=directory(f"{MINI}/world/examples"),
    params:
        world=config["world"],
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/mini/world.log",
    script:
        "../scripts/mini_world.py"


rule train_mini:
    """Train the mini text-to-music model with its ground-truth semantic blocks."""
    input:
        rules.world.output.train,
    output:
        config=MINI_MODEL,
        weights=f"{MINI}/model/model.safetensors",
        stats=f"{MINI}/model/train_stats.json",
    params:
        mini=config["mini"],
        seed=config["world"]["seed"],
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/mini/train_mini.log",
    script:
        "../scripts/mini_train.py"


rule train_scorer:
    """Train the mini world's CLAP-shaped concept scorer."""
    input:
        train=rules.world.output.train,
        valid=rules.world.output.valid,
    output:
        config=MINI_SCORER,
        weights=f"{MINI}/scorer/model.safetensors",
        stats=f"{MINI}/scorer/train_stats.json",
    params:
        scorer=config["scorer"],
        seed=config["world"]["seed"],
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/mini/train_scorer.log",
    script:
        "../scripts/mini_train_scorer.py"


rule model_card:
    """Accuracy of held-out generations and real clips, determinism, training times."""
    input:
        model=MINI_MODEL,
        model_stats=rules.train_mini.output.stats,
        scorer=MINI_SCORER,
        scorer_stats=rules.train_scorer.output.stats,
    output:
        md=f"{MINI}/model_card.md",
        json=f"{MINI}/model_card.json",
    params:
        per_value=config["model_card"]["per_value"],
        seed=config["world"]["seed"],
    threads: config["threads"]
    conda:
        "../../envs/tada.yaml"
    log:
        f"{LOGS}/mini/model_card.log",
    script:
        "../scripts/mini_model_card.py"
