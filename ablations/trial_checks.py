"""The checks a planned trial's whole config must pass, made where the plan resolves it (dry runs included), so that
a bad study fails before anything starts and names the trial: the user's files pinned (absolute, present, known by
their content: shapca/inputs.py), the context generator of the dataset, a local encoder folder, the exact Shapley
estimator's players.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ablations.schema import StudyError
from shapca.config import Config, ConfigError
from shapca.inputs import pin
from shapca.shapley_choices import MAX_EXACT_PLAYERS


@dataclass
class Read:
    """What the trials of one plan name on disk, read once: each user file's sha256, each encoder checked."""
    digests: dict = field(default_factory=dict)  # absolute path -> sha256
    encoders: set = field(default_factory=set)


def check_trial(cfg: Config, where: str, read: Read) -> None:
    """Pins `cfg`'s files in place and checks what only a whole config can say; StudyError naming `where`."""
    try:  # trials run in Ray's working folders, on other machines: the files' paths and contents are fixed now
        pin(cfg, digests=read.digests)
    except ConfigError as e:
        raise StudyError(f"{where}: {e}") from None
    _check_context(cfg, where)
    _check_encoder(cfg.model.encoder, where, read)
    # the alignment loss runs on training batches only (the contexts of one are the players), so the training batch
    # size bounds the players exact enumeration takes
    if cfg.shapley.estimator == "exact" and cfg.train.batch_size > MAX_EXACT_PLAYERS:
        raise StudyError(f"{where}: shapley.estimator=exact enumerates 2^k coalitions of the k pairs of a "
                         f"mini-batch; train.batch_size {cfg.train.batch_size} exceeds {MAX_EXACT_PLAYERS}")


def _check_context(cfg: Config, where: str) -> None:
    from shapca.data.context_texts import generators

    context = cfg.data.context
    if context.startswith("file:"):
        return
    known = generators(cfg.data.dataset)
    if context not in known:
        raise StudyError(f"{where}: data.context '{context}' is not a context generator of {cfg.data.dataset} "
                         f"(known: {', '.join(known)}, file:<path>); set it per dataset in dataset_overrides or "
                         f"restrict the variant with datasets: [...]")


def _check_encoder(encoder: str, where: str, read: Read) -> None:
    """A local encoder folder must be there; a hub name is left to the run's own check (it asks the hub: seconds)."""
    if encoder in read.encoders:
        return
    from shapca.model import EncoderUnavailable, check_encoder

    try:
        check_encoder(encoder, hub=False)
    except EncoderUnavailable as e:
        raise StudyError(f"{where}: {e}") from None
    read.encoders.add(encoder)
