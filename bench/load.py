"""Drive the server with wrk (C, event loop: little CPU taken from the server under test).

Each request of a scenario is signed in as the owner of a different account: a generated
Lua script cycles through (path, cookie) pairs, and reports its numbers as JSON.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = """
local targets = {
%(targets)s
}
local i = 0

function request()
  i = i %% #targets + 1
  local t = targets[i]
  return wrk.format("GET", t[1], { ["Cookie"] = t[2], ["Accept-Language"] = "fr" })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("BENCH-JSON ")
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"p50": %%d, "p90": %%d, "p99": %%d, "mean": %%.1f, "max": %%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


@dataclass
class Result:
    scenario: str
    clients: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    error_kinds: dict


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is needed to drive the load: `apt-get install -y wrk` (Debian, Ubuntu) "
            "or `brew install wrk`."
        )
    return path


def _lua(targets: list[tuple[str, str]]) -> str:
    def quote(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    rows = ",\n".join(f"  {{{quote(path)}, {quote(cookie)}}}" for path, cookie in targets)
    return LUA % {"targets": rows}


def run(
    *,
    base_url: str,
    scenario: str,
    targets: list[tuple[str, str]],
    clients: int,
    seconds: int,
) -> Result:
    """One fixed-duration wrk run at `clients` concurrent connections (one wrk thread)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_lua(targets))
        script = Path(fh.name)
    try:
        completed = subprocess.run(
            [
                wrk_path(),
                "--threads",
                "1",
                "--connections",
                str(clients),
                "--duration",
                f"{seconds}s",
                "--timeout",
                "10s",
                "--script",
                str(script),
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        script.unlink(missing_ok=True)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("BENCH-JSON "))
    seconds_run = data["duration_us"] / 1e6
    latency = data["latency_us"]
    return Result(
        scenario=scenario,
        clients=clients,
        requests=data["requests"],
        seconds=round(seconds_run, 2),
        rps=round(data["requests"] / seconds_run, 1),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=round(latency["mean"] / 1000, 2),
        max_ms=latency["max"] / 1000,
        errors=sum(data["errors"].values()),
        error_kinds={kind: n for kind, n in data["errors"].items() if n},
    )
