"""`train`, `prune` and `fuse` subcommands; registered into the harness CLI by ``add_subcommands``.

Only argument definitions at import time (torch and the trainer load when a command runs), so the harness CLI
starts fast. Distributed: ``torchrun --nproc_per_node N -m sr_harness train ...``.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from sr_harness.errors import EXIT_STOPPED, positive_int, thread_count


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("train", help="train models with a recipe (stages, distillation, pruning, exports)")
    p.add_argument("--recipe", default="cpu_default", help="bundled recipe name or a .toml path")
    p.add_argument("--out", default=None, help="run folder (default runs/train/<recipe>)")
    p.add_argument("--export-dir", default=None, help="where exports go (default <out>/export)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--profile", default=None, help="apply the recipe's [profiles.NAME] (e.g. gpu) to every stage")
    p.add_argument("--stages", default="", help="comma-separated stage names to run (default: all)")
    p.add_argument("--data", default=None, help="training data: 'embedded:train' or a folder (overrides recipe)")
    _common(p)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (exit 3)")
    p.add_argument("--step-scale", type=float, default=1.0, help="multiply every stage length (smoke runs)")
    p.add_argument("--measure-eval", action="store_true",
                   help="record PSNR-Y on the embedded evaluation images in each export's .train.json")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("prune", help="iteratively prune a trained SlimRLFN with a recipe's prune stage")
    p.add_argument("checkpoint", help="trained model file (unfused or deploy SlimRLFN)")
    p.add_argument("--recipe", default="cpu_default")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--export-dir", default=None)
    p.add_argument("--floor", type=float, default=None, help="absolute PSNR-Y floor in dB (overrides the recipe)")
    _common(p)
    p.set_defaults(func=cmd_prune)

    p = subparsers.add_parser("fuse", help="fold a training-form SlimRLFN into its deploy form")
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint at -o")
    p.set_defaults(func=cmd_fuse)


def _common(p) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=thread_count, default=None, help="torch CPU threads per process")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")


def _setup_threads(args) -> None:
    import torch  # noqa: PLC0415

    from sr_harness.config.build import check_cuda  # noqa: PLC0415

    check_cuda(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)


def cmd_train(args) -> int:
    from .config import load_recipe
    from .export import export_all
    from .loop import StopTraining
    from .stages import RecipeRun

    _setup_threads(args)
    recipe = load_recipe(args.recipe, profile=args.profile)
    out = pathlib.Path(args.out or f"runs/train/{recipe.name}")
    only = [s for s in args.stages.split(",") if s]
    runner = RecipeRun(recipe, out=out, export_dir=args.export_dir, device=args.device, resume=args.resume,
                       only=only, data=args.data, max_steps=args.max_steps, progress=not args.no_progress,
                       step_scale=args.step_scale)
    try:
        runner.run()
    except StopTraining:
        if runner.dist.is_main:
            print(f"stopped after --max-steps {args.max_steps}; continue with --resume --out {out}", file=sys.stderr)
        runner.dist.close()
        return EXIT_STOPPED
    written = export_all(runner, measure_eval=args.measure_eval)
    if runner.dist.is_main:
        for path in written:
            print(f"exported {path}")
    runner.dist.close()
    return 0


def cmd_prune(args) -> int:
    from .config import RecipeError, load_recipe
    from .export import export_all
    from .stages import RecipeRun

    _setup_threads(args)
    recipe = load_recipe(args.recipe)
    prune_stages = [s for s in recipe.stages if s.kind == "prune"]
    if not prune_stages:
        raise RecipeError(f"{recipe.path}: has no prune stage; use a recipe with kind = \"prune\"")
    stage = prune_stages[0]
    if args.floor is not None:
        stage.psnr_floor_db, stage.max_drop_db = args.floor, 0.0
    stage.init = "previous"
    recipe.models[stage.model] = dataclasses.replace(recipe.models[stage.model], checkpoint=args.checkpoint)
    runner = RecipeRun(recipe, out=pathlib.Path(args.out), export_dir=args.export_dir, device=args.device,
                       only=[stage.name], progress=not args.no_progress)
    runner.run()
    for path in export_all(runner):
        print(f"exported {path}")
    runner.dist.close()
    return 0


def cmd_fuse(args) -> int:
    from sr_harness import models  # noqa: PLC0415
    from sr_harness.outputs import Destination  # noqa: PLC0415

    dest = Destination(pathlib.Path(args.output), "checkpoint", flag="-o", replace=args.force).check()
    if pathlib.Path(args.checkpoint).resolve() == dest.path.resolve():
        from sr_harness.outputs import OutputError  # noqa: PLC0415
        raise OutputError(f"{dest.path}: -o is the input checkpoint itself; write the fused model to another file")
    model, info = models.load_model(args.checkpoint)
    fused = models.fuse(model)
    models.save_model(fused, dest, config=dict(info.config or {}) | {"fused_from": str(args.checkpoint)},
                      extra=dict(info.extra or {}))
    print(f"fused {model.model_name} -> {fused.model_name}: {args.output}")
    return 0
