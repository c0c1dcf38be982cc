"""Every config key with its type, default and one line of help, for `--help` epilogs.

Derived from the dataclasses of shapca.config by introspection, so a new key shows up without editing this file.
The help line is the key's trailing comment in shapca/config.py (read from the source, where the authors already
explain each switch); the few keys without a comment get theirs from EXTRA_HELP below. A key with neither gets
"(no help yet)", which tests/test_entry_points.py refuses, so the listing never silently loses a key.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
import typing

from shapca.config import SECTIONS, Config

# One line for keys whose definition in shapca/config.py has no trailing comment.
EXTRA_HELP = {
    "data.image_dir": "folder of the raw images (needed by data.image=encoder:<name>)",
    "model.fusion_heads": "attention heads of the fusion module",
    "model.dropout": "dropout probability in the fusion module and heads",
    "shapley.antithetic": "pair each sampled permutation with its reverse (lower variance of the estimate)",
    "align.tau": "temperature of the contrastive loss over Shapley contributions",
    "align.both_directions": "contrast in both directions (context->text and text->context, likewise for images)",
    "train.epochs": "training epochs; the best dev epoch is kept",
    "train.batch_size": "training examples per step (also the Shapley game's players per mini-batch)",
    "train.eval_batch_size": "examples per step when evaluating dev and test",
    "train.weight_decay": "AdamW weight decay",
    "train.grad_clip": "clip the gradient norm to this value",
    "train.seed": "random seed of initialisation, shuffling and Shapley sampling",
}
MISSING = "(no help yet)"


def _field_comments(cls) -> dict[str, str]:
    """Field name -> its trailing comment in the dataclass's source (tokenize, so a '#' inside a string is no
    comment)."""
    source = textwrap.dedent(inspect.getsource(cls))
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        match = re.match(r"\s+(\w+)\s*:", token.line)
        if token.type == tokenize.COMMENT and match:
            found[match.group(1)] = token.string.lstrip("#").strip()
    return found


def _type_name(typ) -> str:
    return getattr(typ, "__name__", str(typ))


def config_keys() -> list[dict]:
    """One record per dotted key, in definition order: key, type, default, help."""
    defaults = Config().flat()
    records = []
    top_hints = typing.get_type_hints(Config)
    for section in SECTIONS:
        cls = top_hints[section]
        hints, comments = typing.get_type_hints(cls), _field_comments(cls)
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            text = f.metadata.get("help") or comments.get(f.name) or EXTRA_HELP.get(key) or MISSING
            records.append({"key": key, "type": _type_name(hints[f.name]), "default": defaults[key], "help": text})
    return records


def config_help() -> str:
    """The listing as plain text for an argparse epilog (use RawDescriptionHelpFormatter to keep its layout)."""
    records = config_keys()
    shown = [(r["key"], r["type"], repr(r["default"]), r["help"]) for r in records]
    widths = [max(len(row[i]) for row in shown) for i in range(3)]
    lines = ["config keys (set any with --set KEY=VALUE; values are parsed as YAML):",
             f"  {'key':<{widths[0]}}  {'type':<{widths[1]}}  {'default':<{widths[2]}}  help"]
    lines += [f"  {k:<{widths[0]}}  {t:<{widths[1]}}  {d:<{widths[2]}}  {h}" for k, t, d, h in shown]
    return "\n".join(lines)


if __name__ == "__main__":
    print(config_help())
