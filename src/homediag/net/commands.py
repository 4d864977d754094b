"""Running the operating system's own tools (``ip``, ``route``, ``scutil``, ``netsh``) from asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass

__all__ = ["CommandOutput", "decode_output", "run_command"]

#: Output beyond this is cut: a tool that floods us must not fill memory.
MAX_OUTPUT = 1 << 20


@dataclass(frozen=True, slots=True)
class CommandOutput:
    """What a command printed. ``returncode`` is ``None`` when it could not run or timed out."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the command ran and exited 0."""
        return self.returncode == 0

    def as_evidence(self) -> str:
        """The command line and its output, as stored in a bundle's evidence."""
        head = "$ " + " ".join(self.argv)
        status = f"# exit {self.returncode}" if self.error is None else f"# {self.error}"
        parts = [head, status, self.stdout.rstrip("\n")]
        if self.stderr.strip():
            parts += ["# stderr:", self.stderr.rstrip("\n")]
        return "\n".join(parts) + "\n"


def decode_output(data: bytes) -> str:
    """Decode a tool's output: UTF-8, else the console code page on Windows, never failing."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "oem" if sys.platform == "win32" else "latin-1"
        return data.decode(encoding, errors="replace")


async def run_command(
    *argv: str, timeout: float = 5.0, env: dict[str, str] | None = None
) -> CommandOutput:
    """Run ``argv`` without a shell, bounded by ``timeout``; never raises for a missing tool.

    The environment gets ``LC_ALL=C`` where the platform honours it, so that
    output is parsed in the language the parsers know; Windows tools ignore it
    and the parsers there understand localized labels.
    """
    full_env = dict(os.environ)
    full_env.update({"LC_ALL": "C", "LANG": "C"})
    if env:
        full_env.update(env)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
        )
    except FileNotFoundError:
        return CommandOutput(tuple(argv), None, "", "", error=f"{argv[0]}: command not found")
    except OSError as exc:
        return CommandOutput(tuple(argv), None, "", "", error=f"{argv[0]}: {exc.strerror or exc}")
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        return CommandOutput(tuple(argv), None, "", "", error=f"timed out after {timeout:g} s")
    finally:
        # On timeout or cancellation the tool must not outlive us.
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
    return CommandOutput(
        tuple(argv),
        proc.returncode,
        decode_output(out[:MAX_OUTPUT]),
        decode_output(err[:MAX_OUTPUT]),
    )
