"""The runner's command line as one typed object: each option's type, default and help are declared once, here.

`Options.parse(argv)` builds it once (in ablations/run.py); the planner, the commands and the launcher read its
fields. It is frozen: what was typed is what every part of the run sees.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path


def _at_least(minimum: float, kind=int):
    """An argparse type: a number of `kind` no smaller than `minimum` (a negative count means nothing here, and
    Tune would read max_failures=-1 as retry forever)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got "
                                             f"{text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {text}")
        return value
    parse.__name__ = kind.__name__  # what argparse names in its own messages
    return parse


def _seed(text: str) -> int:
    from shapca.config import MAX_SEED

    value = _at_least(0)(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is 0 .. {MAX_SEED}, got {text}")
    return value


# Over this many trials a plan is refused (--max-trials raises it). Planning takes about 0.3 ms a trial, so up to
# here every command answers in seconds; beyond it the plan is almost always a grid with more values than meant:
# 10,000 trials of a minute each (a smoke trial on a CPU) are a week of one machine, Tune keeps every trial in its
# driver and writes their state as it goes, and every trial is a run in MLflow (docs/studies.md, "Plan size").
MAX_TRIALS = 10_000


def _option(default, help: str, **argparse_kwargs):
    """A field that is also a command-line option (--the-name); `env` names a variable that gives the default."""
    return field(default=default, metadata={"help": help, **argparse_kwargs})


@dataclass(frozen=True)
class Options:
    study: str = _option(None, "a study name (search_spaces/<name>.yaml) or a YAML path", required=True)
    preset: str | None = _option(None, "smoke, cpu, compare or full (default; recorded on every run)")
    dry_run: bool = _option(False, "print the planned trials, what would be skipped, and what the rest would cost")
    probe: bool = _option(False, "with --dry-run: where no trial of the study has finished yet, time one config here")
    status: bool = _option(False, "where the study stands: done, running, pending, failed, best so far, ETA (reads "
                           "MLflow only)")
    resume: bool = _option(False, "restore an interrupted Optuna search (grids always fill only missing trials)")
    address: str | None = _option(None, "Ray cluster address (default: $RAY_ADDRESS, else a local Ray started here)",
                                  env="RAY_ADDRESS")
    tracking_uri: str | None = _option(None, "MLflow tracking URI (default: sqlite ./mlflow.db)")
    ui_url: str | None = _option(None, "where MLflow's UI is, for the addresses printed and the report's links "
                                 "(default: the tracking URI when it is a server, else http://127.0.0.1:5000)")
    storage: str = _option("runs", "results and checkpoints (shared storage on a cluster; default ./runs or "
                           "$SHAPCA_STORAGE)", env="SHAPCA_STORAGE")
    max_concurrent: int = _option(0, "trials at once (0: as resources allow)", type=_at_least(0))
    max_failures: int = _option(1, "retries of a trial's workers from its checkpoint", type=_at_least(0))
    max_trials: int = _option(MAX_TRIALS, f"refuse a plan of more trials than this (default {MAX_TRIALS:,}; "
                              "docs/studies.md says why)", type=_at_least(1))
    backend: str = _option("auto", "torch.distributed backend", choices=["auto", "gloo", "nccl"])
    datasets: tuple[str, ...] | None = _option(None, "run only these of the study's datasets (before the preset's "
                                               "cut)", nargs="+", metavar="NAME")
    variants: tuple[str, ...] | None = _option(None, "run only these named variants (rows) of the study; a sweep's "
                                               "grid stays", nargs="+", metavar="NAME")
    seeds: tuple[int, ...] | None = _option(None, "run these seeds instead of the study's (before the preset's cut)",
                                            nargs="+", type=_seed, metavar="N")
    set: tuple[str, ...] = _option((), "config overrides for every trial", nargs="*", metavar="KEY=VALUE")
    until_resolved: int | None = _option(None, "after the planned seeds, add seeds (the next integers) to the rows "
                                         "whose comparison with the reference is undetermined, round by round, up to "
                                         "MAX shared seeds (docs/statistics.md)", type=int, metavar="MAX")
    run_redundant: bool = _option(False, "also run the rows the dry run calls redundant: rows that cannot differ "
                                  "from another row here (a part the data cannot switch on, e.g. the context-image "
                                  "alignment without images)")
    no_report: bool = _option(False, "do not build the tables at the end")
    ray_output: bool = _option(False, "also show Ray Tune's own progress tables")
    tracking_wait: float = _option(600.0, "seconds to keep trying an unreachable tracking store at the end before "
                                   "saving the writes", type=_at_least(0, float))
    partial_report: bool = _option(False, "build the tables even when the study is interrupted (they say they are "
                                   "partial)")
    words: tuple[str, ...] = ()  # the command line as typed, for the parent run and the resume hint

    @classmethod
    def parse(cls, argv: list[str] | None = None, usage: str = "") -> Options:
        """From the command line (`argv`, else sys.argv); `usage` heads the --help text."""
        from shapca.config_help import config_help

        ap = argparse.ArgumentParser(description=usage, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=config_help())
        for f in fields(cls):
            if "help" not in f.metadata:
                continue
            kwargs = dict(f.metadata)
            env = kwargs.pop("env", None)
            default = os.environ.get(env, f.default) if env else f.default
            flag = "--" + f.name.replace("_", "-")
            if f.default is False:
                ap.add_argument(flag, action="store_true", **kwargs)
            else:
                ap.add_argument(flag, default=default, **kwargs)
        words = tuple(sys.argv[1:] if argv is None else argv)
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(ap.parse_args(words)).items()}
        # a local folder is made absolute now: trials run in other working folders
        storage = given["storage"] if "://" in given["storage"] else str(Path(given["storage"]).resolve())
        return cls(**{**given, "storage": storage, "words": words})

    def command(self) -> str:
        """The command as typed (quoted for a shell), for the parent run and the resume hint."""
        return shlex.join(["python", "ablations/run.py", *self.words])

    def resume_command(self) -> str:
        return self.command() + ("" if "--resume" in self.words else " --resume")
