"""torchrun-style DDP on CPU (gloo): two processes end with identical weights, equal to one process's run."""

import os
import socket

import torch
import torch.multiprocessing as mp
from test_train_support import write_images, write_recipe

from sr_harness.trainer.config import load_recipe
from sr_harness.trainer.stages import RecipeRun

STAGE = '[[stages]]\nname = "s"\nmodel = "student"\nsteps = 6\n'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank, recipe_path, out, port, world_size):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    runner = RecipeRun(load_recipe(recipe_path), out=out, device="cpu", progress=False)
    runner.run()
    torch.save(runner.current["student"].state_dict(), f"{out}/rank{rank}.pt")
    runner.dist.close()


def test_two_process_ddp_ranks_agree(tmp_path):
    recipe = write_recipe(tmp_path / "r.toml", write_images(tmp_path / "img"), STAGE)
    out = tmp_path / "ddp"
    # spawn, not fork: fork from a threaded process warns on Python >= 3.12 (and warnings are errors here)
    mp.spawn(_rank_main, args=(str(recipe), str(out), _free_port(), 2), nprocs=2, join=True)
    rank0 = torch.load(out / "rank0.pt", map_location="cpu", weights_only=True)
    rank1 = torch.load(out / "rank1.pt", map_location="cpu", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert (out / "stages" / "s.pth").exists() and (out / "log.jsonl").exists()

    # The same global batches split over two ranks give (up to float summation order) one process's result.
    single = RecipeRun(load_recipe(recipe), out=tmp_path / "one", device="cpu", progress=False)
    single.run()
    for key, value in single.current["student"].state_dict().items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-3, atol=1e-4)
