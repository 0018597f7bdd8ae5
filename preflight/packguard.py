"""Keep a policy pack's processes from outliving preflight, however preflight ends.

Standard library only: this file also runs on its own, as the watchdog
(`python -I -S packguard.py TOKEN`), without importing preflight.

How a pack run's processes are found. Every process of one run carries a marker
in its environment, `PREFLIGHT_POLICY_PACK_RUN=<random token>`, set when the pack
is exec'd and inherited by whatever it starts, whether that process stays in the
pack's process group, calls setsid, or double-forks into a daemon that is
reparented away from the pack. `/proc/<pid>/environ` shows a process's initial
environment, so one scan of /proc finds them all, and only them: the token is
fresh per run. Besides the marker, the pack's process group (while it is
provably ours) and, when `stop()` runs, the pack's current descendants count too.

Why a watchdog process. `PR_SET_PDEATHSIG` makes the pack die with preflight, but
the kernel clears it in every child the pack forks, so its children survive a
SIGKILLed preflight, reparented to init (or to the nearest subreaper). Nothing
in preflight runs after SIGKILL, so neither a `finally` nor a subreaper
(`PR_SET_CHILD_SUBREAPER` only changes who adopts orphans; the adopter would be
the dead preflight) can clean up, and killing the group needs a live sender. So
a tiny process, started in a session of its own (a terminal's or a CI runner's
signals to preflight's process group do not reach it), blocks reading a pipe
whose only writer is preflight. The kernel closes preflight's descriptors
however it ends, so end-of-file means "preflight is gone or done with the
pack": the watchdog then kills every process of the run and exits. After a
normal `stop()` it finds nothing.

What is not guaranteed: a process that both leaves the pack's process group and
drops the marker (exec with a fresh environment such as `env -i`, or
overwriting its environment area as setproctitle does) escapes unless it is still
the pack's descendant when `stop()` runs; a process that changed user or lives
in another PID namespace is invisible in /proc; if the watchdog itself is
SIGKILLed along with preflight (the OOM killer, killing every process of the
user or container), only `PR_SET_PDEATHSIG` remains and the pack's children may
survive; a process stuck in uninterruptible sleep dies when the kernel lets it;
if preflight forks without exec, the fork also holds the pipe and the watchdog
acts when both are gone. Linux only (/proc); elsewhere only the group is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import IO, Iterable, NamedTuple

MARK = "PREFLIGHT_POLICY_PACK_RUN"
_PROC = "/proc"


class _Process(NamedTuple):
    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks after boot: with the pid, names one process across pid reuse
    marked: bool


def _scan(token: str | None) -> list[_Process]:
    """Live (not zombie) processes, with whether their environment carries the run's marker."""
    needle = f"\0{MARK}={token}\0".encode() if token else None
    me = os.getpid()
    found: list[_Process] = []
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return found
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"{_PROC}/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            if fields[0] in (b"Z", b"X"):
                continue  # already dead; its parent reaps it
            marked = False
            if needle is not None:
                with open(f"{_PROC}/{name}/environ", "rb") as f:
                    marked = needle in b"\0" + f.read()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        found.append(_Process(int(name), int(fields[1]), int(fields[2]), int(fields[19]), marked))
    return found


def descendants(root: int) -> set[tuple[int, int]]:
    """(pid, start time) of every live descendant of `root`, whatever its group or session."""
    children: dict[int, list[_Process]] = {}
    for p in _scan(None):
        children.setdefault(p.ppid, []).append(p)
    result: set[tuple[int, int]] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if (child.pid, child.start) not in result:
                result.add((child.pid, child.start))
                todo.append(child.pid)
    return result


def kill_run(token: str, group: int | None = None, group_is_ours: bool = False,
             extra: Iterable[tuple[int, int]] = (), budget: float = 2.0) -> int:
    """SIGKILL every process of the run until none is left (at most `budget` seconds); how many were signalled.

    A process belongs to the run when it carries the marker, is one of `extra` (pid and start
    time, so a reused pid is never hit) or is in process group `group`. Group members count
    only when the group number cannot have been reused: `group_is_ours` (the caller holds the
    unreaped leader) or a marked process is in it.
    """
    extra = set(extra)
    signalled = 0
    end = time.monotonic() + budget
    while True:
        processes = _scan(token)
        ours = group is not None and (group_is_ours or any(p.marked and p.pgid == group for p in processes))
        victims = [p.pid for p in processes
                   if p.marked or (p.pid, p.start) in extra or (ours and p.pgid == group)]
        if not victims:
            return signalled
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
                signalled += 1
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() >= end:
            return signalled
        time.sleep(0.02)  # let them die, then look again: one may have forked meanwhile


def start_watchdog(token: str) -> subprocess.Popen[bytes] | None:
    """The watchdog for one pack run (see the module docstring); None when it cannot start."""
    if not os.path.isdir(_PROC):
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), token],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", start_new_session=True, close_fds=True)
    except OSError:
        return None


def tell_watchdog(watchdog: subprocess.Popen[bytes] | None, group: int) -> None:
    """Give the watchdog the pack's process group."""
    if watchdog is None or watchdog.stdin is None:
        return
    try:
        watchdog.stdin.write(f"{group}\n".encode())
        watchdog.stdin.flush()
    except OSError:
        pass


def release_watchdog(watchdog: subprocess.Popen[bytes] | None, wait: float = 1.0) -> None:
    """Done with the pack: close the pipe (the watchdog sweeps once more, finds nothing, exits)."""
    if watchdog is None:
        return
    try:
        if watchdog.stdin is not None:
            watchdog.stdin.close()
        watchdog.wait(timeout=wait)
    except (OSError, subprocess.TimeoutExpired):
        pass  # it exits on its own; never hold preflight for it


def _watch(token: str, stdin: IO[bytes]) -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)  # only end-of-file on stdin ends the watch
    groups: list[int] = []
    for line in stdin:  # blocks until preflight closes the pipe or dies
        if line.strip().isdigit():
            groups.append(int(line))
    for group in groups or [None]:
        kill_run(token, group)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1]:
        _watch(sys.argv[1], sys.stdin.buffer)
