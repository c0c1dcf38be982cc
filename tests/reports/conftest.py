"""Fixture studies in a temporary sqlite MLflow store, written the way docs/tracking.md says the runner writes them.

One store per test session (creating the schema costs seconds). Scores are computed from generated per-example
tp/fp/fn counts, so the logged metrics and predictions/test.jsonl agree as they do in real runs. Everything is seeded
and start times are fixed, so the reports built from this store are byte-identical between runs (golden files).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from golden_studies import STUDIES
from reports.contract import PLAN_ARTIFACT

EXPERIMENT = "shapca-report-fixtures"
COMPONENTS = ("context", "fusion", "shapley")
T0 = 1_700_000_000_000  # ms; runs start one second apart in creation order: "newest" is well defined


@dataclass
class FixtureStore:
    uri: str
    root: Path
    parents: dict[str, str] = field(default_factory=dict)  # "study/preset" -> parent run id
    tokens: dict[str, str] = field(default_factory=dict)  # run id -> stable token for golden files

    def stable(self, text: str) -> str:
        """Replace random run ids by stable tokens, so generated text can be compared with golden files."""
        for run_id, token in self.tokens.items():
            text = text.replace(run_id, token)
        return text


def _counts(quality: float, key: int, examples: int = 40) -> np.ndarray:
    """Per-example tp/fp/fn of a system of the given quality on a fixed gold set (1 or 2 entities each)."""
    gold = np.random.default_rng(7).integers(1, 3, size=examples)
    rng = np.random.default_rng(key)
    tp = rng.binomial(gold, quality)
    fp = rng.binomial(1, 0.5 * (1 - quality), size=examples)
    return np.stack([tp, fp, gold - tp], axis=1)


ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")
RELATIONS = ("/per/per/peer", "/per/loc/place_of_residence", "/org/org/subsidiary", "None")


def _labelled(task: str, quality: float, key: int, examples: int = 40) -> tuple[np.ndarray, list]:
    """Gold and predicted labels in shapca/tasks.py's format, and the per-example tp/fp/fn that they give (as
    shapca.metrics counts them): NER BIO tags over 8 tokens, RE one relation label per example."""
    from seqeval.metrics.sequence_labeling import get_entities

    rng = np.random.default_rng(key)
    gold_rng = np.random.default_rng(11)  # the same gold labels in every run: one test set
    counts, pairs = [], []
    for _ in range(examples):
        if task == "re":
            gold = RELATIONS[gold_rng.integers(len(RELATIONS))]
            pred = gold if rng.random() < quality else RELATIONS[rng.integers(len(RELATIONS))]
            hit = int(gold == pred != "None")
            counts.append((hit, int(pred != "None") - hit, int(gold != "None") - hit))
        else:
            gold, pred = ["O"] * 8, ["O"] * 8
            for start in (0, 3)[: 1 + int(gold_rng.integers(2))]:  # one or two gold entities of two tokens
                kind = ENTITY_TYPES[gold_rng.integers(len(ENTITY_TYPES))]
                gold[start: start + 2] = [f"B-{kind}", f"I-{kind}"]
                if rng.random() < quality:
                    pred[start: start + 2] = gold[start: start + 2]
                elif rng.random() < 0.5:  # the right span with the wrong type
                    other = ENTITY_TYPES[(ENTITY_TYPES.index(kind) + 1) % len(ENTITY_TYPES)]
                    pred[start: start + 2] = [f"B-{other}", f"I-{other}"]
            if rng.random() < 0.5 * (1 - quality):
                pred[6] = "B-MISC"  # a spurious entity
            gold_set, pred_set = set(get_entities(gold)), set(get_entities(pred))
            hit = len(gold_set & pred_set)
            counts.append((hit, len(pred_set) - hit, len(gold_set) - hit))
        pairs.append((gold, pred))
    return np.array(counts, dtype=np.int64), pairs


def _scores(counts: np.ndarray) -> dict[str, float]:
    tp, fp, fn = (float(x) for x in counts.sum(axis=0))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


class _Writer:
    def __init__(self, store: FixtureStore):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(store.uri)
        self.store = store
        self.experiment = self.client.create_experiment(EXPERIMENT,
                                                        artifact_location=(store.root / "artifacts").as_uri())
        self.clock = T0
        self.scratch = store.root / "scratch"
        self.scratch.mkdir()

    def _start(self, tags: dict[str, str], token: str) -> str:
        self.clock += 1000
        run = self.client.create_run(self.experiment, start_time=self.clock, tags=tags)
        self.store.tokens[run.info.run_id] = token
        return run.info.run_id

    def parent(self, study: str, preset: str, kind: str, seeds: str, datasets: str, params: str = "",
               rows: list[dict] | None = None, search: str = "grid", swept: tuple = (),
               reference: str | None = None, report: dict | None = None, space: dict | None = None) -> str:
        """The study's parent run; with rows ({label[, datasets][, swept]}, in the study's order), the plan too
        (plan.json, as ablations/plan_record.py writes it; a row without datasets is planned on all of them);
        report: more keys of the study file's report (margin, until_resolved)."""
        run_id = self._start({"shapca.role": "study", "study": study, "preset": preset, "report_kind": kind,
                              "report_params": params, "seeds": seeds, "datasets": datasets},
                             f"<parent:{study}/{preset}>")
        if rows is not None:
            plan = {"study": study, "preset": preset, "search": search, "swept": list(swept),
                    "datasets": datasets.split(","), "seeds": [int(s) for s in seeds.split(",")],
                    "rows": [{"label": r["label"], "overrides": {}, "swept": r.get("swept", {}), "components": None,
                              "datasets": r.get("datasets") or datasets.split(",")} for r in rows],
                    "report": {"kind": kind, "params": [p for p in params.split(",") if p],
                               **({"reference": reference} if reference else {}), **(report or {})},
                    **({"space": space} if space else {})}
            self.client.log_dict(run_id, plan, PLAN_ARTIFACT)
        self.client.set_terminated(run_id, "FINISHED", end_time=self.clock + 500)
        self.store.parents[f"{study}/{preset}"] = run_id
        return run_id

    def trial(self, study: str, variant: str, dataset: str, seed: int, *, quality: float = 0.7, preset: str = "cpu",
              config_hash: str | None = None, components: dict[str, int] | None = None,
              params: dict[str, str] | None = None, step_time: float = 0.05, status: str = "FINISHED",
              error: str | None = None, test_metrics: bool = True, images: str = "features", key: int = 0,
              task: str | None = None, epochs: int = 3, extra_tags: dict[str, str] | None = None) -> str:
        from mlflow.entities import Metric, Param

        config_hash = config_hash or f"h-{study}-{variant}".replace(" ", "").replace("/", "")
        tags = {"shapca.role": "trial", "study": study, "preset": preset, "variant": variant, "dataset": dataset,
                "seed": str(seed), "config_hash": config_hash, "trial_hash": f"{config_hash}-{dataset}-s{seed}",
                "images": images, "mlflow.parentRunId": self.store.parents[f"{study}/{preset}"]}
        tags |= extra_tags or {}
        if components is not None:
            tags["components"] = json.dumps(components, sort_keys=True)
        if error:
            tags["error"] = error
        run_id = self._start(tags, f"<run:{study}/{variant}/{dataset}/{seed}/{self.clock + 1000}>")
        metrics = []
        if status == "FINISHED":
            labels = _labelled(task, quality, key * 100 + seed) if task else None
            counts = _counts(quality, key * 100 + seed) if labels is None else labels[0]
            dev = _scores(_counts(quality, key * 100 + seed + 50))
            test = _scores(counts)
            final = {f"dev_{k}": v for k, v in dev.items()}
            final |= {f"test_{k}": v for k, v in test.items()} if test_metrics else {}
            final |= {"best_epoch": 2.0, "step_time_s": step_time, "samples_per_s": 16 / step_time}
            metrics = [Metric(k, v, self.clock, 0) for k, v in final.items()]
            for epoch in range(epochs):  # learning curves: loss falls, dev F1 climbs towards its final value
                metrics += [Metric("epoch_train_loss", round(2.0 / (epoch + 1) + 0.1 * seed, 4), self.clock, epoch),
                            Metric("epoch_dev_f1", round(dev["f1"] * (0.6 + 0.2 * epoch), 4), self.clock, epoch)]
            gold_pred = labels[1] if labels else [([], [])] * len(counts)
            lines = [json.dumps({"id": f"{dataset}-{i}", "tp": int(c[0]), "fp": int(c[1]), "fn": int(c[2]),
                                 "gold": g, "pred": p}) for i, (c, (g, p)) in enumerate(zip(counts, gold_pred))]
            path = self.scratch / "predictions" / "test.jsonl"
            path.parent.mkdir(exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
            self.client.log_artifacts(run_id, str(path.parent), artifact_path="predictions")
        flat = {"seed": str(seed), **(params or {})}
        self.client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in flat.items()])
        self.client.set_terminated(run_id, status, end_time=self.clock + 500)
        return run_id


# The factorial game: quality of each coalition (components switched on), so F1 grows with the parts.
QUALITY = {(): 0.45, ("context",): 0.6, ("fusion",): 0.5, ("shapley",): 0.47, ("context", "fusion"): 0.72,
           ("context", "shapley"): 0.66, ("fusion", "shapley"): 0.55, ("context", "fusion", "shapley"): 0.8}


def _variant(coalition: tuple[str, ...]) -> str:
    """Names as in search_spaces/factorial.yaml: 'full', 'w/o fusion', 'w/o context, shapley', ..."""
    removed = [c for c in COMPONENTS if c not in coalition]
    return "w/o " + ", ".join(removed) if removed else "full"


def _populate(w: _Writer) -> None:
    order = [_variant(c) for c in sorted(QUALITY, key=lambda c: (-len(c), c))]
    w.parent("factorial", "cpu", "factorial", "1,2", "twitter2017,mnre", rows=[{"label": v} for v in order])
    # An older config of the full model on MNRE, started before the rest: superseded by the newest hash.
    w.trial("factorial", "full", "mnre", 1, quality=0.2, config_hash="h-old", key=99,
            components={c: 1 for c in COMPONENTS})
    for index, (coalition, quality) in enumerate(sorted(QUALITY.items())):
        components = {c: int(c in coalition) for c in COMPONENTS}
        for seed in (1, 2):
            w.trial("factorial", _variant(coalition), "twitter2017", seed, quality=quality, components=components,
                    key=index)
        if len(coalition) >= 2:  # MNRE has the leave-one-out cells only: its missing coalitions are named
            seeds = (1,) if coalition == ("context", "shapley") else (1, 2)  # one cell short of a seed: n=1/2
            for seed in seeds:
                w.trial("factorial", _variant(coalition), "mnre", seed, quality=quality - 0.1,
                        components=components, key=index + 20)
    w.trial("factorial", "w/o fusion", "mnre", 2, status="FAILED", components={"context": 1, "fusion": 0,
            "shapley": 1}, error=("Failure # 1 (occurred at 2026-01-01)\n\x1b[36mray::ImplicitFunc.train()\x1b[39m\n"
                   "Traceback (most recent call last):\n  File \"shapca/fusion.py\", line 9, in forward\n"
                   "    gate = self.gate(x)\nRuntimeError: CUDA out of memory while fusing"))

    # A sweep with a named variant beside it, as search_spaces/shapley_samples.yaml has.
    w.parent("samples", "cpu", "sweep", "1,2", "twitter2017", params="shapley.samples",
             rows=[{"label": f"shapley.samples={m}", "swept": {"shapley.samples": str(m)}} for m in (1, 4, 16)]
             + [{"label": "closed form"}], reference="closed form")
    for index, samples in enumerate((1, 4, 16)):
        for seed in (1, 2):
            w.trial("samples", f"shapley.samples={samples}", "twitter2017", seed, quality=0.55 + 0.07 * index,
                    params={"shapley.samples": str(samples)}, step_time=0.02 * samples + 0.01 * seed, key=40 + index)
    for seed in (1, 2):
        w.trial("samples", "closed form", "twitter2017", seed, quality=0.72, params={"shapley.samples": "16"},
                step_time=0.03, key=45)

    # Named variants restricted to some datasets, as search_spaces/context_generator.yaml has.
    generators = {"none": None, "blip2": ["twitter2015", "twitter2017"], "llava": ["twitter2017"]}
    w.parent("context", "cpu", "sweep", "1", "twitter2015,twitter2017", params="data.context",
             rows=[{"label": g, **({"datasets": d} if d else {})} for g, d in generators.items()])
    for index, (generator, datasets) in enumerate(generators.items()):
        for dataset in datasets or ("twitter2015", "twitter2017"):
            w.trial("context", generator, dataset, 1, quality=0.55 + 0.05 * index, params={"data.context": generator},
                    images="none", key=50 + index + 10 * (dataset == "twitter2017"))

    w.parent("main", "cpu", "main", "1,2", "twitter2017", rows=[{"label": "full"}, {"label": "baseline"}])
    for seed in (1, 2):
        w.trial("main", "baseline", "twitter2017", seed, quality=0.5, key=60)
        w.trial("main", "full", "twitter2017", seed, quality=0.75, key=61)

    for preset in ("cpu", "full"):  # mixed presets: refused unless one is chosen
        w.parent("mixed", preset, "main", "1", "twitter2017")
        w.trial("mixed", "full", "twitter2017", 1, preset=preset, key=70)

    _populate_search(w)
    # Every size at its smallest: one seed, one epoch, every score zero.
    w.parent("tiny", "cpu", "main", "1", "twitter2017", rows=[{"label": "full"}, {"label": "baseline"}])
    for variant in ("full", "baseline"):
        w.trial("tiny", variant, "twitter2017", 1, quality=0.0, epochs=1, key=90)

    w.parent("no_test", "cpu", "main", "1", "twitter2017")
    w.trial("no_test", "full", "twitter2017", 1, test_metrics=False, key=80)
    _populate_verdicts(w)  # last: the run tokens of the golden files above keep their clock times


def _populate_verdicts(w: _Writer) -> None:
    """A study that declared its margin and added seeds until resolved (report.margin, report.until_resolved): a
    row that changes nothing (the full model's predictions, seed for seed), a worse row, and a row that got seeds 4 to
    6 after the planned 1 to 3 (with the reference)."""
    w.parent("verdicts", "cpu", "ablation", "1,2,3", "twitter2017",
             rows=[{"label": v} for v in ("full", "same", "worse", "close")],
             report={"margin": 2.0, "until_resolved": 6})
    for seed in range(1, 7):
        w.trial("verdicts", "full", "twitter2017", seed, quality=0.75, key=150)
        w.trial("verdicts", "close", "twitter2017", seed, quality=0.72, key=152)
        if seed <= 3:
            w.trial("verdicts", "same", "twitter2017", seed, quality=0.75, key=150)
            w.trial("verdicts", "worse", "twitter2017", seed, quality=0.3, key=151)


SEARCH = {"train.lr": {"loguniform": [1.0e-5, 1.0e-4]}, "align.tau": {"loguniform": [0.02, 1.0]},
          "shapley.samples": {"logint": [1, 64]},
          "model.fusion_gate": {"choice": ["none", "scalar", "vector", "token"]}}


def _described(distribution: dict) -> str:
    """A distribution as plan.json's space writes it (ablations/schema.py Distribution.describe)."""
    ((kind, values),) = distribution.items()
    return f"{kind} [{', '.join(values)}]" if kind == "choice" else f"{kind}({values[0]:g}, {values[1]:g})"


def _populate_search(w: _Writer) -> None:
    """An Optuna search as search_spaces/hpo.yaml runs it (report kind sweep, search optuna), on an NER and an RE
    dataset, with labelled predictions; F1 depends mostly on the fusion gate, some trials stopped after 1 epoch."""
    w.parent("search", "cpu", "sweep", "1", "twitter2017,mnre", params=",".join(SEARCH), rows=[], search="optuna",
             swept=tuple(SEARCH), space={k: _described(d) for k, d in SEARCH.items()})
    rng = np.random.default_rng(5)
    gates = SEARCH["model.fusion_gate"]["choice"]
    for dataset, task in (("twitter2017", "ner"), ("mnre", "re")):
        for index in range(10):
            values = {"train.lr": float(10 ** rng.uniform(-5, -4)), "align.tau": float(10 ** rng.uniform(-1.7, 0)),
                      "shapley.samples": int(2 ** rng.integers(0, 7)), "model.fusion_gate": gates[index % 4]}
            label = ", ".join(f"{k}={format(v, '.4g') if isinstance(v, float) else v}" for k, v in values.items())
            quality = 0.4 + 0.1 * gates.index(values["model.fusion_gate"]) + 0.02 * index
            stopped = index % 3 == 0  # ASHA stopped it after its first epoch
            # MNRE's runs name their Optuna trial (as the runner tags them); Twitter-2017's, logged before that, not
            extra = {"stopped_early": "epoch 1/3"} if stopped else {}
            extra |= {"optuna_trial": str(index)} if task == "re" else {}
            w.trial("search", label, dataset, 1, quality=quality, task=task, epochs=1 if stopped else 3,
                    params={k: str(v) for k, v in values.items()}, key=100 + index + 20 * (task == "re"),
                    extra_tags=extra)


def _skip_fsync_under(root: Path) -> None:
    """sqlite without fsync for this fixture's database only: hundreds of commits otherwise wait on the disk."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _no_sync(dbapi_connection, _record):
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return  # the listener sees every engine of the session: PostgreSQL stores of other tests too
        databases = dbapi_connection.execute("PRAGMA database_list").fetchall()
        if databases and str(databases[0][2]).startswith(str(root)):
            dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory) -> FixtureStore:
    root = tmp_path_factory.mktemp("mlflow_fixture")
    _skip_fsync_under(root)
    store = FixtureStore(uri=f"sqlite:///{root / 'm.db'}", root=root)
    _populate(_Writer(store))
    return store




@pytest.fixture(scope="session")
def built(fixture_store, tmp_path_factory):
    """Every fixture study built once (and logged to its parent run): study -> (folder, returned paths)."""
    from reports.build import build_study

    root = tmp_path_factory.mktemp("reports")
    return {s: (root / s, build_study(s, fixture_store.uri, out_dir=root / s)) for s in STUDIES}
