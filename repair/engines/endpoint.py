"""An OpenAI-compatible HTTP endpoint (vLLM, llama.cpp server, TGI, ...): `--model openai:URL#MODEL`.

Infill prompts go to /v1/completions as raw text in the FIM tokens of the family the model's name says
(qwen, starcoder, deepseek, codellama; another name cannot infill); rewrites go to /v1/chat/completions.
The API key, if any, comes from $OPENAI_API_KEY.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ..generate import Completion
from ..config import loopback
from ..prompts import Prompt, fim_for_name, fim_text, refuse_infill
from ..source import InputError


class OpenAIGenerator:
    engine = "openai"

    def __init__(self, spec: str, timeout: float = 300.0):
        base, _, model = spec.partition("#")
        if not base.startswith(("http://", "https://")):
            raise InputError(f"openai model spec needs a URL: openai:http://host:port/v1#MODEL, got {spec!r}")
        self.base = base.rstrip("/")
        self.model = model or "default"
        self.name = f"openai:{self.base}#{self.model}"
        self.fim = fim_for_name(self.model)
        self.timeout = timeout

    def _post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        key = os.environ.get("OPENAI_API_KEY")
        if key and (self.base.startswith("https://") or loopback(urlsplit(self.base).hostname or "")):
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read().decode())
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
            raise InputError(f"model endpoint {self.base}{path} failed: {e}") from None

    def _call(self, p: Prompt, n: int, temperature: float) -> list[tuple[str, int]]:
        body: dict = {"model": self.model, "n": n, "temperature": temperature, "max_tokens": p.max_new_tokens}
        if p.kind == "infill":
            text = fim_text(p, self.fim) if self.fim else refuse_infill(self.name)
            body.update(prompt=text, stop=list(self.fim.stops[:4]))  # the API takes at most four
            data = self._post("/completions", body)
            texts = [c.get("text", "") for c in data.get("choices", [])]
        else:
            body["messages"] = p.messages
            data = self._post("/chat/completions", body)
            texts = [c.get("message", {}).get("content", "") for c in data.get("choices", [])]
        total = int(data.get("usage", {}).get("completion_tokens", 0))
        return [(t, total // max(1, len(texts))) for t in texts]

    def complete(self, prompt: Prompt, samples: int, temperature: float, greedy: bool = True,
                 deadline: float | None = None):
        out = []
        if greedy:
            out += [Completion(t, n, True) for t, n in self._call(prompt, 1, 0.0)]
        if samples:
            out += [Completion(t, n, False) for t, n in self._call(prompt, samples, temperature)]
        return out
