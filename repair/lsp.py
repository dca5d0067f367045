"""`debugger lsp`: a Language Server (pygls, over stdio) offering "Fix with debugger" as a code action.

The action runs the same repair as `debugger fix` on the saved file, with the model kept warm between
requests, reports progress with `$/progress`, and hands the verified fix to the editor as a versioned
`documentChanges` edit of just the changed lines (`workspace/applyEdit`): the editor applies it, so its undo
takes it back. A buffer with unsaved changes is refused (the tests run on the file on disk, read in its own
encoding), and so is a fix whose buffer moved on while the repair ran.

As in `debugger serve`, the model, adapter, engine, threads, sandbox and test command are the operator's
(the flags `debugger lsp` was started with, and the user's config), fixed at start: a project whose
`[tool.debugger]` names another model is refused with one message. A file's project root is its nearest
project marker inside the workspace folder that holds it; files outside every workspace folder are refused.

The framing is read here, strictly, and everything else is pygls's: a frame without a usable
Content-Length, a body that is not JSON, a batch or a message that is not JSON-RPC 2.0 gets the protocol's
error answer and the server goes on reading; `exit` ends it with 0 after `shutdown`, 1 without.
"""
from __future__ import annotations

import asyncio
import difflib
import json
import logging
import re
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from .source import InputError

COMMAND = "debugger.fix"
MAX_FRAME = 64 << 20  # bytes of one message's body
MAX_HEADER = 8192  # bytes of one header line
logger = logging.getLogger(__name__)


def path_of(uri: str) -> Path:
    """A file: URI as a path; anything else is refused."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or not parsed.path:
        raise InputError(f"{uri!r}: not a file: URI")
    return Path(unquote(parsed.path))


def build(flags: dict):
    """The pygls LanguageServer with debugger's code action and command."""
    from lsprotocol import types
    from pygls.exceptions import JsonRpcInvalidParams
    from pygls.lsp.server import LanguageServer

    from .config import operator
    from .pipeline import Models

    server = LanguageServer("debugger", "0.1.0", text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
    cfg = operator(flags)
    server.debugger = {"models": Models(cfg=cfg), "busy": threading.Lock(), "flags": flags, "cfg": cfg}

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def actions(ls, params: types.CodeActionParams):
        from .source import load
        from .writer import check_target
        uri = params.text_document.uri
        try:
            path = path_of(uri)
            if path.suffix != ".py" or not path.is_file():
                return []
            check_target(load(path, project_root(ls, path)))
        except (InputError, OSError, ValueError):
            return []
        return [types.CodeAction(title="Fix with debugger", kind=types.CodeActionKind.QuickFix,
                                 command=types.Command(title="Fix with debugger", command=COMMAND, arguments=[uri]))]

    @server.command(COMMAND)
    @server.thread()
    def fix_command(ls, *args):
        if len(args) != 1 or not isinstance(args[0], str):
            raise JsonRpcInvalidParams.of(ValueError(f"{COMMAND} takes one argument, a file: URI string"))
        return fix(ls, args[0])

    return server


def project_root(ls, path: Path) -> Path:
    """The project root of `path`: its nearest project marker at or below the workspace folder that holds it
    (that folder itself if none); with no workspace folder from the client, the nearest marker above it."""
    from .source import ROOT_MARKERS, find_root
    folders = [path_of(f.uri).resolve() for f in ls.workspace.folders.values()]
    if not folders and ls.workspace.root_uri:
        folders = [path_of(ls.workspace.root_uri).resolve()]
    if not folders:
        return find_root(path.resolve())
    real = path.resolve()
    under = [f for f in folders if real.is_relative_to(f)]
    if not under:
        raise InputError(f"{path}: outside the workspace folders ({', '.join(map(str, folders))})")
    folder = max(under, key=lambda f: len(f.parts))
    for d in [real.parent, *real.parent.parents]:
        if not d.is_relative_to(folder):
            break
        if any((d / m).exists() for m in ROOT_MARKERS):
            return d
    return folder


def fix(ls, uri: str) -> dict:
    """Repair the file behind `uri` with progress; the verified fix goes to the editor as a versioned edit."""
    from lsprotocol import types

    from .config import resolve
    from .pipeline import fix as run_fix
    from .source import load
    state = ls.debugger
    token = f"debugger-{id(threading.current_thread())}-{threading.get_ident()}"
    progress = False
    answer: dict = {"status": "error"}
    try:
        if not state["busy"].acquire(blocking=False):
            raise InputError("a repair is already running")
        try:
            path = path_of(uri)
            root = project_root(ls, path)
            src = load(path, root)
            doc = ls.workspace.text_documents.get(uri)
            version = doc.version if doc is not None else None
            if doc is not None and _lf(doc.source) != src.text:
                raise InputError(f"{path.name} has unsaved changes: save it, then fix (the tests run on disk)")
            cfg = resolve(root, state["flags"], pinned=state["cfg"])
            window = ls.client_capabilities.window
            if window is not None and window.work_done_progress:
                ls.work_done_progress.create(token).result(timeout=10)
                ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                    title="debugger: fixing " + path.name, cancellable=False))
                progress = True

            def on_event(event):
                if progress:
                    ls.work_done_progress.report(token, types.WorkDoneProgressReport(
                        message=f"{event.name} {json.dumps(event.to_json())}"[:200]))
            result = run_fix(str(path), cfg, root=str(root), models=state["models"], on_event=on_event)
            answer = result.to_json()
            if progress:
                ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=result.status))
                progress = False
            if result.status != "fixed":
                _say(ls, f"debugger: {result.status}: {result.error or ''}", types.MessageType.Warning)
                return answer
            now = ls.workspace.text_documents.get(uri)
            if (now.version if now is not None else None) != version or load(path, root).sha256 != src.sha256:
                answer["applied"] = False
                answer["error"] = "the file changed while the repair ran; the fix was not applied (run it again)"
                _say(ls, f"debugger: {answer['error']}", types.MessageType.Warning)
                return answer
            edits = line_edits(_exact(src, src.raw), _exact(src, result.new_source),
                               str(ls.workspace.position_encoding or "utf-16"))
            change = types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)
            applied = ls.workspace_apply_edit(types.ApplyWorkspaceEditParams(
                edit=types.WorkspaceEdit(document_changes=[change]), label="debugger fix")).result(timeout=60)
            answer["applied"] = bool(applied and applied.applied)
            level = (result.confidence or {}).get("level", "?")
            _say(ls, f"debugger: a fix that passes your tests (confidence {level})"
                 + ("" if not result.alternatives else "; your tests allow more than one fix"), types.MessageType.Info)
        finally:
            if progress:
                ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="error"))
            state["busy"].release()
    except InputError as e:
        answer = {"status": "error", "error": str(e)}
        _say(ls, f"debugger: {e}", types.MessageType.Error)
    except Exception as e:  # noqa: BLE001 - the editor gets an error, the server keeps serving
        answer = {"status": "error", "error": f"{type(e).__name__}: {e}"}
        _say(ls, f"debugger: {answer['error']}", types.MessageType.Error)
    return answer


def _say(ls, text: str, kind) -> None:
    from lsprotocol import types
    ls.window_show_message(types.ShowMessageParams(type=kind, message=text))


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _exact(src, raw: bytes) -> str:
    """The file's bytes as the editor holds them: decoded in the file's encoding, without a BOM, its own newlines."""
    return raw[3 if src.bom else 0:].decode(src.encoding)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


def lsp_lines(text: str) -> list[str]:
    """Lines as LSP counts them (\\n, \\r\\n and \\r end a line), each with its ending."""
    return _LINE.findall(text)


_UNIT = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def _position(lines: list[str], i: int, encoding: str):
    """The LSP position where line `i` starts (the end of the text for i == len(lines)), its character counted in
    the position encoding the client and server agreed on (UTF-16 unless they said otherwise)."""
    from lsprotocol import types
    if i < len(lines) or not lines or lines[-1].endswith(("\n", "\r")):
        return types.Position(line=i, character=0)
    codec, unit = _UNIT.get(encoding, _UNIT["utf-16"])
    return types.Position(line=len(lines) - 1, character=len(lines[-1].encode(codec)) // unit)


def line_edits(old: str, new: str, encoding: str = "utf-16") -> list:
    """The TextEdits that turn `old` into `new`, whole lines at a time, only where they differ."""
    from lsprotocol import types
    a, b = lsp_lines(old), lsp_lines(new)
    edits = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            rng = types.Range(start=_position(a, i1, encoding), end=_position(a, i2, encoding))
            edits.append(types.TextEdit(range=rng,
                                        new_text="".join(b[j1:j2])))
    return edits


# -- the transport ----------------------------------------------------------------------------------------------
class _Bad:
    def __init__(self, why: str):
        self.why = why


def read_frame(stream):
    """One message's body (bytes), a _Bad (a header block without a usable Content-Length), or None at the
    end of the stream. A frame's leftovers before the next header are skipped."""
    length, why, started = None, None, False
    while True:
        line = stream.readline(MAX_HEADER)
        if not line:
            return None
        text = line.strip()
        at = text.lower().find(b"content-length:")
        if at > 0:  # the unread body of a refused frame, then the next header on the same line
            text, length, why = text[at:], None, None
        if not text:
            if started:
                break
            continue
        started = True
        name, sep, value = text.partition(b":")
        if not sep or len(line) >= MAX_HEADER and not line.endswith(b"\n"):
            why = why or "a header line that is not `Name: value`"
            continue
        if name.strip().lower() == b"content-length":
            v = value.strip()
            if v.isdigit() and 0 < int(v) <= MAX_FRAME:
                length = int(v)
            else:
                why = f"bad Content-Length {v.decode('latin-1')!r}"
    if why or length is None:
        return _Bad(why or "no Content-Length header")
    body = stream.read(length)
    return body if len(body) == length else None


def _error(code: int, message: str, rid=None) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def serve_stdio(flags: dict, stdin=None, stdout=None) -> int:
    """Run the server on stdio until `exit` or the end of input; returns the exit code."""
    from pygls.exceptions import JsonRpcException
    from pygls.io_ import StdoutWriter

    server = build(flags)
    protocol = server.protocol
    out = stdout or sys.stdout.buffer
    writer = StdoutWriter(out)
    protocol.set_writer(writer)
    stream = stdin or sys.stdin.buffer

    def send(message: dict) -> None:
        body = json.dumps(message).encode()
        writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    async def loop() -> int:
        from concurrent.futures import ThreadPoolExecutor
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="debugger-lsp-read")
        running = asyncio.get_running_loop()
        while True:
            frame = await running.run_in_executor(reader, read_frame, stream)
            if frame is None:
                return 1  # the client went away without `exit`
            if isinstance(frame, _Bad):
                send(_error(-32700, f"unreadable frame: {frame.why}"))
                continue
            try:
                data = json.loads(frame)
            except (ValueError, RecursionError):
                send(_error(-32700, "the message is not JSON"))
                continue
            if isinstance(data, list):
                send(_error(-32600, "batches are not part of the Language Server Protocol"))
                continue
            rid = data.get("id") if isinstance(data, dict) else None
            rid = rid if isinstance(rid, (int, str)) and not isinstance(rid, bool) else None
            if not isinstance(data, dict) or data.get("jsonrpc") != "2.0" or not (
                    isinstance(data.get("method"), str) or "id" in data):
                send(_error(-32600, "not a JSON-RPC 2.0 message", rid))
                continue
            try:
                message = protocol.structure_message(data)
            except JsonRpcException as e:
                if "method" in data and rid is not None:
                    send(_error(e.code, f"invalid params for {data['method']}", rid))
                continue
            try:
                protocol.handle_message(message)
            except SystemExit as e:  # `exit`: 0 after `shutdown`, 1 without (pygls decides)
                return e.code if isinstance(e.code, int) else 1
            except Exception:  # noqa: BLE001 - logged; the server keeps reading
                logger.exception("could not handle a message")
                if "method" in data and rid is not None:
                    send(_error(-32603, "internal error", rid))
    try:
        return asyncio.run(loop())
    finally:
        server.shutdown()
