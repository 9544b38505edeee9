"""Re-parameterization (fuse / unfused_from_deploy) and L2 filter pruning."""

import math

import pytest
import torch

from sr_harness.models import (
    RepConv3x3,
    build_model,
    fuse,
    is_unfused,
    load_state,
    prune,
    set_online_fusion,
    unfused_from_deploy,
)

PRUNED = [(28, 28)] * 5 + [(30, 30)]


def randomize(model: torch.nn.Module, gain: float = 0.5) -> None:
    """Random non-zero values in every parameter (every branch), scaled by fan-in to keep activations sane."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn_like(p) * gain / math.sqrt(p[0].numel()))
            else:
                p.copy_(torch.randn_like(p) * 0.1)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def official_slimrlfn_shapes(widths):
    """state_dict key -> shape of an official SlimRLFN file, from architectures.md section 3.2 (C=30, f=16)."""
    c, f = 30, 16
    shapes = {"conv_1.weight": (c, 3, 3, 3), "conv_1.bias": (c,)}
    for i, (m1, m2) in enumerate(widths):
        convs = {"c1_r": (m1, c, 3, 3), "c2_r": (m2, m1, 3, 3), "c3_r": (c, m2, 3, 3), "c5": (c, c, 1, 1),
                 "esa.conv1": (f, c, 1, 1), "esa.conv2": (f, f, 3, 3), "esa.conv3": (f, f, 3, 3),
                 "esa.conv4": (c, f, 1, 1)}
        for name, shape in convs.items():
            shapes[f"block_list.{i}.{name}.weight"] = shape
            shapes[f"block_list.{i}.{name}.bias"] = shape[:1]
    shapes |= {"conv_2.weight": (c, c, 3, 3), "conv_2.bias": (c,),
               "upsampler.upsample_conv.weight": (48, c, 3, 3), "upsampler.upsample_conv.bias": (48,)}
    return shapes


def shapes_of(state):
    return {k: tuple(v.shape) for k, v in state.items()}


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 0)])
@pytest.mark.parametrize("cin, cout", [(16, 16), (30, 28), (28, 30)])
def test_repconv_fuses_exactly_including_borders(stride, padding, cin, cout):
    rep = RepConv3x3(cin, cout, stride=stride, padding=padding, expand_channels=24)
    randomize(rep, gain=1.0)
    assert (rep.identity_scale is not None) == (cin == cout)
    x = torch.randn(2, cin, 17, 20) * 50
    with torch.no_grad():
        want = rep(x)
        conv = rep.to_conv2d()
        got = conv(x)
    assert isinstance(conv, torch.nn.Conv2d) and (conv.stride, conv.padding) == ((stride,) * 2, (padding,) * 2)
    assert got.shape == want.shape
    assert rel_err(got, want) < 1e-5
    # The border rows/columns are where a zero-padded 1x1->3x3 branch would go wrong.
    border = torch.cat([(got - want)[..., 0, :].flatten(), (got - want)[..., -1, :].flatten(),
                        (got - want)[..., :, 0].flatten(), (got - want)[..., :, -1].flatten()])
    assert border.abs().max() / want.abs().max() < 1e-5


def test_every_branch_contributes():
    """Dropping any branch changes the output, so the fusion test above exercises each one."""
    rep = RepConv3x3(16, 16, expand_channels=8)
    randomize(rep, gain=1.0)
    x = torch.randn(1, 16, 15, 15)
    with torch.no_grad():
        full = rep(x)
        for params in ([rep.conv1x1.weight], [rep.expand_out.weight], [rep.identity_scale]):
            saved = [p.clone() for p in params]
            for p in params:
                p.zero_()
            assert rel_err(rep(x), full) > 1e-3
            for p, s in zip(params, saved):
                p.copy_(s)


def test_unfused_model_reparameterizes_block_and_esa_convs():
    model = build_model("slimrlfn_unfused_x4")
    names = {n for n, m in model.named_modules() if isinstance(m, RepConv3x3)}
    for i in range(6):
        assert {f"block_list.{i}.{c}" for c in ("c1_r", "c2_r", "c3_r", "esa.conv2", "esa.conv3")} <= names
    assert len(names) == 30
    assert model.block_list[0].esa.conv2.stride == 2 and model.block_list[0].esa.conv2.padding == 0


@pytest.mark.parametrize("widths, hw", [(None, (17, 23)), (PRUNED, (15, 21)), ([(20, 26)] * 6, (19, 15))])
def test_fuse_matches_unfused_network(widths, hw):
    unfused = build_model("slimrlfn_unfused_x4", **({"inner_widths": widths} if widths else {})).eval()
    randomize(unfused)
    x = torch.rand(1, 3, *hw) * 255
    with torch.no_grad():
        want = unfused(x)
        deploy = fuse(unfused)
        got = deploy(x)
    assert not is_unfused(deploy) and got.shape == (1, 3, hw[0] * 4, hw[1] * 4)
    assert rel_err(got, want) < 1e-5
    assert shapes_of(deploy.state_dict()) == official_slimrlfn_shapes(widths or [(30, 30)] * 6)
    assert list(deploy.state_dict()) == list(official_slimrlfn_shapes(widths or [(30, 30)] * 6))
    # One naming rule for fuse and prune: the full widths are slimrlfn_x4, any other widths a pruned model.
    assert deploy.model_name == ("slimrlfn_x4" if widths is None else "slimrlfn_prune_x4")


def test_fuse_is_exact_in_float64_with_large_weights():
    unfused = build_model("slimrlfn_unfused_x4").double().eval()
    randomize(unfused, gain=1.0)
    x = torch.rand(1, 3, 16, 15, dtype=torch.float64) * 255
    with torch.no_grad():
        assert rel_err(fuse(unfused)(x), unfused(x)) < 1e-8


def test_online_fusion_gives_the_same_outputs_and_gradients():
    torch.manual_seed(1)
    branches = build_model("slimrlfn_unfused_x4", inner_widths=[(26, 30)] * 6).double().train()
    randomize(branches)
    online = set_online_fusion(build_model("slimrlfn_unfused_x4", inner_widths=[(26, 30)] * 6).double().train())
    online.load_state_dict(branches.state_dict())
    x = torch.rand(2, 3, 16, 17, dtype=torch.float64) * 255
    for model in (branches, online):
        model(x).square().mean().backward()
    assert rel_err(online(x), branches(x)) < 1e-10
    for (name, a), b in zip(branches.named_parameters(), online.parameters()):
        assert rel_err(b.grad, a.grad) < 1e-8, name


def test_fuse_of_deploy_model_is_a_copy():
    deploy = build_model("slimrlfn_x4")
    copy = fuse(deploy)
    assert copy is not deploy and copy.model_name == "slimrlfn_x4"
    assert all(torch.equal(a, b) for a, b in zip(copy.state_dict().values(), deploy.state_dict().values()))


@pytest.mark.data
@pytest.mark.parametrize("name", ["slimrlfn_x4", "slimrlfn_prune_x4"])
def test_fused_keys_equal_official_file_and_unfused_from_deploy_is_exact(name, weights_dir):
    official = build_model(name).eval()
    load_state(official, weights_dir / f"{name}.pth")
    file_state = torch.load(weights_dir / f"{name}.pth", map_location="cpu", weights_only=True)
    unfused = unfused_from_deploy(official).eval()
    assert is_unfused(unfused) and unfused.inner_widths == official.inner_widths
    x = torch.rand(1, 3, 15, 19) * 255
    with torch.no_grad():
        assert torch.equal(unfused(x), official(x))
        refused = fuse(unfused)
    assert list(refused.state_dict()) == list(file_state)
    assert shapes_of(refused.state_dict()) == shapes_of(file_state)
    assert refused.model_name == name


def test_unfused_from_deploy_keeps_every_branch_trainable():
    unfused = unfused_from_deploy(build_model("slimrlfn_x4")).train()
    unfused(torch.rand(1, 3, 15, 15) * 255).square().mean().backward()
    rep = unfused.block_list[2].c2_r
    for p in (rep.conv1x1.weight, rep.expand_in.weight, rep.expand_out.weight, rep.identity_scale):
        assert p.grad is not None
    assert rep.expand_out.weight.grad.abs().sum() > 0 and rep.conv1x1.weight.grad.abs().sum() > 0


def test_prune_keeps_largest_l2_filters_in_order():
    deploy = build_model("slimrlfn_x4")
    randomize(deploy)
    pruned = prune(deploy, PRUNED)
    assert pruned.model_name == "slimrlfn_prune_x4" and pruned.inner_widths == PRUNED
    assert sum(p.numel() for p in pruned.parameters()) == 197_134
    src, dst = deploy.block_list[1], pruned.block_list[1]
    keep1 = torch.sort(torch.topk(src.c1_r.weight.flatten(1).norm(dim=1), 28).indices).values
    keep2 = torch.sort(torch.topk(src.c2_r.weight.flatten(1).norm(dim=1), 28).indices).values
    assert torch.equal(dst.c1_r.weight, src.c1_r.weight[keep1])
    assert torch.equal(dst.c2_r.weight, src.c2_r.weight[keep2][:, keep1])
    assert torch.equal(dst.c3_r.weight, src.c3_r.weight[:, keep2])
    assert torch.equal(dst.c5.weight, src.c5.weight) and torch.equal(pruned.block_list[5].c1_r.weight,
                                                                     deploy.block_list[5].c1_r.weight)


def test_prune_then_fuse_equals_fuse_then_prune():
    unfused = build_model("slimrlfn_unfused_x4").eval()
    randomize(unfused)
    widths = [(27, 25)] * 6  # c2_r is square after pruning, so the identity must be folded, not kept
    x = torch.rand(1, 3, 15, 17) * 255
    pruned_unfused = prune(unfused, widths)
    assert is_unfused(pruned_unfused) and pruned_unfused.model_name == "slimrlfn_unfused_x4"
    with torch.no_grad():
        a = fuse(pruned_unfused)(x)
        b = prune(fuse(unfused), widths)(x)
        c = pruned_unfused(x)
    assert rel_err(a, b) < 1e-5 and rel_err(c, b) < 1e-5


@pytest.mark.data
def test_pruned_slimrlfn_loads_official_pruned_weights_and_runs(weights_dir):
    model = build_model("slimrlfn_x4")
    load_state(model, weights_dir / "slimrlfn_x4.pth")
    pruned = prune(model, PRUNED)
    load_state(pruned, weights_dir / "slimrlfn_prune_x4.pth", strict=True)
    with torch.no_grad():
        out = pruned.eval()(torch.rand(1, 3, 16, 16) * 255)
    assert out.shape == (1, 3, 64, 64) and torch.isfinite(out).all()


def test_prune_rejects_growing_or_wrong_block_count():
    with pytest.raises(ValueError, match="only shrink"):
        prune(build_model("slimrlfn_x4"), [(32, 30)] * 6)
    with pytest.raises(ValueError, match="6 blocks"):
        prune(build_model("slimrlfn_x4"), [(28, 28)] * 5)


def test_prune_works_on_rlfn():
    model = build_model("rlfn_ntire_x4").eval()
    pruned = prune(model, [(40, 44)] * 4)
    assert pruned.model_name == "rlfn_ntire_x4" and pruned.block_1.c2_r.weight.shape == (44, 40, 3, 3)
    with torch.no_grad():
        assert pruned(torch.rand(1, 3, 15, 15)).shape == (1, 3, 60, 60)


def test_a_new_family_brings_its_own_rules_and_transforms_name_none(monkeypatch):
    """fuse / unfused_from_deploy / prune follow the ModelSpec's deploy_name and training_form, not family names."""
    from sr_harness.models import registry
    from sr_harness.models.slimrlfn import slimrlfn_deploy, slimrlfn_unfused

    def deploy_factory(*, channels=8, inner_widths=None):
        return slimrlfn_deploy(channels=channels, inner_widths=inner_widths or [(8, 8)])

    def unfused_factory(*, channels=8, inner_widths=None, expand_ratio=2):
        return slimrlfn_unfused(channels=channels, inner_widths=inner_widths or [(8, 8)], expand_ratio=expand_ratio)

    def toy_name(widths):
        return "toy_x4" if [tuple(w) for w in widths] == [(8, 8)] else "toy_slim_x4"

    for spec in (registry.ModelSpec("toy_x4", "toy", 4, "deploy", "toy", deploy_factory, deploy_name=toy_name,
                                    training_form="toy_unfused_x4"),
                 registry.ModelSpec("toy_slim_x4", "toy", 4, "deploy", "toy", deploy_factory, deploy_name=toy_name),
                 registry.ModelSpec("toy_unfused_x4", "toy", 4, "unfused", "toy", unfused_factory,
                                    deploy_name=toy_name)):
        monkeypatch.setitem(registry._REGISTRY, spec.name, spec)
    unfused = build_model("toy_unfused_x4").eval()
    deploy = fuse(unfused).eval()
    x = torch.rand(1, 3, 20, 20)
    assert deploy.model_name == "toy_x4"
    assert torch.allclose(deploy(x), unfused(x), atol=1e-4)
    assert unfused_from_deploy(deploy).model_name == "toy_unfused_x4"
    assert prune(deploy, [(6, 6)]).model_name == "toy_slim_x4"
    with pytest.raises(ValueError, match="registers none"):
        unfused_from_deploy(build_model("rlfn_ntire_x4"))
