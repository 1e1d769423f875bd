"""The ``tada`` command: compute steering artifacts, sweep alphas, generate steered clips.

Examples (the mini model of the default run)::

    tada compute  --arch mini --method caa --concept violin --out artifacts/violin_caa
    tada generate --arch mini --method caa --artifact artifacts/violin_caa --alpha 8 \\
                  --prompt "a recording of an instrument, fast" --out violin.wav
    tada sweep    --arch mini --method pci --concept fast --arm loc --alphas -8 -4 0 4 8 --out sweeps/fast_pci

Options can also come from a YAML file (``--config run.yaml``, keys = option names with ``_``, and a
method's options such as ``top_k`` or ``renorm``) or ``--set key=value``; options given on the command
line override the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tada.errors import ConfigError, TadaError

DEFAULT_CHECKPOINTS = {"mini": "results/mini/model"}
DEFAULT_LOCALIZED = {"mini": "results/localization/mini/localized.yaml"}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of options (command-line options override it)")
    parser.add_argument("--arch", help="architecture: mini, stable_audio, audioldm2, ace_step_v1, ace_step_15")
    parser.add_argument("--checkpoint", help="local folder or hub id (mini: results/mini/model)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default cpu)")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], help="weights dtype (default float32)")
    parser.add_argument("--method", help="pci, textemb, tokemb, freesliders, sliders, caa, austeer, sae")
    parser.add_argument("--concept", help="mini: violin, fast, happy, high...; real: piano, tempo, mood...")
    parser.add_argument("--reference-prompts", help="folder of the reference's concept/test prompt CSVs (real archs)")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="settings",
        help="a method option or compute setting, YAML-valued (repeatable): e.g. --set top_k=32, --set weighting=difference",
    )


def _site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target-layers", help="all (default), a preset name or YAML path, or sites like tf1tf2")
    parser.add_argument(
        "--arm", choices=["all", "loc", "ablated", "random"],
        help="shorthand: all sites, the localized preset, every site but it, or (caa, austeer, sae) the "
        "random-direction control at it",
    )
    parser.add_argument(
        "--localized",
        help="the localized preset of --arm: a name or YAML file (mini: its localization's, "
        f"{DEFAULT_LOCALIZED['mini']}; real: the shipped 'localized')",
    )


def _steer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--artifact", help="artifact folder or hub id (methods with a compute step, e.g. caa)")
    _site_options(parser)
    parser.add_argument("--mode", help="CFG mode: cond_only (activation default), both, uncond_only, ...")
    parser.add_argument("--start-step", type=int, help="first steered diffusion step (default 0)")
    parser.add_argument("--end-step", type=int, help="steer before this step only (default: to the end)")
    parser.add_argument(
        "--schedule", choices=["constant", "window", "ramp_up", "ramp_down"],
        help="activation methods: strength over the steps of [start, end) (default constant)",
    )
    parser.add_argument(
        "--compose", nargs=3, action="append", metavar=("METHOD", "ARTIFACT", "ALPHA"),
        help="also steer with this activation controller (repeatable): a signed sum, e.g. caa art/fast_caa -0.2",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tada", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    compute = sub.add_parser("compute", help="compute a steering artifact (methods with a compute step)")
    _common(compute)
    _site_options(compute)  # the sites it is computed on (all: every site; the arms use part of it)
    compute.add_argument("--compute-prompts", type=int, help="mini: prompt pairs in the compute set (default 16)")
    compute.add_argument("--out", help="artifact folder to write")

    generate = sub.add_parser("generate", help="generate steered clips")
    _common(generate)
    _steer_options(generate)
    generate.add_argument("--alpha", type=float, help="signed strength (PCI: an integer number of steps)")
    generate.add_argument("--prompt", action="append", help="prompt to steer (repeatable)")
    generate.add_argument("--seed", type=int, help="noise seed (default 0; one per prompt, counting up)")
    generate.add_argument("--out", help="WAV file (one prompt) or folder (several)")

    sweep = sub.add_parser("sweep", help="an alpha sweep of one (concept, method, arm): WAVs + manifest.csv")
    _common(sweep)
    _steer_options(sweep)
    sweep.add_argument("--alphas", type=float, nargs="+", help="alphas, including 0")
    sweep.add_argument("--prompts", type=int, help="number of evaluation prompts (default 8)")
    sweep.add_argument("--prompt-file", help="prompts to steer: a text file (one per line) or a CSV 'prompt' column")
    sweep.add_argument("--seeds", type=int, help="seeds per prompt (default 1)")
    sweep.add_argument(
        "--eval-set", help="prompts with one seed each (CSV columns prompt, seed; e.g. results/steering/mini/high/eval_set.csv)"
    )
    sweep.add_argument("--out", help="sweep folder to write")

    convert = sub.add_parser("convert-clap", help="convert a laion-clap checkpoint to transformers' ClapModel")
    convert.add_argument("argv", nargs=argparse.REMAINDER, help="checkpoint --out DIR [--tokenizer DIR]")
    return parser


def options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Options from ``--config``, then ``--set``, overridden by the ones given on the command line
    (``parser``: the one that parsed ``args``, whose options are the known names)."""
    merged: dict[str, Any] = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must be a mapping of option names to values")
        merged |= {k.replace("-", "_"): v for k, v in loaded.items()}
    settings = dict(_setting(text) for text in getattr(args, "settings", None) or [])
    merged |= settings
    merged |= {k: v for k, v in vars(args).items() if v is not None and k not in ("config", "command", "settings")}
    if getattr(args, "config", None) or settings:
        _check_keys(set(merged), merged.get("method"), parser)
    return merged


def _setting(text: str) -> tuple[str, Any]:
    """``--set key=value``: the key (``-`` read as ``_``) and its YAML value."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set takes KEY=VALUE; got '{text}'")
    return key.replace("-", "_"), yaml.safe_load(value)


def _check_keys(keys: set[str], method: str | None, parser: argparse.ArgumentParser) -> None:
    """Refuse options (from ``--config`` or ``--set``) that no ``tada`` command takes and that are not
    ``method``'s controller options or compute settings: a misspelt key would otherwise be ignored. One
    file may serve several commands."""
    from tada.steering.methods import controller_options, method_class

    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    known = {action.dest for sub in commands.values() for action in sub._actions}
    if method is not None:
        known |= controller_options(method) | set(getattr(method_class(method), "compute_options", ()))
    unknown = sorted(keys - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}{f' of {method}' if method else ''} (see `tada <command> --help`)")


def _require(opts: dict[str, Any], *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if opts.get(n) in (None, [], "")]
    if missing:
        raise ConfigError(f"missing option(s) {', '.join(missing)} (see `tada {opts.get('_command', '')} --help`)")


def _load(opts: dict[str, Any]):
    import torch

    from tada.models import load_model

    arch = opts["arch"]
    checkpoint = opts.get("checkpoint") or DEFAULT_CHECKPOINTS.get(arch)
    if checkpoint is None:
        raise ConfigError(f"--checkpoint is required for '{arch}' (a local folder or hub id)")
    dtype = getattr(torch, opts.get("dtype", "float32"))
    return load_model(arch, checkpoint, device=opts.get("device", "cpu"), dtype=dtype)


def _profile(opts: dict[str, Any]):
    from tada.steering.profiles import profile

    localized = opts.get("localized") or DEFAULT_LOCALIZED.get(opts["arch"])
    if opts.get("arm") not in (None, "all") and not opts.get("localized") and localized and not Path(localized).is_file():
        raise ConfigError(
            f"--arm {opts['arm']} steers the preset {opts['arch']}'s localization found, {localized}, which is not "
            f"here: run `snakemake --cores 2 {localized}` (the default run writes it), or pass --localized or "
            "--target-layers"
        )
    return profile(opts["arch"], localized, opts.get("reference_prompts"), opts.get("prompt_file"), opts.get("compute_prompts"))


def _target_layers(opts: dict[str, Any], prof: Any) -> str | None:
    """The sites of ``--target-layers``, else of ``--arm`` (the profile's preset of the arm), else None."""
    return opts.get("target_layers") or (prof.target_layers(opts["arm"]) if opts.get("arm") else None)


def _controller(opts: dict[str, Any], prof: Any):
    from tada.steering.methods import controller_options, make_controller

    if not opts.get("concept") and not opts.get("artifact"):
        raise ConfigError("missing option --concept (or --artifact, whose concept is used)")
    concept = prof.concept(opts["concept"]) if opts.get("concept") else None
    target = _target_layers(opts, prof)
    names = controller_options(opts["method"]) | {"mode", "start_step", "end_step", "schedule"}  # the flags: checked for any method
    steer = {k: opts[k] for k in names if opts.get(k) is not None}
    if target is not None:
        steer["target_layers"] = target
    elif not opts.get("artifact"):
        steer["target_layers"] = "all"
    return make_controller(opts["method"], concept, artifact=opts.get("artifact"), arm=opts.get("arm"), **steer)


def _composed(opts: dict[str, Any], controller: Any):
    """``controller`` with the ``--compose`` controllers added (their signed sum)."""
    from tada.steering.compose import compose
    from tada.steering.methods import has_random_control, make_controller

    extra = []
    for spec in opts.get("compose") or []:
        if len(spec) != 3:
            raise ConfigError(f"--compose takes METHOD ARTIFACT ALPHA; got {spec}")
        method, artifact, alpha = spec
        if not has_random_control(method):
            raise ConfigError(f"{method} cannot be composed: only activation methods (caa, austeer) add up")
        try:
            alpha = float(alpha)
        except ValueError as err:
            raise ConfigError(f"--compose alpha must be a number; got '{alpha}'") from err
        extra.append(make_controller(method, None, artifact=artifact, alpha=alpha))
    return compose(controller, *extra)


def run_compute(opts: dict[str, Any]) -> int:
    from tada.steering.methods import compute_options, method_class, needs_artifact

    _require(opts, "arch", "method", "concept", "out")
    if not needs_artifact(opts["method"]):
        raise ConfigError(f"{opts['method']} has no compute step: steer with it directly (`tada generate`)")
    prof = _profile(opts)
    concept = prof.concept(opts["concept"])
    settings = compute_options(opts["method"], opts)
    target = _target_layers(opts, prof)
    if target is not None:
        settings["target_layers"] = target
    adapter = _load(opts)
    controller = method_class(opts["method"]).compute(adapter, concept, **settings)
    controller.save_pretrained(opts["out"])
    print(f"wrote {opts['method']} artifact for '{concept.name}' on {adapter.arch} to {opts['out']}")
    return 0


def run_generate(opts: dict[str, Any]) -> int:
    from tada.audio import write_wav

    _require(opts, "arch", "method", "alpha", "prompt", "out")
    prof = _profile(opts)
    controller = _controller(opts, prof)
    controller.set_alpha(opts["alpha"])
    controller = _composed(opts, controller)
    adapter = _load(opts)
    prompts = list(opts["prompt"]) if isinstance(opts["prompt"], list) else [opts["prompt"]]
    seeds = [opts.get("seed", 0) + i for i in range(len(prompts))]
    with adapter.steer(controller):
        audio = adapter.generate(prompts, seeds)
    out = Path(opts["out"])
    paths = [out] if len(prompts) == 1 else [out / f"{i:03d}.wav" for i in range(len(prompts))]
    for path, wave in zip(paths, audio.waveforms, strict=True):
        write_wav(path, wave, audio.sample_rate)
        print(f"wrote {path}")
    return 0


def run_sweep_command(opts: dict[str, Any]) -> int:
    from tada.steering.methods import cell_name
    from tada.steering.sweep import read_eval_set, run_sweep

    _require(opts, "arch", "method", "alphas", "out")
    prof = _profile(opts)
    controller = _composed(opts, _controller(opts, prof))
    if opts.get("eval_set"):
        prompts, seeds = read_eval_set(opts["eval_set"])
    else:
        prompts, seeds = prof.eval_prompts(controller.concept.name, opts.get("prompts", 8)), list(range(opts.get("seeds", 1)))
    adapter = _load(opts)
    cell = cell_name(opts["method"], opts.get("arm", "all"))
    manifest = run_sweep(
        adapter, controller, prompts, seeds, opts["alphas"], opts["out"], cell, per_prompt_seeds=bool(opts.get("eval_set"))
    )
    print(f"wrote {len(manifest)} clips and {Path(opts['out']) / 'manifest.csv'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "convert-clap":
        from tada.scoring.clap_convert import main_convert_clap

        return main_convert_clap(args.argv)
    run = {"compute": run_compute, "generate": run_generate, "sweep": run_sweep_command}[args.command]
    try:
        return run(options(args, parser) | {"_command": args.command})
    except TadaError as err:
        print(f"tada {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
