"""Benchmark: the vectorised permutation Shapley estimator against a straightforward Python reference.

    python benchmarks/shapley_estimator.py [--value max] [--threads 1] [--device cuda] [--repeats 5]

Table 1 (speed): for k in {8, 16, 32, 64} players (k targets, as in a mini-batch of k pairs) and M in {1, 4, 16, 64}
permutations, the best-of-repeats time of the vectorised estimator (`shapley_values`, permutation drawing included)
and of a reference that loops over permutations and players in Python (vectorised over targets only), and the ratio;
the vectorised estimator is timed with its default orderings (rho_t composed with sigma_m, see random_permutations)
and with fully independent orderings per target.
Table 2 (accuracy): mean absolute error of the permutation estimate against the exact values (enumeration) for
k <= 12, with and without antithetic pairs. Before timing, both implementations are checked to agree on the same
permutations.
"""
from __future__ import annotations

import argparse
import time

import torch

from shapca.shapley import random_permutations, shapley_from_permutations, shapley_values

PLAYERS = (8, 16, 32, 64)
SAMPLES = (1, 4, 16, 64)
EXACT_PLAYERS = (4, 8, 12)


def reference_shapley(scores: torch.Tensor, permutations: torch.Tensor, value: str, beta: float) -> torch.Tensor:
    """One ordering at a time, one player at a time: v grows by one player and the difference is credited."""
    targets, samples, players = permutations.shape
    reference = scores.min(dim=-1).values
    phi = torch.zeros_like(scores)
    rows = torch.arange(targets, device=scores.device)
    for m in range(samples):
        previous = torch.zeros(targets, dtype=scores.dtype, device=scores.device)
        pooled = None
        for n in range(players):
            player = permutations[:, m, n]
            score = scores[rows, player]
            if value == "max":
                pooled = score if pooled is None else torch.maximum(pooled, score)
                current = pooled - reference
            elif value == "logsumexp":
                pooled = score / beta if pooled is None else torch.logaddexp(pooled, score / beta)
                current = beta * pooled - reference
            else:
                current = previous + score
            phi[rows, player] += current - previous
            previous = current
    return phi / samples


def best_time(function, repeats: int, device: torch.device) -> float:
    """Best wall time of `repeats` calls, in milliseconds (best-of filters out other processes' noise)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    function()  # warm-up: first-call allocations and kernel loading are not the estimator's cost
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        function()
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def check_agreement(value: str, beta: float) -> None:
    scores = torch.randn(6, 9, dtype=torch.float64)
    perms = random_permutations(6, 5, 9, generator=torch.Generator().manual_seed(0))
    fast = shapley_from_permutations(scores, perms, value, beta)
    slow = reference_shapley(scores, perms, value, beta)
    if not torch.allclose(fast, slow, atol=1e-10):
        raise SystemExit(f"vectorised and reference estimators disagree (max abs diff {(fast - slow).abs().max()})")


def speed_table(value: str, beta: float, repeats: int, device: torch.device) -> list[str]:
    lines = ["| k | M | vectorised ms | vectorised, independent orderings ms | reference ms | speed-up | "
             "speed-up, independent |", "|---:|---:|---:|---:|---:|---:|---:|"]
    gen = torch.Generator(device=device).manual_seed(0)
    for players in PLAYERS:
        scores = torch.rand(players, players, generator=torch.Generator().manual_seed(players)) * 2 - 1
        scores = scores.to(device)
        for samples in SAMPLES:
            fast, independent = (best_time(lambda: shapley_values(scores, value, "permutation", samples,
                                                                  generator=gen, beta=beta, independent=flag),
                                           20 * repeats, device) for flag in (False, True))

            def slow():
                perms = torch.stack([torch.stack([torch.randperm(players, generator=gen, device=device)
                                                  for _ in range(samples)]) for _ in range(players)])
                return reference_shapley(scores, perms, value, beta)

            slow_ms = best_time(slow, repeats, device)
            lines.append(f"| {players} | {samples} | {fast:.3f} | {independent:.3f} | {slow_ms:.1f} | "
                         f"{slow_ms / fast:.0f}x | {slow_ms / independent:.0f}x |")
    return lines


def error_table(value: str, beta: float) -> list[str]:
    lines = ["| k | M | MAE plain | MAE antithetic | mean abs phi |", "|---:|---:|---:|---:|---:|"]
    gen = torch.Generator().manual_seed(1)
    for players in EXACT_PLAYERS:
        scores = torch.rand(players, players, generator=torch.Generator().manual_seed(players),
                            dtype=torch.float64) * 2 - 1
        exact = shapley_values(scores, value, "exact", beta=beta)
        for samples in SAMPLES:
            errors = []
            for antithetic in (False, True):
                if antithetic and samples % 2:
                    errors.append(float("nan"))
                    continue
                trials = [shapley_values(scores, value, "permutation", samples, antithetic, gen, beta)
                          for _ in range(20)]  # averaged over 20 draws so the figure is stable
                errors.append(torch.stack([(t - exact).abs().mean() for t in trials]).mean().item())
            plain, paired = errors
            paired_text = "n/a (odd M)" if paired != paired else f"{paired:.4f}"
            lines.append(f"| {players} | {samples} | {plain:.4f} | {paired_text} | {exact.abs().mean():.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--value", default="max", choices=("max", "logsumexp", "additive"))
    parser.add_argument("--beta", type=float, default=0.1, help="temperature of the logsumexp value function")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--device", default="cpu", help="where both estimators run for the speed table")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls of the reference (20x as many of the vectorised); the best is kept")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    check_agreement(args.value, args.beta)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"value={args.value} beta={args.beta} torch={torch.__version__} device={where}")
    print("vectorised and reference estimators agree on the same permutations\n")
    print("\n".join(speed_table(args.value, args.beta, args.repeats, device)))
    print()
    print("\n".join(error_table(args.value, args.beta)))


if __name__ == "__main__":
    main()
