"""`debugger lsp`, driven by a Language Server Protocol client session over stdio (the fake model)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from conftest import fixed


class Client:
    """A minimal LSP client: framed JSON-RPC; answers the server's requests (progress tokens, applyEdit)."""

    def __init__(self, cwd, *flags: str):
        self.p = subprocess.Popen([sys.executable, "-m", "debugger.cli", "lsp", *flags], cwd=cwd,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen: list[dict] = []
        self.results: dict[int, dict] = {}
        self.edits: list[dict] = []
        self.next = 0
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        out = self.p.stdout
        while True:
            headers = {}
            while (line := out.readline().strip()):
                k, _, v = line.decode().partition(":")
                headers[k.lower()] = v.strip()
            if not headers:
                return
            msg = json.loads(out.read(int(headers["content-length"])))
            self.seen.append(msg)
            if "method" in msg and "id" in msg:  # the server asks
                if msg["method"] == "workspace/applyEdit":
                    self.edits.append(msg["params"]["edit"])
                    self._send({"id": msg["id"], "result": {"applied": True}})
                else:
                    self._send({"id": msg["id"], "result": None})
            elif "id" in msg:
                self.results[msg["id"]] = msg

    def _send(self, msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.p.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.p.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def call(self, method: str, params: dict, timeout: float = 180) -> dict:
        self.next += 1
        rid = self.next
        self._send({"id": rid, "method": method, "params": params})
        t0 = time.monotonic()
        while rid not in self.results:
            assert time.monotonic() - t0 < timeout, f"no answer to {method}: {self.seen[-5:]}"
            time.sleep(0.05)
        return self.results[rid]


def test_fix_with_debugger_code_action_returns_the_verified_edit(project):
    root = project("calc")
    path = root / "calc.py"
    before = path.read_bytes()
    uri = path.as_uri()
    c = Client(root, "--model", f"fake:{fixed('calc')}")
    try:
        init = c.call("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        assert init["result"]["capabilities"]["executeCommandProvider"]["commands"] == ["debugger.fix"]
        c.notify("initialized", {})
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                           "text": path.read_text()}})
        actions = c.call("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
            "start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 0}}, "context": {"diagnostics": []}})
        (action,) = actions["result"]
        assert action["title"] == "Fix with debugger"
        test_uri = (root / "tests" / "test_calc.py").as_uri()
        assert c.call("textDocument/codeAction", {"textDocument": {"uri": test_uri}, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {}})["result"] == []
        done = c.call("workspace/executeCommand", action["command"])
        assert done["result"]["status"] == "fixed" and done["result"]["applied"] is True
        (edit,) = c.edits
        (change,) = edit["changes"][uri]
        assert change["newText"].encode() == fixed("calc").read_bytes()
        assert path.read_bytes() == before  # the editor applies the edit; the server wrote nothing
        kinds = [m["params"]["value"]["kind"] for m in c.seen if m.get("method") == "$/progress"]
        assert kinds[0] == "begin" and "report" in kinds and kinds[-1] == "end"
        assert any(m.get("method") == "window/workDoneProgress/create" for m in c.seen)
        # unsaved changes in the editor: refused, nothing run
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                            "contentChanges": [{"text": "x = 1\n"}]})
        refused = c.call("workspace/executeCommand", action["command"])
        assert refused["result"]["status"] == "error" and "unsaved" in refused["result"]["error"]
        assert c.call("shutdown", {})["result"] is None
        c.notify("exit", {})
        assert c.p.wait(timeout=30) == 0
    finally:
        if c.p.poll() is None:
            c.p.kill()
