"""A study's records in one compact file, so that its tables outlive the machine and the store that made them.

    python reports/export.py --study ablation --preset compare [--tracking-uri URI] [--out PATH]
    python reports/build.py --from results/ablation-compare.jsonl.gz      # the tables, from the file alone
    python reports/publish.py --from results/ablation-compare.jsonl.gz    # the results-page section, likewise

The file (default results/<study>-<preset>.jsonl.gz) is gzip-compressed JSON lines, never pickle. Line 1 is the
header: format, version, study, preset, how many parent runs the study and preset have, and the newest parent run
(id, experiment, start time, the tags the reports read, plan.json, the wall time of each run of the command). Then
one line per trial run of the preset, whatever its status: {"trial": the run's record (reports.records.Trial:
identity trial_hash and config_hash, variant, dataset, seed, status, resolved config as params, best metrics,
commit, error), "history": every per-epoch metric as [step, value] pairs, "predictions": {"ids", "counts" (tp, fp,
fn per test example), "labels" ([gold, pred] per example)} or null when the run logged none}; "history" and
"predictions" are there for the runs the tables count. The values of the command's machine options
(reports.contract.MACHINE_OPTIONS) are replaced by "<machine>": the published command leaves them out either way.
The gzip header carries no time or name, so exporting the same records twice gives the same bytes.
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import shlex
import sys
import zlib
from pathlib import Path

import numpy as np

from reports.assemble import assemble
from reports.contract import COMMAND_TAG, MACHINE_OPTIONS
from reports.records import ParentRecord, Predictions, ReportError, StudyData, StudySource, Trial

FORMAT, VERSION = "shapca-study-export", 1
MACHINE_VALUE = "<machine>"
_TRIAL_FIELDS = {f.name for f in dataclasses.fields(Trial)} - {"artifact_uri"}  # a store's path: not portable


def export_path(study: str, preset: str) -> Path:
    return Path("results") / f"{study}-{preset}.jsonl.gz"


def redacted_command(command: str) -> str:
    """The command with the values of its machine options replaced (the options stay, so the page says which);
    each line (one per run of the study: ablations/tracking.py accumulates them) on its own."""
    return "\n".join(_redacted(line) for line in command.splitlines())


def _redacted(command: str) -> str:
    words, out = iter(shlex.split(command)), []
    for word in words:
        option, has_value, _ = word.partition("=")
        if option in MACHINE_OPTIONS:
            out.append(f"{option}={MACHINE_VALUE}" if has_value else option)
            if not has_value and next(words, None) is not None:
                out.append(MACHINE_VALUE)
        else:
            out.append(word)
    return shlex.join(out)


def _lines(source: StudySource):
    parent = source.parent
    tags = dict(parent.tags)
    if tags.get(COMMAND_TAG):
        tags[COMMAND_TAG] = redacted_command(tags[COMMAND_TAG])
    yield {"format": FORMAT, "version": VERSION, "study": source.study, "preset": source.preset,
           "parents": source.parents,
           "parent": {"run_id": parent.run_id, "experiment_id": parent.experiment_id, "start_time": parent.start_time,
                      "tags": tags, "plan": parent.plan, "walls": list(parent.walls)}}
    for trial in sorted(source.trials, key=lambda t: (t.start_time, t.run_id)):
        line = {"trial": {k: v for k, v in dataclasses.asdict(trial).items() if k in _TRIAL_FIELDS}}
        if trial.run_id in source.histories:
            line["history"] = {k: [list(p) for p in v] for k, v in source.histories[trial.run_id].items()}
        if trial.run_id in source.predictions:
            p = source.predictions[trial.run_id]
            line["predictions"] = None if p is None else {"ids": list(p.ids), "counts": p.counts.tolist(),
                                                          "labels": [list(pair) for pair in p.labels]}
        yield line


def write_export(source: StudySource, path: Path) -> Path:
    """Write the study's records to path, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # this writer's own
    with open(staged, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for line in _lines(source):
            gz.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
    staged.replace(path)
    return path


def _predictions(value, where: str) -> Predictions | None:
    if value is None:
        return None
    try:
        ids = tuple(value["ids"])
        counts = np.asarray(value["counts"], dtype=np.int64).reshape(-1, 3)
        labels = tuple((gold, pred) for gold, pred in value["labels"])
    except (KeyError, TypeError, ValueError) as err:
        raise ReportError(f"{where}: predictions need ids, counts (tp, fp, fn each) and labels ({err})") from None
    if not all(isinstance(i, str) for i in ids) or len(ids) != len(counts) or len(labels) not in (0, len(ids)):
        raise ReportError(f"{where}: predictions need as many string ids as counts and labels")
    if counts.size and counts.min() < 0:
        raise ReportError(f"{where}: negative count in predictions")
    return Predictions(ids, counts, labels)


def _trial(record: dict, where: str) -> Trial:
    trial = Trial(**record)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in trial.metrics.values())
    if not (isinstance(trial.run_id, str) and isinstance(trial.status, str) and isinstance(trial.variant, str)
            and isinstance(trial.dataset, str) and (trial.seed is None or isinstance(trial.seed, int))
            and isinstance(trial.params, dict) and isinstance(trial.metrics, dict) and numbers):
        raise ReportError(f"{where}: trial record with a field of the wrong type (run_id, status, variant, dataset "
                          "text; seed an integer or null; params and metrics objects, metrics numbers)")
    return trial


def _parent(header, where: str) -> ParentRecord:
    try:
        p = header["parent"]
        return ParentRecord(run_id=str(p["run_id"]), experiment_id=str(p["experiment_id"]),
                            start_time=int(p["start_time"]), tags={str(k): str(v) for k, v in p["tags"].items()},
                            plan=p["plan"], walls=tuple(float(w) for w in p["walls"]))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ReportError(f"{where}: the header's parent run record is incomplete ({err!r})") from None


def _read_lines(path: Path):
    """(line number, decoded object) of each non-empty line; errors name the file and the line."""
    number = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, text in enumerate(lines, start=1):
                if text.strip():
                    try:
                        yield number, json.loads(text)
                    except ValueError as err:
                        raise ReportError(f"{path}:{number}: not a JSON line ({err})") from None
    except FileNotFoundError:
        raise ReportError(f"{path}: no such export") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise ReportError(f"{path}:{number + 1}: not a readable gzip file of JSON lines ({err})") from None


def read_export(path: Path) -> StudySource:
    """The study's records from an export, checked line by line."""
    path = Path(path)
    lines = _read_lines(path)
    number, header = next(lines, (1, None))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ReportError(f"{path}:{number}: not a study export (its first line must say format {FORMAT!r})")
    if header.get("version") != VERSION:
        raise ReportError(f"{path}:{number}: export version {header.get('version')!r}; this code reads {VERSION}")
    try:
        source = StudySource(str(header["study"]), str(header["preset"]), _parent(header, f"{path}:{number}"),
                             int(header["parents"]), [])
    except (KeyError, TypeError, ValueError) as err:
        raise ReportError(f"{path}:{number}: the header lacks study, preset or parents ({err!r})") from None
    for number, line in lines:
        where = f"{path}:{number}"
        record = line.get("trial") if isinstance(line, dict) else None
        if not isinstance(record, dict) or set(record) != _TRIAL_FIELDS:
            raise ReportError(f"{where}: not a trial record (expected the fields {sorted(_TRIAL_FIELDS)})")
        trial = _trial(record, where)
        if any(t.run_id == trial.run_id for t in source.trials):
            raise ReportError(f"{where}: run {trial.run_id} appears twice")
        source.trials.append(trial)
        if "history" in line:
            try:
                source.histories[trial.run_id] = {str(k): [(int(s), float(v)) for s, v in steps]
                                                  for k, steps in line["history"].items()}
            except (TypeError, ValueError, AttributeError) as err:
                raise ReportError(f"{where}: history must map metric keys to [step, value] pairs ({err})") from None
        if "predictions" in line:
            source.predictions[trial.run_id] = _predictions(line["predictions"], where)
    if not source.trials:
        raise ReportError(f"{path}: no trial records after the header")
    return source


def load_export(path: Path) -> StudyData:
    """The study ready to report, from its export alone: what load_study gives from the store."""
    return assemble(read_export(path))


def main(argv: list[str] | None = None) -> int:
    import mlflow
    from mlflow.tracking import MlflowClient

    from reports.mlflow_source import read_source

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", required=True)
    ap.add_argument("--preset", default=None, help="needed when runs of several presets exist")
    ap.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else "
                    "MLflow's default)")
    ap.add_argument("--out", type=Path, default=None, help="default: results/<study>-<preset>.jsonl.gz")
    args = ap.parse_args(argv)
    try:
        source = read_source(MlflowClient(args.tracking_uri or mlflow.get_tracking_uri()), args.study, args.preset,
                             every_epoch_metric=True)
        assemble(source)  # an export of a study the tables would refuse is refused now, not when it is read
        path = write_export(source, args.out or export_path(source.study, source.preset))
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(source.trials)} trial record(s) of {source.study} ({source.preset}) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
