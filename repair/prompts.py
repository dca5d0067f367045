"""The one prompt builder: `debugger fix`, `data/` and `training/` all render prompts here.

Templates live in repair/templates/*.txt and use $name placeholders (string.Template) so that
Python braces in code need no escaping. Two edit formats:
  infill   cut the localized lines out and let the model fill the middle (fill-in-the-middle tokens)
  rewrite  show the localized function with the failure and ask for the whole function back (chat)
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from string import Template

from .testrun import TestCase, TestReport

TEMPLATES = Path(__file__).parent / "templates"
MAX_FAILURE = 1500
MAX_CONTEXT = 2500


@dataclass(frozen=True)
class Fim:
    """A model family's fill-in-the-middle tokens, and the tokens that end its middle."""
    family: str
    prefix: str
    suffix: str
    middle: str
    stops: tuple[str, ...]


# The families whose FIM tokens are known. Qwen's is the default: the packs, the shipped adapter and the
# training data speak it.
FIM_FAMILIES = {
    "qwen": Fim("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
                ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_suffix|>",
                 "<|fim_middle|>", "<|repo_name|>")),
    "starcoder": Fim("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
                     ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>")),
    "deepseek": Fim("deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
                    ("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>")),
    "codellama": Fim("codellama", "<PRE> ", " <SUF>", " <MID>", ("<EOT>", "</s>")),
}
QWEN = FIM_FAMILIES["qwen"]


def fim_for_vocab(vocab) -> Fim | None:
    """The family whose three FIM tokens the tokenizer's vocabulary holds; None: the model cannot infill."""
    tokens = set(vocab)
    for fim in FIM_FAMILIES.values():
        if {fim.prefix.strip(), fim.suffix.strip(), fim.middle.strip()} <= tokens:
            return fim
    return None


def fim_for_name(name: str) -> Fim | None:
    """For a model known only by name (a GGUF file, a remote endpoint): the family its name says."""
    low = name.lower()
    for key, family in (("qwen", "qwen"), ("starcoder", "starcoder"), ("deepseek", "deepseek"),
                        ("codellama", "codellama"), ("code-llama", "codellama")):
        if key in low:
            return FIM_FAMILIES[family]
    return None


def refuse_infill(model: str):
    from .source import InputError
    raise InputError(f"{model} has no fill-in-the-middle tokens of a known family ({', '.join(FIM_FAMILIES)}): "
                     "run it with --formats mutant,rewrite")


def fim_text(p: Prompt, fim: Fim) -> str:
    """An infill prompt in a family's tokens (its `text` is Qwen's)."""
    return p.text if fim == QWEN else fim.prefix + p.head + p.prefix + fim.suffix + p.suffix + p.tail + fim.middle


@dataclass
class Prompt:
    kind: str  # infill | rewrite | naive
    start_line: int  # span being replaced, 1-based inclusive
    end_line: int
    original: str  # the span's current text
    text: str = ""  # raw prompt (infill)
    messages: list[dict] = field(default_factory=list)  # chat prompt (rewrite)
    prefix: str = ""
    suffix: str = ""
    head: str = ""  # infill: the failure comment above the prefix (hinted prompts, as the adapter was trained)
    tail: str = ""  # infill: the failure comment below the suffix (hinted prompts, models without an adapter)
    name: str = ""  # function name for rewrites
    max_new_tokens: int = 64
    max_lines: int = 0  # infill: lines to keep from the completion (0 = no limit)
    extra_lines: int = 0  # infill: more lines allowed when the completion opens a block

    @property
    def key(self) -> str:
        """What tells two prompts apart: an infill's text, a chat's messages."""
        return self.text or repr(self.messages)

    @property
    def hinted(self) -> bool:
        """An infill shown the failure."""
        return bool(self.head or self.tail)


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.txt").read_text(encoding="utf-8"))


def failure_text(report: TestReport, limit: int = MAX_FAILURE) -> str:
    """The failing tests, each as a developer reads its failure (`digest`), bounded."""
    parts = []
    for nodeid in report.failing[:3]:
        parts.append(f"- {nodeid}\n  " + "\n  ".join(digest(report.tests[nodeid])))
    more = len(report.failing) - 3
    if more > 0:
        parts.append(f"- ... and {more} more failing")
    text = "\n".join(parts)
    return text if len(text) <= limit else text[:limit // 3] + "\n  ...\n" + text[-2 * limit // 3:]


_LOCATION = re.compile(r"^\S+:\d+: ")  # pytest's "tests/test_x.py:85: Failed", "src/m.py:587: in __get__"
_ARGUMENT = re.compile(r"^[A-Za-z_]\w* = ")  # a frame's argument, as pytest prints it above the frame's code


def digest(t: TestCase) -> list[str]:
    """A failure in the order a developer reads it, in at most ~16 lines: the error as the runner states it
    (with an assertion's diff lines), the test's arguments (`environments = []`), the test's last lines up to
    the failing one, and where the error came from. The tail of a long report, which prompts used to show,
    is often the middle of a library's frames or a test's expected-output literal, and lost the error itself."""
    line = 160
    summary, message = t.summary.strip(), t.message.strip()
    if not summary:
        return [ln[:line] for ln in _said_once(message.splitlines())[-12:]]
    rest = [ln for ln in (message[len(summary):] if message.startswith(summary) else message).lstrip("\n").splitlines()
            if ln.strip(" ^~") or not ln]  # not the carets under an expression
    said = [ln.rstrip() for ln in summary.splitlines() if ln.strip() and not ln.strip().startswith("Use -v to get")]
    if len(said) == 1 and ":" not in said[0]:  # "collection failure": the error is in the report's E lines
        said += textwrap.dedent("\n".join(ln[1:] for ln in rest if ln.startswith("E "))).splitlines()[-4:]
    marked = [ln for ln in said[1:] if ln.lstrip()[:1] in ("-", "+", "?")]  # ndiff / pytest's diff lines
    out = [ln[:line] for ln in ([said[0]] + (marked or said[1:]))[:7]]
    at = [i for i, ln in enumerate(rest) if _LOCATION.match(ln)]
    first = rest[:at[0]] if at else rest
    args = []
    for ln in first:
        if not ln.strip():
            break
        if _ARGUMENT.match(ln) and not ln.startswith("self = "):
            args.append(ln[:line])
    out += args[:3]
    arrow = next((i for i, ln in enumerate(first) if ln.startswith(">")), None)
    if arrow is not None:
        above = [ln.rstrip() for ln in first[:arrow] if ln.strip() and not _ARGUMENT.match(ln)][-4:]
        below = []
        for ln in first[arrow + 1:arrow + 3]:
            if not ln.strip() or ln.startswith("E "):
                break
            below.append(ln.rstrip())
        out += [ln[:line] for ln in above + [first[arrow].rstrip()] + below]
    own = [i for i in at if not rest[i].startswith(("/", "<"))]  # not a library's or the probe's frames
    if own and own[-1] != at[0]:
        # where the error came from in the project: its line, printed above its location ("> code", then
        # "path:N: Error") or below it ("path:N: in name", then the code)
        i = own[-1]
        if re.search(r":\d+: in \S+$", rest[i]):
            code = next((ln for ln in rest[i + 1:i + 3] if ln.strip()), "")
        else:
            code = next((ln for ln in reversed(rest[max([j for j in at if j < i], default=-1) + 1:i])
                         if ln.startswith(">")), "")
        out += [code.rstrip()[:line]] if code.strip() else []
    if own:
        out.append(rest[own[-1]].strip()[:line])
    return out


def _said_once(lines: list[str]) -> list[str]:
    """A test's message lines without what pytest says twice: its report repeats the assertion's summary as
    `E` lines under the source line, and adds "Use -v to get more diff". Every prompt token costs prefill
    (~10 ms each for the 1.5B on 2 cores), and the lines dropped here are the ones a reader skips."""
    kept, said = [], set()
    for ln in lines:
        bare = ln[1:].strip() if ln.startswith("E ") or ln == "E" else ln.strip()
        if not bare or bare in said or bare.startswith("Use -v to get"):
            continue
        said.add(bare)
        kept.append(ln)
    return kept


def failure_comment(failure: str, original: str = "") -> str:
    """The failure (and the lines cut out) as a comment block on top of the file: the infill prompt's only
    way to say them. Showing the cut lines lets a trained adapter learn the small edit a bug usually needs."""
    if not failure.strip():
        return ""
    text = "# Failing test:\n" + "".join(f"# {ln}\n" for ln in failure.splitlines()[:16])
    cut = original.splitlines()[:6]
    if cut:
        text += "# Buggy lines (the gap must replace them):\n" + "".join(f"#> {ln}\n" for ln in cut)
    return text + "\n"


def infill(text: str, start: int, end: int, failure: str = "", extra_lines: int = 3,
           window: int | None = None, first: int | None = None, below: bool = False) -> Prompt:
    """Cut lines start..end and ask for the middle. With `failure`, the hinted template is used (the failure
    as a comment above the code, as the adapter was trained), or with `below`, the plain one with that comment
    after the code: the prompt then begins as the plain prompt of its span does, and the engine's prompt cache
    holds all of that but the comment (a window of 40 lines each side is ~800 tokens, ~8 s of prefill for the
    1.5B on 2 cores). With `window`, only that many lines on each side are shown (what a CPU-trained adapter
    saw), the prefix from line `first` when given (see `shared_starts`).

    The completion keeps as many lines as were cut, unless its first line opens a block (a missing
    condition): then up to `extra_lines` more are allowed, ended by the model's end-of-middle token.
    """
    lines = text.splitlines(keepends=True)
    lo, hi = (0, len(lines)) if window is None else (max(0, start - 1 - window), end + window)
    if window is not None and first is not None:
        lo = max(0, min(first - 1, lo))
    prefix, original, suffix = "".join(lines[lo:start - 1]), "".join(lines[start - 1:end]), "".join(lines[end:hi])
    n = end - start + 1
    tokens = {"fim_prefix": QWEN.prefix, "fim_suffix": QWEN.suffix, "fim_middle": QWEN.middle}
    head = failure_comment(failure, original) if failure else ""
    tail = ""
    if failure and below:
        head, tail = "", ("" if not suffix or suffix.endswith("\n") else "\n") + "\n" + head.rstrip("\n") + "\n"
        body = template("infill").substitute(prefix=prefix, suffix=suffix + tail, **tokens)
    elif failure:
        body = template("infill_hint").substitute(failure=head, prefix=prefix, suffix=suffix, **tokens)
    else:
        body = template("infill").substitute(prefix=prefix, suffix=suffix, **tokens)
    return Prompt("infill", start, end, original, text=body, prefix=prefix, suffix=suffix, head=head, tail=tail,
                  max_new_tokens=28 * (n + extra_lines) + 8, max_lines=n, extra_lines=extra_lines)


def shared_starts(spans: list[tuple[int, int]], window: int, slack: int | None = None) -> list[int]:
    """The first line each span's infill prompt shows (`infill`'s `first`): `window` lines above the span,
    or up to `slack` more (default: half the window), so that spans close to each other show the same first
    line. Their prompts then begin alike, and the engine's prompt cache prefills the shared part once (an
    infill prompt is prefix first: two prompts share everything above the higher of their spans)."""
    slack = window // 2 if slack is None else slack
    natural = [max(1, start - window) for start, _ in spans]
    firsts: dict[int, int] = {}
    anchor = None
    for n in sorted(set(natural)):
        if anchor is None or n > anchor + slack:
            anchor = n
        firsts[n] = anchor
    return [firsts[n] for n in natural]


def _context(lines: list[str], start: int, end: int) -> str:
    indent = lines[start - 1][:len(lines[start - 1]) - len(lines[start - 1].lstrip())]
    ctx = "".join(lines[:start - 1]) + f"{indent}# ... the function to fix ...\n" + "".join(lines[end:])
    if len(ctx) > MAX_CONTEXT:
        ctx = ctx[:MAX_CONTEXT // 2] + "\n# ...\n" + ctx[-MAX_CONTEXT // 2:]
    return ctx.rstrip("\n")


def rewrite(text: str, start: int, end: int, name: str, path: str, failure: str) -> Prompt:
    lines = text.splitlines(keepends=True)
    original = "".join(lines[start - 1:end])
    user = template("rewrite_user").substitute(path=path, context=_context(lines, start, end),
                                               failure=failure, span=original.rstrip("\n"))
    msgs = [{"role": "system", "content": template("rewrite_system").template.strip()},
            {"role": "user", "content": user}]
    return Prompt("rewrite", start, end, original, messages=msgs, name=name.split(".")[-1],
                  max_new_tokens=int(len(original) / 2.5) + 96)


def naive(text: str, path: str, failure: str) -> Prompt:
    """What a user would paste into a chat by hand: the whole file and the failure (the eval peer)."""
    user = template("naive_user").substitute(path=path, failure=failure, file=text.rstrip("\n"))
    n = len(text.splitlines())
    return Prompt("naive", 1, n, text, messages=[{"role": "user", "content": user}],
                  max_new_tokens=int(len(text) / 2.5) + 128)


def training_example(buggy: str, fixed_span: str, start: int, end: int, kind: str = "infill",
                     path: str = "", failure: str = "", name: str = "", window: int | None = None) -> dict[str, object]:
    """A prompt-completion pair exactly as `debugger fix` would prompt for this span."""
    if kind == "infill":
        p = infill(buggy, start, end, failure, window=window)
        return {"prompt": p.text, "completion": fixed_span + "<|endoftext|>"}
    p = rewrite(buggy, start, end, name, path, failure)
    return {"messages": p.messages, "completion": f"```python\n{fixed_span.rstrip()}\n```"}
