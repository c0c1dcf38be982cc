"""The precision a run computes in: bf16 autocast where the device computes bf16 natively, float32 elsewhere.

`train.amp` is `auto` (the default), `bf16` or `none` (float32). `auto` becomes one of the other two before a run's
identity is taken (docs/method.md, "Precision"): a trial's config always names the precision it trains in.
Native means the matrix units take bf16 operands themselves: a CUDA device of compute capability 8.0 or newer, or a
CPU with AVX512-BF16 or AMX. Elsewhere bf16 is emulated (converted to float32 around each product), which makes
autocast slower than float32, so `auto` keeps float32 there.

Under autocast the matrix products (the encoder, the projections, the fusion's attention) run in bf16 with float32
weights, gradients and optimiser state. What needs float32 for accuracy runs in it whatever the caller's autocast
(`float32` below): the CRF's log-sum-exp and Viterbi scores, the Shapley values and the contrastive logits, the
task losses' log-softmax.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from shapca.config import AMP_CHOICES

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bf16 products


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_bf16(device_type: str) -> bool:
    """Whether `device_type` ("cpu" or "cuda") computes bf16 matrix products natively, as PyTorch (else the OS)
    reports it."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device_type != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(checks):  # PyTorch's own view of the CPU (what oneDNN dispatches on)
        return any(check() for check in checks if check is not None)
    return bool(cpu_flags() & set(CPU_BF16_FLAGS))


def resolve_amp(amp: str, device_type: str) -> str:
    """`auto` -> `bf16` where `device_type` computes bf16 natively, else `none`; other values are kept."""
    if amp not in AMP_CHOICES:
        raise ValueError(f"train.amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
    if amp != "auto":
        return amp
    return "bf16" if native_bf16(device_type) else "none"


def autocast(amp: str, device_type: str):
    """The autocast context of a resolved `amp` on a device: bf16 products, or nothing (float32)."""
    if amp == "auto":
        raise ValueError("train.amp=auto must be resolved (resolve_amp) before the run computes")
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp == "bf16")


def widened(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32 where autocast made it half precision; float32 and float64 stay as they are."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


@contextlib.contextmanager
def float32(device_type: str):
    """A region computed in float32 whatever the surrounding autocast (its inputs are cast by the caller)."""
    with torch.autocast(device_type, enabled=False):
        yield
