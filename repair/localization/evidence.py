"""A span's localization evidence in words, for people: the interactive view, `localize` and its HTML page.

Each fused feature that lifted a span's score becomes a sentence; the largest contributions come first.
"""
from __future__ import annotations

SENTENCES = {
    "syntax": lambda v: "the parser stops here (a syntax error)",
    "mutant_fix": lambda v: ("a one-token change here (a probe mutant) makes the failing tests pass" if v >= 1
                             else f"a one-token change here makes {v:.0%} of the failing tests pass"),
    "mutant_kill": lambda v: "changing it changes what the failing tests do",
    "traceback": lambda v: "a failing test's traceback passes through this line",
    "near_raise": lambda v: "the exception is raised here or just after",
    "only_failing": lambda v: "run by failing tests and by no passing one",
    "fail_frac": lambda v: f"run by {v:.0%} of the failing tests",
    "spectrum": lambda v: f"run more by failing tests than by passing ones (Ochiai {v:.2f})",
    "dstar": lambda v: "run more by failing tests than by passing ones",
    "spectrum_top": lambda v: "among the lines the failing tests single out most",
    "branch": lambda v: "the failing tests take a branch here that passing tests do not",
    "branch_only_failing": lambda v: "only failing tests take a branch here",
    "surprisal": lambda v: "the model finds this line unlikely",
    "surprisal_peak": lambda v: "the model finds this line unlikely",
    "surprisal_rank": lambda v: "the model finds this line unlikely",
    "peak_rank": lambda v: "the model finds this line unlikely",
    "recent": lambda v: "among the last lines a failing test ran before it failed",
    "name_match": lambda v: "the failing tests are named after this function",
    "test_text": lambda v: "it uses words the failing tests use",
    "feeds": lambda v: "it defines data that lines the failing tests ran last read",
    "infill_rank": lambda v: "the model would write this line differently",
    "infill_regret_rank": lambda v: "the model would write this line differently",
}


def words(features: dict[str, float], contributions: dict[str, float], limit: int = 3) -> list[str]:
    """Sentences for the features that added most to the score (positive contributions only)."""
    out: list[str] = []
    for k, c in sorted(contributions.items(), key=lambda kv: -kv[1]):
        if c <= 0 or k not in SENTENCES:
            continue
        text = SENTENCES[k](features[k])
        if text not in out:
            out.append(text)
        if len(out) == limit:
            break
    return out or ["run by the failing tests"]
