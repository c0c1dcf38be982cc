"""Adaptive fusion: every gate form computes something different, switches and masks are respected."""
import itertools

import pytest
import torch

from shapca.fusion import GATES, AdaptiveFusion

H, B, LT, LC, R = 16, 3, 5, 4, 2


def inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    text = torch.randn(B, LT, H, generator=gen)
    context = torch.randn(B, LC, H, generator=gen)
    image = torch.randn(B, R, H, generator=gen)
    text_mask = torch.ones(B, LT, dtype=torch.bool)
    text_mask[0, 3:] = False
    context_mask = torch.ones(B, LC, dtype=torch.bool)
    context_mask[1, 2:] = False
    return text, text_mask, context, context_mask, image


def module(gate, seed=0, **kwargs):
    torch.manual_seed(seed)
    fusion = AdaptiveFusion(H, gate=gate, heads=2, dropout=0.0, **kwargs).eval()
    with torch.no_grad():  # learned gates start at g = 0.5 everywhere; give them distinct values per dimension
        for name, parameter in fusion.named_parameters():
            if name.startswith("gate_"):
                parameter.copy_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(7)))
    return fusion


def test_output_shape_and_every_gate_changes_the_output():
    text, text_mask, context, context_mask, image = inputs()
    outputs = {}
    for gate in GATES:
        out = module(gate)(text, text_mask, context, context_mask, image)
        assert out.shape == (B, LT, H) and bool(out.isfinite().all())
        outputs[gate] = out
    for first, second in itertools.combinations(GATES, 2):
        assert not torch.allclose(outputs[first], outputs[second], atol=1e-4), (first, second)


def test_scalar_and_vector_gates_are_shared_over_tokens_and_the_token_gate_is_not():
    fusion = module("token")
    text, _, context, _, _ = inputs()
    attended = fusion._attend("context", text, context, None)
    weight = torch.sigmoid(fusion.gate_proj["context"](torch.cat([text, attended], dim=-1)))
    assert weight.shape == (B, LT, H) and weight.std(dim=1).mean() > 1e-3
    assert module("scalar").gate_logits["context"].shape == (1,)
    assert module("vector").gate_logits["image"].shape == (H,)


@pytest.mark.parametrize("gate", GATES)
def test_missing_source_equals_switched_off_source(gate):
    text, text_mask, context, context_mask, image = inputs()
    on = module(gate)
    without_context = on(text, text_mask, None, None, image)
    off = module(gate, use_context=False)
    off.load_state_dict({k: v for k, v in on.state_dict().items() if "context" not in k})
    torch.testing.assert_close(without_context, off(text, text_mask, context, context_mask, image))
    # a switched-off source is ignored whatever it holds
    torch.testing.assert_close(off(text, text_mask, context, context_mask, image),
                               off(text, text_mask, context * 5, context_mask, image))


@pytest.mark.parametrize("gate", GATES)
def test_each_source_reaches_the_output(gate):
    text, text_mask, context, context_mask, image = inputs()
    fusion = module(gate)
    base = fusion(text, text_mask, context, context_mask, image)
    assert not torch.allclose(base, fusion(text, text_mask, context + 1, context_mask, image))
    assert not torch.allclose(base, fusion(text, text_mask, context, context_mask, image + 1))
    assert not torch.allclose(base, fusion(text, text_mask, None, None, None))


def test_masked_context_tokens_and_empty_contexts():
    text, text_mask, context, context_mask, image = inputs()
    fusion = module("token")
    base = fusion(text, text_mask, context, context_mask, image)
    changed = context.clone()
    changed[1, 2:] += 3.0  # padding of example 1
    torch.testing.assert_close(base, fusion(text, text_mask, changed, context_mask, image))
    empty = context_mask.clone()
    empty[2] = False  # example 2 has no context at all: it is fused with the image only
    out = fusion(text, text_mask, context, empty, image)
    assert bool(out.isfinite().all())
    torch.testing.assert_close(out[2], fusion(text, text_mask, None, None, image)[2])


def test_padded_text_positions_pass_through():
    text, text_mask, context, context_mask, image = inputs()
    out = module("vector")(text, text_mask, context, context_mask, image)
    torch.testing.assert_close(out[0, 3:], text[0, 3:])
    assert not torch.allclose(out[0, :3], text[0, :3])


@pytest.mark.parametrize("gate", GATES)
def test_gradients_reach_every_input_and_gate(gate):
    text, text_mask, context, context_mask, image = (x.requires_grad_() if x.is_floating_point() else x
                                                     for x in inputs())
    fusion = module(gate)
    fusion(text, text_mask, context, context_mask, image).pow(2).sum().backward()
    for tensor in (text, context, image):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    for name, parameter in fusion.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_clear_errors():
    with pytest.raises(ValueError, match="unknown fusion gate"):
        AdaptiveFusion(H, gate="mlp")
    with pytest.raises(ValueError, match="divisible"):
        AdaptiveFusion(10, heads=4)
    text, text_mask, context, context_mask, image = inputs()
    with pytest.raises(ValueError, match="context must be"):
        module("none")(text, text_mask, context[:1], context_mask[:1], image)
