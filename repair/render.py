"""Terminal rendering of pipeline events and results (rich). The pipeline never prints; this does."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.syntax import Syntax


class Renderer:
    def __init__(self, console: Console, quiet: bool = False):
        self.c = console
        self.quiet = quiet
        self.status: Status | None = None
        self.bar: Progress | None = None
        self.task = None
        self.phase = ""

    def _say(self, text: str) -> None:
        if self.quiet:
            return
        if self.status is None:
            self.status = self.c.status(text, spinner="dots")
            self.status.start()
        else:
            self.status.update(text)

    def _log(self, text: str) -> None:
        if not self.quiet:
            self.c.print(text)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def event(self, event) -> None:
        """Draw one of the stages' events (events.py), by its kind."""
        getattr(self, f"on_{event.name}", lambda e: None)(event)

    def on_baseline_start(self, e) -> None:
        command = e.command
        self._say(f"running the tests: {command}")

    def on_baseline(self, e) -> None:
        report = e.report
        n, f = len(report.tests), len(report.failing)
        hung = f" (hung: {escape(report.hung)})" if report.hung else ""
        self._log(f"[bold]tests[/]   {n} run, {f} failing in {report.seconds:.1f}s{hung}")
        if f:
            self._say("localizing")

    def on_model_progress(self, e) -> None:
        if self.quiet:
            return
        phase, done, total = e.phase, e.done, e.total
        if self.status is not None:
            self.status.stop()
            self.status = None
        if phase != self.phase:
            if self.bar is not None:
                self.bar.stop()
            label = {"assemble": "assembling model from packs", "convert": "converting to safetensors (once)"}
            cols = [TextColumn(label.get(phase, phase)), BarColumn()]
            cols += [DownloadColumn()] if phase == "assemble" else [TextColumn("{task.completed}/{task.total}")]
            self.bar = Progress(*cols, TimeElapsedColumn(), console=self.c, transient=False)
            self.bar.start()
            self.task = self.bar.add_task(phase, total=total)
            self.phase = phase
        self.bar.update(self.task, completed=done)

    def on_model(self, e) -> None:
        gen = e.generator
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        secs = getattr(gen, "load_seconds", None)
        engine = f" on {gen.engine}" if getattr(gen, "engine", None) else ""
        self._log(f"[bold]model[/]   {escape(gen.name)}{engine}" + (f" (loaded in {secs:.1f}s)" if secs is not None else ""))
        self._say("generating")

    def on_scorer(self, e) -> None:
        gen = e.scorer
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        self._log(f"[bold]scorer[/]  {gen.engine}, for surprisal (loaded in {gen.load_seconds:.1f}s)")
        self._say("localizing")

    def on_second_look(self, e=None) -> None:
        self._log("[bold]look[/]    no mutant nor greedy infill fixed the tests: a second look with the model's surprisal")

    def on_localized(self, e) -> None:
        loc = e.loc
        top = ", ".join(f"{s.start_line}" + (f"-{s.end_line}" if s.end_line != s.start_line else "")
                        for s in loc.statements[:5])
        funcs = escape(", ".join(f.name or f"{f.start_line}-{f.end_line}" for f in loc.functions[:3]))
        self._log(f"[bold]suspect[/] lines {top or '-'}; functions {funcs or '-'}")

    def on_mutation_start(self, e) -> None:
        n = e.count
        self._say(f"mutating the top {n} statements and rerunning their tests")

    def on_mutation(self, e) -> None:
        m = e.probe
        note = f" [yellow]({escape(m.error)})[/]" if m.error else ""
        self._log(f"[bold]mutants[/] {m.run} of {m.mutants} run in {m.seconds:.1f}s{note}")

    def on_prompt(self, e) -> None:
        p = e.prompt
        where = f"line {p.start_line}" if p.start_line == p.end_line else f"lines {p.start_line}-{p.end_line}"
        left = f" ({e.left:.0f}s of the budget left)" if e.left is not None else ""
        self._say(f"{p.kind}: generating a patch for {where}{left}")

    def on_verdict(self, e) -> None:
        v = e.verdict
        mark = "[green]pass[/]" if v.plausible else f"[red]{v.remaining} failing[/]"
        self._log(f"  candidate {v.candidate.origin:<26} {mark}  ({v.seconds:.1f}s tests)")

    def on_rejected(self, e) -> None:
        cand, reasons = e.candidate, e.reasons
        self._log(f"  candidate {escape(cand.origin):<26} [magenta]refused[/]  ({escape('; '.join(reasons))})")

    def on_selecting(self, e) -> None:
        seconds = e.seconds
        self._say(f"a candidate passes; looking {seconds:.0f}s more for alternatives")

    def on_comparing(self, e) -> None:
        n = e.count
        self._say(f"comparing {n} passing candidate(s) beyond the tests" if n > 1 else "running the doctests")

    def on_compared(self, e) -> None:
        cmp = e.comparison
        if cmp.inputs:
            verdict = "disagree on " + str(len(cmp.disagreements)) + "+" if cmp.disagreements else "agree on all"
            self._log(f"[bold]compare[/] {len(cmp.classes)} behaviour(s) among the passing candidates; they {verdict} "
                      f"of {cmp.inputs} inputs ({cmp.seconds:.1f}s)")

    def on_round(self, e) -> None:
        rnd, step = e.number, e.step
        how = f"continuing from {step.candidate.origin}" if step else "sampling wider"
        self._log(f"[bold]round {rnd}[/] no candidate passed; {how}")

    def _confidence(self, out: Console, result) -> None:
        conf = result.confidence or {}
        colour = {"high": "green", "medium": "yellow", "low": "red"}.get(conf.get("level"), "white")
        out.print(f"[bold {colour}]Confidence {conf.get('level', '?')}[/]: " + escape("; ".join(conf.get("reasons", []))) + ".",
                  soft_wrap=True)
        if result.alternatives:
            out.print("[bold yellow]Your tests allow more than one fix.[/] Other candidates that pass them:")
            for alt in result.alternatives[:3]:
                out.print(f"[bold]{escape(alt['candidate'])}[/] ({alt['sources']} source(s) behind it)")
                out.print(Syntax(alt["diff"], "diff", theme="ansi_dark", background_color="default"))
        for d in result.disagreements[:3]:
            answers = "; ".join(f"{escape(k)} {escape(v)}" for k, v in d["results"].items())
            out.print(f"  on [bold]{escape(d['input'])}[/]: {answers}", soft_wrap=True)

    def summary(self, out: Console, result, hint: bool = True) -> None:
        self.stop()
        file = escape(_shown(result.file))
        c = result.candidates
        if result.status == "already_passing":
            out.print(f"[green]All {len(result.tests.get('passing_after', []))} tests pass already;[/] nothing to fix.")
            return
        if result.status == "flaky":
            out.print(f"[bold yellow]Flaky, not patched:[/] {escape(result.error or '')}.")
            return
        if result.status == "fixed":
            out.print(Syntax(result.diff, "diff", theme="ansi_dark", background_color="default"))
            verb = "applied to" if result.applied else "for"
            out.print(f"[bold green]Fix {verb} {file}[/] passes your tests — {len(result.tests['failing_before'])} "
                      f"failing test(s) now pass, no regressions. {c['generated']} candidates, {c['validated']} "
                      f"validated, {c['plausible']} passed, {result.seconds:.0f}s, {result.tokens} tokens.")
            self._confidence(out, result)
            if not result.applied:
                if hint:
                    out.print(f"Apply it with: debugger apply {file}", soft_wrap=True)
            else:
                out.print(f"Take it back with: debugger undo {file}", soft_wrap=True)
            return
        for u in result.unclaimed:  # it passed: shown, so the user can judge it, never applied
            out.print(f"[dim]Passes your tests, not offered as a fix ({escape(u['why'])}):[/]")
            out.print(Syntax(u["diff"], "diff", theme="ansi_dark", background_color="default"))
        out.print(f"[bold yellow]No verified fix[/] for {file}: {escape(result.error or '')}. "
                  f"{c['generated']} candidates, {c['validated']} validated, {result.seconds:.0f}s.")


def _shown(path: str) -> str:
    """The file as the user would type it: relative to the working directory when it lies under it."""
    import os
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
