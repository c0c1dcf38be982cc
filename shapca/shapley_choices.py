"""The Shapley estimator's choices, without torch: the config checks them (shapca/config.py) and the study runner
plans with them before anything imports torch; shapca/shapley.py computes them."""
from __future__ import annotations

VALUES = ("max", "logsumexp", "additive")  # the coalition games
ESTIMATORS = ("auto", "exact", "permutation", "closed_form")
CLOSED_FORM_VALUES = ("max", "additive")  # the games with an exact closed form
MAX_EXACT_PLAYERS = 16  # exact enumeration costs 2^k coalitions: refused above this many players
