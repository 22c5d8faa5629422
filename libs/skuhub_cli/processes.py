"""Child processes of the stack: their logs, their process groups, and waiting for them to end.

Every child runs in its own process group, so stopping it also stops whatever
it spawned, and a Ctrl-C in the terminal reaches only the parent, which then
shuts the children down in order. Waits are for conditions (an exit, a pid
gone) with deadlines, never for a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import psutil

TAIL_LINES = 40


class StackError(RuntimeError):
    """A part of the stack failed to start or died; the message carries its log tail."""


def log_tail(path: Path | None, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text:
        return "(log is empty)"
    return "\n".join(text.splitlines()[-lines:])


def open_log(path: Path) -> IO[bytes]:
    """Open a child's log for appending (a restarted child continues the same file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def exited_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to exit; True if it has."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to the process group the child leads (it was started in its own session)."""
    if process.poll() is not None:
        # The leader is gone; its group may still hold children.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM the group, wait up to ``timeout``, then SIGKILL; return the exit code."""
    signal_group(process, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        return process.wait(timeout=10)
    finally:
        # Children of the group that ignored SIGTERM must not outlive their leader.
        signal_group(process, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    """Whether a process that is not our child (a daemon such as the postmaster) still runs."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def wait_pid_gone(pid: int, *, timeout: float, what: str) -> None:
    """Wait for a process that is not our child to exit; StackError after ``timeout``."""
    deadline = time.monotonic() + timeout
    pidfd: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(pid)
    try:
        while pid_alive(pid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackError(f"{what} (pid {pid}) did not stop within {timeout:.0f}s")
            if pidfd is not None:
                # A pidfd becomes readable when the process exits.
                select.select([pidfd], [], [], remaining)
            else:
                threading.Event().wait(min(0.05, remaining))
    finally:
        if pidfd is not None:
            os.close(pidfd)
