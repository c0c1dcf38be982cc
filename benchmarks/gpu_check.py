"""Everything this project wants to know of a GPU, in one command and one table (about 6 minutes on one GPU).

    python benchmarks/gpu_check.py [--device cuda] [--out DIR] [--parts tests,step,packing,crf,study]

Parts, each a process of its own with a time limit, its whole output kept in DIR/<part>.txt:
- tests: the CUDA-only tests (tests/method/test_method_cuda.py): passed, failed, skipped;
- step: the full model's training step at batch 128 in bf16 with a bert-base-sized encoder, and its share of the
  card's dense bf16 peak (benchmarks/gpu_step.py);
- packing: four trials packed on one GPU (resources.gpus_per_worker 0.25) against the same four one at a time on the
  whole GPU, in trials per hour, through the study runner;
- crf: the CRF's forward algorithm as a scan against the loop, on the device (benchmarks/crf_cost.py);
- study: a small study end to end on the device (runner, Ray, MLflow, tables).
On a machine without a GPU, `--device cpu` runs the same parts on the CPU at small sizes: the script itself is
tested that way (tests/test_gpu_check.py); its figures there say nothing of a GPU.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("tests", "step", "packing", "crf", "study")
LIMIT_S = {"tests": 120, "step": 150, "packing": 240, "crf": 60, "study": 150}
STUDY = """name: {name}
description: gpu_check {name}
datasets: [twitter2017]
seeds: {seeds}
base: {{data.context: blip2, align.alignment: shapley}}
search: {{algorithm: grid}}
resources: {{workers: 1, cpus_per_worker: 1, gpus_per_worker: {gpus}}}
report: {{kind: main}}
"""
SMALL = ["model.encoder=minilm", "train.epochs=1"]


def run(part: str, cmd: list[str], out: Path, limit_s: float) -> tuple[str, float]:
    """Runs one part's command; returns (its whole output, seconds). A part past its limit says so."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit_s)
        text = proc.stdout + proc.stderr + ("" if proc.returncode == 0 else f"\nEXIT {proc.returncode}\n")
    except subprocess.TimeoutExpired as e:
        text = f"{e.stdout or ''}{e.stderr or ''}\nTIMEOUT after {limit_s:.0f} s\n"
    (out / f"{part}.txt").write_text(text)
    return text, time.perf_counter() - t0


def failed(text: str) -> str | None:
    found = re.search(r"^(EXIT \d+|TIMEOUT after \d+ s)$", text, re.M)
    return found.group(1) if found else None


def study_file(folder: Path, name: str, seeds: list[int], gpus: float) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, seeds=seeds, gpus=gpus))
    return path


def runner(study: Path, out: Path, sets: list[str]) -> list[str]:
    return [sys.executable, "ablations/run.py", "--study", str(study), "--preset", "full", "--no-report",
            "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}", "--storage", str(out / "store"), "--set", *sets]


def finished(text: str) -> str:
    found = re.search(r"(\d+) finished, (\d+) failed, .* of (\d+), in ([\d.]+) min", text)
    return f"{found.group(1)}/{found.group(3)} finished, {found.group(2)} failed" if found else "no summary"


def check_tests(out: Path, device: str) -> str:
    text, _ = run("tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/method/test_method_cuda.py"], out, LIMIT_S["tests"])
    found = re.search(r"(\d+ passed)?[, ]*(\d+ failed)?[, ]*(\d+ skipped)?[, ]*(\d+ error)?[^\n]* in [\d.]+s", text)
    return found.group(0).split(" in ")[0] if found else (failed(text) or "no pytest summary")


def check_step(out: Path, device: str) -> str:
    batch, steps, warmup = ("128", "20", "3") if device == "cuda" else ("2", "1", "1")  # CPU: the path only
    text, _ = run("step", [sys.executable, "benchmarks/gpu_step.py", "--device", device, "--batch-size", batch,
                           "--steps", steps, "--warmup", warmup], out, LIMIT_S["step"])
    row = re.search(rf"^\| {batch} \| {steps} \| ([\d.]+) \| (\d+) \|.*\| ([\d.nan]+%) \|$", text, re.M)
    if not row:
        return failed(text) or "no result row"
    return f"batch {batch}: {row.group(1)} ms/step, {row.group(2)} samples/s, {row.group(3)} of the bf16 peak"


def check_packing(out: Path, device: str) -> str:
    gpus = (0.25, 1) if device == "cuda" else (0, 0)
    rates = []
    for share in gpus:
        name = f"pack_{str(share).replace('.', '_')}"
        path = study_file(out, name, [1, 2, 3, 4], share)
        sets = SMALL + ["data.limit_train=256", "data.limit_eval=128", f"train.device={device}"]
        text, seconds = run(f"packing-{name}", runner(path, out, sets), out, LIMIT_S["packing"] / 2)
        if failed(text):
            return f"{name}: {failed(text)}"
        rates.append((share, 4 / seconds * 3600, finished(text)))
    (a, rate_a, done_a), (b, rate_b, done_b) = rates
    return (f"4 trials at {a} GPU each: {rate_a:.0f} trials/h ({done_a}); one at a time at {b} GPU: {rate_b:.0f} "
            f"trials/h ({done_b}); packed/alone {rate_a / rate_b:.2f}x")


def check_crf(out: Path, device: str) -> str:
    text, _ = run("crf", [sys.executable, "benchmarks/crf_cost.py", "--device", device, "--steps", "3"], out,
                  LIMIT_S["crf"])
    ways = dict(re.findall(r"CRF loss forward\+backward, (\w+): ([\d.]+) ms", text))
    if set(ways) != {"loop", "scan"}:
        return failed(text) or "no timings"
    return f"loop {ways['loop']} ms, scan {ways['scan']} ms (scan/loop {float(ways['scan']) / float(ways['loop']):.2f})"


def check_study(out: Path, device: str) -> str:
    path = study_file(out, "gpu_smoke", [1], 1 if device == "cuda" else 0)
    sets = SMALL + ["data.limit_train=64", "data.limit_eval=64", f"train.device={device}"]
    text, _ = run("study", runner(path, out, sets), out, LIMIT_S["study"])
    return failed(text) or finished(text)


CHECKS = {"tests": check_tests, "step": check_step, "packing": check_packing, "crf": check_crf,
          "study": check_study}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--out", type=Path, default=None, help="folder for each part's output (default: a temp folder)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    rows = []
    for part in parts:
        t0 = time.perf_counter()
        result = CHECKS[part](out.resolve(), args.device)
        rows.append((part, result, time.perf_counter() - t0))
    print(f"\ngpu_check on {args.device} (outputs in {out})\n")
    print("| part | result | seconds |")
    print("|:---|:---|---:|")
    for part, result, seconds in rows:
        print(f"| {part} | {result} | {seconds:.0f} |")
    return 1 if any(re.match(r"(EXIT|TIMEOUT|no )", r) for _, r, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
