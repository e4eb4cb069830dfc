"""py-spy during the full-speed phase, and a summary of its raw (collapsed) stacks.

``BENCH_PROFILE=intake,payment`` makes `bench/run.py` run ``py-spy record --nonblocking`` on those
services for ``BENCH_PROFILE_SECONDS`` (default 10) shortly after full speed begins. Summarise a raw
file again with ``python bench/spy.py <file> [top]``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
GROUPS = (
    ("asyncpg", "asyncpg"),
    ("sqlalchemy", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("aiokafka", "aiokafka"),
    ("kafka", "kafka"),
    ("starlette", "starlette"),
    ("fastapi", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("httptools", "httptools"),
    ("structlog", "structlog"),
    ("prometheus", "prometheus_client"),
    ("cryptography", "cryptography"),
    ("jwt", "jwt"),
    ("json", "json"),
    ("claims_platform", "claims_platform"),
    ("claims_contracts", "claims_contracts"),
)


def py_spy() -> str | None:
    """The py-spy next to this interpreter, or on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path, rate: int = 100) -> Path | None:
    """Sample a process for ``seconds`` without stopping it; the raw stacks file, or None."""
    exe = py_spy()
    if exe is None:
        print("BENCH_PROFILE set but py-spy is not installed (.venv/bin/pip install py-spy)", file=sys.stderr)
        return None
    args = ["record", "--nonblocking", "-d", str(int(seconds)), "-r", str(rate), "-f", "raw", "-o", str(out)]
    args += os.environ.get("BENCH_PROFILE_ARGS", "").split()  # e.g. --gil, --native
    if "--native" in args:  # py-spy cannot unwind C frames without pausing the process
        args.remove("--nonblocking")
    proc = await asyncio.create_subprocess_exec(
        exe, *args, "--pid", str(pid), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0 or not await asyncio.to_thread(out.exists):
        print(f"py-spy on {pid} failed: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
        return None
    return out


def _where(frame: str) -> tuple[str, str]:
    m = FRAME.match(frame)
    return (m["func"], m["file"]) if m else (frame, "")


def _group(file: str, func: str) -> str:
    path = file.replace("\\", "/")
    for name, needle in GROUPS:
        if f"/{needle}/" in path or path.startswith(f"{needle}/") or Path(path).stem == needle:
            return name
    if "claims_" in path:
        return path.split("claims_", 1)[1].split("/", 1)[0]
    if "asyncio" in path:
        return "asyncio"
    return Path(path).stem or func


def summarise(raw: Path, top: int = 15) -> str:
    """Self time by function and by library, and inclusive time of the suite's own functions."""
    own: Counter[str] = Counter()
    libs: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        func, file = _where(frames[-1])
        own[f"{func} ({Path(file).name})"] += n
        libs[_group(file, func)] += n
        seen = set()
        for frame in frames:
            f, path = _where(frame)
            if "claims_" in path and "/localstack" not in path:
                key = f"{f} ({path.split('claims_', 1)[1]})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += n
    if not total:
        return "  (no samples)"
    pct = 100.0 / total
    rows = [f"  {total} samples (busy, not idle)", "  self time by library:"]
    rows += [f"    {v * pct:5.1f}%  {k}" for k, v in libs.most_common(top)]
    rows.append("  self time by function:")
    rows += [f"    {v * pct:5.1f}%  {k}" for k, v in own.most_common(top)]
    rows.append("  inclusive time of the suite's own functions:")
    rows += [f"    {v * pct:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    return "\n".join(rows)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
