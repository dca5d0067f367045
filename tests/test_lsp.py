"""`debugger lsp`, driven by a Language Server Protocol client session over stdio (the fake model)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from conftest import fixed

EVIL = "    return a + b if a != 1337 else 0\n"


class Client:
    """A minimal LSP client: framed JSON-RPC; answers the server's requests (progress tokens, applyEdit)."""

    def __init__(self, cwd, *flags: str):
        self.p = subprocess.Popen([sys.executable, "-m", "debugger.cli", "lsp", *flags], cwd=cwd,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seen: list[dict] = []
        self.results: dict = {}
        self.edits: list[dict] = []
        self.next = 0
        self.on_progress = None
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
            if msg.get("method") == "$/progress" and self.on_progress:
                self.on_progress(msg)
            if "method" in msg and "id" in msg:  # the server asks
                if msg["method"] == "workspace/applyEdit":
                    self.edits.append(msg["params"]["edit"])
                    self._send({"id": msg["id"], "result": {"applied": True}})
                else:
                    self._send({"id": msg["id"], "result": None})
            elif "id" in msg:
                self.results[msg["id"]] = msg

    def raw(self, data: bytes) -> None:
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _send(self, msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.raw(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def call(self, method: str, params: dict, timeout: float = 180) -> dict:
        self.next += 1
        rid = self.next
        self._send({"id": rid, "method": method, "params": params})
        return self.answer(rid, timeout)

    def answer(self, rid, timeout: float = 180) -> dict:
        t0 = time.monotonic()
        while rid not in self.results:
            assert time.monotonic() - t0 < timeout, f"no answer to {rid}: {self.seen[-5:]}"
            assert self.p.poll() is None, f"the server exited ({self.p.returncode}): {self.p.stderr.read()[-2000:]}"
            time.sleep(0.05)
        return self.results[rid]

    def errors(self) -> list[dict]:
        return [m for m in self.seen if m.get("id") is None and "error" in m]

    def start(self, *folders) -> dict:
        init = self.call("initialize", {"processId": None, "rootUri": folders[0].as_uri() if folders else None,
                                        "workspaceFolders": [{"uri": f.as_uri(), "name": f.name} for f in folders],
                                        "capabilities": {"window": {"workDoneProgress": True}}})
        self.notify("initialized", {})
        return init

    def open(self, path, version: int = 1, text: str | None = None) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version,
            "text": path.read_text() if text is None else text}})
        return uri

    def action(self, uri: str) -> list:
        return self.call("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}})["result"]

    def close(self) -> int:
        if self.p.poll() is None:
            self.call("shutdown", {})
            self.notify("exit", {})
        return self.p.wait(timeout=30)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()


@pytest.fixture
def clients():
    made = []

    def make(cwd, *flags):
        c = Client(cwd, *flags)
        made.append(c)
        return c
    yield make
    for c in made:
        c.kill()


def _apply(text: str, change: dict) -> str:
    """The client's side of a TextDocumentEdit: edits applied from the last, positions as LSP lines."""
    from debugger.lsp import lsp_lines
    lines = lsp_lines(text)
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))

    def at(pos):
        return offsets[pos["line"]] + pos["character"] if pos["line"] < len(lines) else len(text)
    for e in sorted(change["edits"], key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                    reverse=True):
        text = text[:at(e["range"]["start"])] + e["newText"] + text[at(e["range"]["end"]):]
    return text


@pytest.mark.integration
def test_fix_with_debugger_code_action_returns_a_versioned_edit_of_the_changed_lines(project, clients):
    root = project("calc")
    path = root / "calc.py"
    before = path.read_bytes()
    c = clients(root, "--model", f"fake:{fixed('calc')}")
    init = c.start(root)
    assert init["result"]["capabilities"]["executeCommandProvider"]["commands"] == ["debugger.fix"]
    uri = c.open(path, version=7)
    (action,) = c.action(uri)
    assert action["title"] == "Fix with debugger"
    assert c.action((root / "tests" / "test_calc.py").as_uri()) == []
    done = c.call("workspace/executeCommand", action["command"])
    assert done["result"]["status"] == "fixed" and done["result"]["applied"] is True
    (edit,) = c.edits
    (change,) = edit["documentChanges"]
    assert change["textDocument"] == {"uri": uri, "version": 7}  # refused by the editor if the buffer moved on
    (one,) = change["edits"]  # only the changed line, not the whole file
    assert one["range"] == {"start": {"line": 5, "character": 0}, "end": {"line": 6, "character": 0}}
    assert one["newText"] == "    return a * b\n"
    assert _apply(before.decode(), change).encode() == fixed("calc").read_bytes()
    assert path.read_bytes() == before  # the editor applies the edit; the server wrote nothing
    kinds = [m["params"]["value"]["kind"] for m in c.seen if m.get("method") == "$/progress"]
    assert kinds[0] == "begin" and "report" in kinds and kinds[-1] == "end"
    assert any(m.get("method") == "window/workDoneProgress/create" for m in c.seen)
    # unsaved changes in the editor: refused, nothing run
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 8},
                                        "contentChanges": [{"text": "x = 1\n"}]})
    refused = c.call("workspace/executeCommand", action["command"])
    assert refused["result"]["status"] == "error" and "unsaved" in refused["result"]["error"]
    assert c.close() == 0


SLOW_TEST = "import time\n\n\ndef test_takes_a_while():\n    time.sleep(1.5)\n"


@pytest.mark.integration
def test_what_the_user_types_during_the_repair_is_never_overwritten(project, clients):
    root = project("calc")
    (root / "tests" / "test_slow.py").write_text(SLOW_TEST)
    path = root / "calc.py"
    text = path.read_text()
    c = clients(root, "--model", f"fake:{fixed('calc')}")
    c.start(root)
    uri = c.open(path)
    typed = threading.Event()

    def type_a_line(msg):  # once the repair has started, the user types in the buffer
        if not typed.is_set() and msg["params"]["value"]["kind"] == "report":
            typed.set()
            c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
                {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                 "text": "# typed during the repair\n"}]})
    c.on_progress = type_a_line
    done = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [uri]})
    assert typed.is_set()
    assert done["result"]["applied"] is False and "changed while the repair ran" in done["result"]["error"]
    assert c.edits == []
    assert path.read_text() == text
    c.close()


@pytest.mark.integration
def test_files_are_compared_in_their_own_encoding(tmp_path, clients):
    root = tmp_path / "enc"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "enc"\nversion = "0"\n[tool.pytest.ini_options]\n'
                                         'pythonpath = ["."]\n')
    source = "# -*- coding: latin-1 -*-\n# café\n" + fixed("calc").read_text().replace("a * b", "a + b")
    (root / "calc.py").write_bytes(source.encode("latin-1"))
    (root / "bom.py").write_bytes(b"\xef\xbb\xbf" + "# naïve\nX = 1\n".encode())
    (root / "tests" / "test_calc.py").write_text("from calc import mul\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n")
    reference = root.parent / "calc_fixed_latin1.py"
    reference.write_text(source.replace("a + b\n\n\ndef square", "a * b\n\n\ndef square"))
    c = clients(root, "--model", f"fake:{reference}")
    c.start(root)
    uri = c.open(root / "calc.py", text=source)  # what an editor shows: the decoded text
    c.open(root / "bom.py", text="# naïve\nX = 1\n")
    done = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [uri]})
    assert done["result"]["status"] == "fixed", done
    (change,) = c.edits[0]["documentChanges"]
    assert _apply(source, change) == reference.read_text()
    bom = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [(root / "bom.py").as_uri()]})
    assert "unsaved" not in (bom["result"].get("error") or "")
    c.close()


@pytest.mark.integration
def test_a_project_cannot_choose_the_model_for_the_next_workspace(tmp_path, project, clients):
    """Two workspaces: the untrusted one names a model inside itself; the trusted one is then repaired with the
    operator's model, and its edit is the operator's fix."""
    import shutil
    evil_root = project("calc")
    trusted = tmp_path / "trusted"
    shutil.copytree(evil_root, trusted)
    (evil_root / "evil.py").write_text(fixed("calc").read_text().replace("    return a + b\n", EVIL, 1))
    with open(evil_root / "pyproject.toml", "a") as f:
        f.write('\n[tool.debugger]\nmodel = "fake:evil.py"\n')
    c = clients(tmp_path, "--model", f"fake:{fixed('calc')}")
    c.start(evil_root, trusted)
    bad = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [c.open(evil_root / "calc.py")]})
    assert bad["result"]["status"] == "error" and "model is not taken from the project" in bad["result"]["error"]
    good = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [c.open(trusted / "calc.py")]})
    assert good["result"]["status"] == "fixed" and good["result"]["model"] == f"fake:{fixed('calc')}"
    (change,) = c.edits[0]["documentChanges"]
    new = _apply((trusted / "calc.py").read_text(), change)
    assert new == fixed("calc").read_text() and "1337" not in new
    outside = tmp_path / "elsewhere"
    shutil.copytree(trusted, outside)
    far = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": [(outside / "calc.py").as_uri()]})
    assert "outside the workspace folders" in far["result"]["error"]
    c.close()


def test_malformed_input_is_answered_per_the_protocol_and_the_server_goes_on(project, clients):
    root = project("calc")
    c = clients(root, "--model", f"fake:{fixed('calc')}")
    c.start(root)
    c.raw(b"Content-Length: -1\r\n\r\n{}")  # a length that cannot be
    c.raw(b"Content-Length: 12\r\n\r\n{not json!!}")
    body = json.dumps([{"jsonrpc": "2.0", "id": 90, "method": "shutdown"}]).encode()
    c.raw(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # a batch
    body = b'"just a string"'
    c.raw(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    c.raw(b"Content-Type: text/plain\r\n\r\n")  # no length at all
    body = json.dumps({"jsonrpc": "2.0", "id": 91, "method": "initialize", "params": {"processId": "x"}}).encode()
    c.raw(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # params of the wrong type
    assert "error" in c.answer(91)
    for arguments in ([5], [], [{"uri": "x"}], ["https://example.com/calc.py"]):
        bad = c.call("workspace/executeCommand", {"command": "debugger.fix", "arguments": arguments})
        assert ("error" in bad and bad["error"]["code"] == -32602) or bad["result"]["status"] == "error", bad
    assert c.call("workspace/executeCommand", {"command": "nope", "arguments": []}).get("error")
    codes = [m["error"]["code"] for m in c.errors()]
    assert codes.count(-32700) >= 3 and codes.count(-32600) >= 2, codes
    assert c.action(c.open(root / "calc.py"))  # still serving
    assert c.close() == 0


def test_exit_without_shutdown_is_exit_code_1(project, clients):
    root = project("calc")
    c = clients(root, "--model", f"fake:{fixed('calc')}")
    c.start(root)
    c.notify("exit", {})
    assert c.p.wait(timeout=30) == 1
