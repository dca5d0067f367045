"""`debugger lsp`: a Language Server (JSON-RPC over stdio) offering "Fix with debugger" as a code action.

The action runs the same repair as `debugger fix` on the saved file, with the model kept warm between
requests, reports progress with `$/progress`, and hands the verified fix to the editor as a WorkspaceEdit
(`workspace/applyEdit`): the editor applies it, so its undo takes it back. A buffer with unsaved changes is
refused (the tests run on the file on disk). The action is offered on any Python file that is not a test
or configuration file; whether its tests fail is known only once they run. Standard library only.
"""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from .source import InputError

COMMAND = "debugger.fix"


def _path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


class Server:
    def __init__(self, flags: dict, reader=None, writer=None):
        from .pipeline import Models
        self.flags = flags
        self.models = Models()
        self.docs: dict[str, str] = {}  # uri -> the editor's text
        self.reader = reader or sys.stdin.buffer
        self.writer = writer or sys.stdout.buffer
        self.lock = threading.Lock()
        self.next_id = 0
        self.waiting: dict[int, tuple[threading.Event, list]] = {}
        self.busy = threading.Lock()  # one repair at a time

    # -- framing ------------------------------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        with self.lock:
            self.writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            self.writer.flush()

    def _read(self) -> dict | None:
        length = None
        while True:
            line = self.reader.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        return json.loads(self.reader.read(length)) if length else {}

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 60) -> dict | None:
        """A request to the client, answered on the reading thread."""
        with self.lock:
            self.next_id += 1
            rid = self.next_id
        done, box = threading.Event(), []
        self.waiting[rid] = (done, box)
        self._send({"id": rid, "method": method, "params": params})
        done.wait(timeout)
        self.waiting.pop(rid, None)
        return box[0] if box else None

    def message(self, text: str, kind: int = 3) -> None:
        self.notify("window/showMessage", {"type": kind, "message": text})

    # -- the loop -----------------------------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            msg = self._read()
            if msg is None:
                return 1
            if "method" not in msg:  # a response to one of our requests
                waiter = self.waiting.get(msg.get("id"))
                if waiter:
                    waiter[1].append(msg.get("result"))
                    waiter[0].set()
                continue
            method, params, rid = msg["method"], msg.get("params") or {}, msg.get("id")
            if method == "exit":
                return 0
            try:
                result = self.handle(method, params, rid)
            except InputError as e:
                if rid is not None:
                    self._send({"id": rid, "error": {"code": -32602, "message": str(e)}})
                continue
            if rid is not None and result is not _LATER:
                self._send({"id": rid, "result": result})

    def handle(self, method: str, params: dict, rid):
        if method == "initialize":
            return {"capabilities": {"textDocumentSync": 1, "codeActionProvider": {"codeActionKinds": ["quickfix"]},
                                     "executeCommandProvider": {"commands": [COMMAND]}},
                    "serverInfo": {"name": "debugger"}}
        if method == "shutdown":
            return None
        if method == "textDocument/didOpen":
            self.docs[params["textDocument"]["uri"]] = params["textDocument"]["text"]
        elif method == "textDocument/didChange":
            changes = params.get("contentChanges") or []
            if changes and "range" not in changes[-1]:
                self.docs[params["textDocument"]["uri"]] = changes[-1]["text"]
        elif method == "textDocument/didClose":
            self.docs.pop(params["textDocument"]["uri"], None)
        elif method == "textDocument/codeAction":
            return self.actions(params["textDocument"]["uri"])
        elif method == "workspace/executeCommand":
            if params.get("command") != COMMAND or not params.get("arguments"):
                raise InputError(f"unknown command {params.get('command')!r}")
            threading.Thread(target=self.fix, args=(params["arguments"][0], rid), daemon=True).start()
            return _LATER
        return None

    def actions(self, uri: str) -> list[dict]:
        from .source import find_root
        from .writer import check_target
        path = _path(uri)
        if path.suffix != ".py" or not path.is_file():
            return []
        try:
            from .source import load
            check_target(load(path, find_root(path.resolve())))
        except InputError:
            return []
        return [{"title": "Fix with debugger", "kind": "quickfix",
                 "command": {"title": "Fix with debugger", "command": COMMAND, "arguments": [uri]}}]

    def fix(self, uri: str, rid) -> None:
        """Repair the file behind `uri`, with progress; the verified fix goes to the editor as an edit."""
        from .config import resolve
        from .pipeline import fix
        from .source import find_root
        path = _path(uri)
        token = f"debugger-{rid}"
        answer: dict = {"status": "error"}
        try:
            if not self.busy.acquire(blocking=False):
                raise InputError("a repair is already running")
            try:
                on_disk = path.read_text(encoding="utf-8", errors="replace")
                if uri in self.docs and self.docs[uri].replace("\r\n", "\n") != on_disk:
                    raise InputError(f"{path.name} has unsaved changes: save it, then fix (the tests run on disk)")
                cfg = resolve(find_root(path.resolve()), self.flags)
                self.request("window/workDoneProgress/create", {"token": token}, timeout=10)
                self.notify("$/progress", {"token": token, "value": {"kind": "begin", "title": "debugger: fixing "
                                                                     + path.name, "cancellable": False}})

                def on_event(name, payload):
                    from .events import to_json
                    self.notify("$/progress", {"token": token, "value": {"kind": "report", "message":
                                                                         f"{name} {json.dumps(to_json(name, payload))}"[:200]}})
                result = fix(str(path), cfg, models=self.models, on_event=on_event)
                answer = result.to_json()
                self.notify("$/progress", {"token": token, "value": {"kind": "end", "message": result.status}})
                if result.status == "fixed":
                    edit = {"changes": {uri: [{"range": _whole(on_disk), "newText": result.new_source.decode("utf-8")}]}}
                    applied = self.request("workspace/applyEdit", {"label": "debugger fix", "edit": edit})
                    answer["applied"] = bool(applied and applied.get("applied"))
                    level = (result.confidence or {}).get("level", "?")
                    self.message(f"debugger: a fix that passes your tests (confidence {level})"
                                 + ("" if not result.alternatives else "; your tests allow more than one fix"))
                else:
                    self.message(f"debugger: {result.status}: {result.error or ''}", 2)
            finally:
                self.busy.release()
        except InputError as e:
            answer = {"status": "error", "error": str(e)}
            self.message(f"debugger: {e}", 1)
        except Exception as e:  # noqa: BLE001 - the editor gets an error, the server keeps serving
            answer = {"status": "error", "error": f"{type(e).__name__}: {e}"}
            self.message(f"debugger: {answer['error']}", 1)
        self._send({"id": rid, "result": answer})


def _whole(text: str) -> dict:
    lines = text.split("\n")
    return {"start": {"line": 0, "character": 0}, "end": {"line": len(lines) - 1, "character": len(lines[-1])}}


_LATER = object()  # the answer is sent by the worker thread
