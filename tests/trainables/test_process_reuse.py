"""A trial in a reused process (data and pretrained weights cached from an earlier trial) trains exactly as it does
in a fresh process: same losses and scores, bit for bit on CPU."""
import json
import subprocess
import sys

from shapca.config import Config

SMALL = {"data.context": "blip2", "data.limit_train": 16, "data.limit_eval": 8, "data.max_len": 48,
         "data.context_max_len": 16, "train.batch_size": 8, "train.epochs": 2, "train.num_threads": 1}
# The first trial differs in seed and alignment, so the process holds state the second must not inherit.
FIRST = {**SMALL, "train.seed": 7, "align.alignment": "infonce"}
SECOND = {**SMALL, "train.seed": 2}

SCRIPT = """
import json, sys
from shapca.config import Config
from shapca.trainer import Trainer
from trainables.in_process import prepared
history = None
for over in json.loads(sys.argv[1]):
    cfg = Config().update(over)
    history = Trainer(cfg, prep=prepared(cfg), log=lambda *a, **k: None).fit().history
print("HISTORY " + json.dumps([{k: v for k, v in h.items() if not k.endswith("_s")} for h in history]))
"""


def _history(configs: list[dict]) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(configs)], capture_output=True, text=True,
                         timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("HISTORY ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("HISTORY "))


def test_a_reused_process_trains_like_a_fresh_one():
    as_float32 = {"train.amp": "none"}  # identities need a resolved precision; the trials train as `auto` resolves
    assert Config().update({**FIRST, **as_float32}).hash() != Config().update({**SECOND, **as_float32}).hash()
    fresh = _history([SECOND])
    reused = _history([FIRST, SECOND])
    assert len(fresh) == 2 and fresh[0]["train_loss"] > 0
    assert reused == fresh  # every loss term and score of every epoch, to the last bit
