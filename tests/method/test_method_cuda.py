"""The method components on a CUDA device agree with the CPU (runs only where a GPU is present)."""
import pytest
import torch

from shapca.crf import CRF
from shapca.fusion import AdaptiveFusion
from shapca.losses import alignment_loss
from shapca.shapley import shapley_values

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("value", ("max", "logsumexp", "additive"))
def test_shapley_on_cuda_matches_cpu(value):
    scores = torch.randn(12, 12, dtype=torch.float64)
    for estimator in ("exact", "closed_form") if value != "logsumexp" else ("exact",):
        torch.testing.assert_close(shapley_values(scores.to(CUDA), value, estimator).cpu(),
                                   shapley_values(scores, value, estimator))
    # a CPU generator seeds a CUDA run with the same orderings as on the CPU
    for independent in (False, True):
        on_gpu = shapley_values(scores.to(CUDA), value, samples=8, independent=independent,
                                generator=torch.Generator().manual_seed(0))
        on_cpu = shapley_values(scores, value, samples=8, independent=independent,
                                generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(on_gpu.cpu(), on_cpu)
    seeded = shapley_values(scores.to(CUDA), value, samples=8, antithetic=True,
                            generator=torch.Generator(device=CUDA).manual_seed(0))
    torch.testing.assert_close(seeded.sum(1).cpu(), shapley_values(scores, value, "exact").sum(1))


@pytest.mark.parametrize("mode", ("shapley", "infonce"))
def test_alignment_loss_backward_on_cuda(mode):
    a = torch.randn(16, 32, device=CUDA, requires_grad=True)
    b = torch.randn(16, 32, device=CUDA, requires_grad=True)
    loss = alignment_loss(a, b, mode, samples=16, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.device.type == "cuda" and bool(a.grad.isfinite().all()) and a.grad.abs().sum() > 0
    cpu = alignment_loss(a.detach().cpu(), b.detach().cpu(), mode, samples=16,
                         generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loss.detach().cpu(), cpu, rtol=1e-4, atol=1e-5)


def test_crf_on_cuda_matches_cpu():
    torch.manual_seed(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    crf = CRF(5, tags)
    emissions = torch.randn(4, 7, 5)
    gold = torch.randint(0, 5, (4, 7))
    gold[gold == 2] = 1  # keep the gold sequences mostly valid; any sequence is fine for the comparison
    mask = torch.arange(7) < torch.tensor([7, 5, 3, 1]).unsqueeze(1)
    expected = (crf.neg_log_likelihood(emissions, gold, mask), crf.decode(emissions, mask))
    crf = crf.to(CUDA)
    got = crf.neg_log_likelihood(emissions.to(CUDA), gold.to(CUDA), mask.to(CUDA))
    torch.testing.assert_close(got.cpu(), expected[0], rtol=1e-5, atol=1e-3)
    assert crf.decode(emissions.to(CUDA), mask.to(CUDA)) == expected[1]


@pytest.mark.parametrize("gate", ("none", "scalar", "vector", "token"))
def test_fusion_on_cuda_matches_cpu(gate):
    torch.manual_seed(0)
    fusion = AdaptiveFusion(32, gate=gate, heads=4, dropout=0.0).eval()
    text, context, image = torch.randn(2, 6, 32), torch.randn(2, 4, 32), torch.randn(2, 3, 32)
    text_mask = torch.ones(2, 6, dtype=torch.bool)
    context_mask = torch.tensor([[True, True, False, False], [False] * 4])
    expected = fusion(text, text_mask, context, context_mask, image)
    got = fusion.to(CUDA)(*(x.to(CUDA) for x in (text, text_mask, context, context_mask, image)))
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-4)


def test_auto_trains_in_bf16_where_the_gpu_computes_it_natively():
    from shapca.precision import resolve_amp

    native = torch.cuda.get_device_capability()[0] >= 8  # Ampere (A100) and newer
    assert resolve_amp("auto", "cuda") == ("bf16" if native else "none")
