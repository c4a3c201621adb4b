"""SIGINT and SIGTERM at any moment of a run: answered within seconds, in one line, with what was kept.

Two handlers take turns:
- `guard()` holds the whole of `python -m mjx_mikt.run`, from its first line to its exit. Outside the
  training loop a signal stops the process at once (imports, building the env, a compile), except
  inside a `critical()` write (the config, a checkpoint, a summary, a teacher), which finishes
  first. `finish` then removes what is not worth keeping (`keep(cleanup=)`: a new run's files before
  its first checkpoint) and prints one line saying what was kept (nothing before the first
  checkpoint, else the run folder and how to resume it); the command line exits 130/143 from the
  handler itself, without Python's shutdown (`os._exit`): an exception raised there can be
  swallowed (a signal that lands in a garbage-collector callback), threads of XLA or MuJoCo may
  still be running, and tearing the interpreter down under them crashed (rc -11). Called as a
  function (tests), it raises `Interrupted` instead.
- `ChunkInterrupt` holds the training loop (loop.py): a signal there is only recorded, and the loop
  stops at the next chunk boundary with a checkpoint, so a resumed run ends exactly where an
  uninterrupted one does.

A compile cannot be interrupted, and a Python handler runs only when the main thread runs Python, so
`in_thread` runs a compile (or other long native call) in a worker thread while the main thread
waits in short, interruptible steps; `busy()` says that a worker is still compiling. Messages from
handlers go out by os.write: print() in a handler can raise "reentrant call" when the signal lands
while the main thread is printing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any, Callable, Dict, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)
BEFORE_TRAINING = " before training started: nothing to keep"


class Interrupted(BaseException):
    """A SIGINT or SIGTERM outside the training loop (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def exit_code(signum: int) -> int:
    """130 for SIGINT, 143 for SIGTERM: what shells report for a process a signal ended."""
    return 128 + int(signum)


def _say(text: str) -> None:
    try:
        os.write(sys.stderr.fileno(), text.encode())
    except (OSError, ValueError, AttributeError):  # no usable stderr: stopping matters, not the line
        pass


class _Guard:
    active = False  # guard() is installed; critical() only defers while it is
    exit_process = False  # stop by os._exit from the handler (the command line), else raise Interrupted
    received = 0  # the signal that stops the process, 0 before one arrives
    depth = 0  # nesting of critical() blocks
    kept = BEFORE_TRAINING  # what `message` says was kept, after "<SIGNAL> received"
    cleanup: Optional[Callable[[], None]] = None  # removes what is not kept (see `keep`)


def _handle(signum, frame):
    if _Guard.received:  # already stopping: a second Ctrl-C must not break off the first one's cleanup
        return
    _Guard.received = signum
    if _Guard.depth:  # a write in progress (under a second): its end stops the process with the one line
        return
    _stop(signum)


def _stop(signum: int) -> None:
    if _Guard.exit_process:
        exit_now(finish(signum))
    raise Interrupted(signum)


def exit_now(code: int) -> None:
    """End the process with `code` without Python's shutdown (see the module's docstring)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a reentrant call from a handler
            pass
    os._exit(code)


@contextlib.contextmanager
def guard(exit_process: bool = False):
    """Answer SIGINT/SIGTERM in the block (the CLI's whole life) by `finish` and os._exit (exit_process)
    or by raising `Interrupted`; restores the handlers it replaced. Outside the main thread it installs
    nothing."""
    _Guard.active, _Guard.exit_process, _Guard.received, _Guard.depth = True, exit_process, 0, 0
    keep(BEFORE_TRAINING)
    try:
        previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    except ValueError:  # not the main thread
        previous = {}
        _Guard.active = False
    try:
        yield
    finally:
        _Guard.active = False
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def critical():
    """A write that a signal must not cut in half: a signal during the block stops the process at its end."""
    _Guard.depth += 1
    try:
        yield
    finally:
        _Guard.depth -= 1
    if _Guard.active and not _Guard.depth and _Guard.received:
        _stop(_Guard.received)


def keep(text: str, cleanup: Optional[Callable[[], None]] = None) -> None:
    """What the one line after a signal says was kept (`text` follows "<SIGNAL> received"), and what
    removes the rest (e.g. a new run's files before its first checkpoint), if anything."""
    _Guard.kept, _Guard.cleanup = text, cleanup


def message(signum: int) -> str:
    """The one line that says what a signal outside the training loop left."""
    return f"{signal.Signals(signum).name} received{_Guard.kept}"


def finish(signum: int) -> int:
    """Remove what is not kept, say in one line what is; returns the exit code (130/143)."""
    cleanup, _Guard.cleanup = _Guard.cleanup, None
    if cleanup is not None:
        try:
            cleanup()
        except Exception:  # leaving a file behind is better than a traceback on the way out
            pass
    _say(message(signum) + "\n")
    return exit_code(signum)


class ChunkInterrupt:
    """SIGINT and SIGTERM stop the training loop at the next chunk boundary; remember which.

    The handler only records the signal (and says so on stderr); the loop checks it between
    chunks, and `in_thread` checks it while a compile runs. It never raises into the loop: an
    exception raised wherever the main thread happens to be (inside a checkpoint save, a
    TensorBoard write, a video encode) can leave a library's lock or thread half-done, and the
    checkpoint saved after it could then hang. A device call cannot be interrupted anyway.

    Only the first signal counts: later ones (a second Ctrl-C, a scheduler's SIGTERM after the
    terminal's SIGINT, a parent forwarding the signal it also got) are reported and ignored. Once a
    signal has arrived the handlers stay in place until `restore_signal_handlers()`, which the run's
    caller calls once the summary after the checkpoint is written, so a late signal cannot cut that
    short and a notebook's next Ctrl-C interrupts again.
    """

    received = 0  # the signal that stopped the run, 0 before one arrives
    inside = False  # the training loop is running (its `with` block)
    SIGNALS = SIGNALS
    kept: Dict[int, Any] = {}  # the handlers to restore after a stopped run's summary

    def __enter__(self):
        ChunkInterrupt.received, ChunkInterrupt.inside = 0, True
        try:
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread: leave the handlers alone
            self._previous = {}
        return self

    @staticmethod
    def _handle(signum, frame):
        name = signal.Signals(signum).name
        if ChunkInterrupt.received:
            message = f"\n{name} received: already stopping, saving the checkpoint\n"
        else:
            ChunkInterrupt.received = signum
            message = (f"\n{name} received: stopping now (the compile running is not waited for), keeping the "
                       "last checkpoint\n" if busy() else
                       f"\n{name} received: stopping after this chunk, then saving a checkpoint\n")
        _say(message)

    def __exit__(self, *exc):
        ChunkInterrupt.inside = False
        ChunkInterrupt.kept = self._previous
        if not ChunkInterrupt.received:
            restore_signal_handlers()
        return False


def restore_signal_handlers() -> None:
    """Put back the handlers a training loop replaced (a no-op if none are kept); see `ChunkInterrupt`."""
    for s, handler in ChunkInterrupt.kept.items():
        signal.signal(s, handler)
    ChunkInterrupt.kept = {}


_workers: set = set()  # threads of `in_thread` still running (a compile cannot be stopped)


def busy() -> bool:
    """Whether a worker of `in_thread` is still running (the process must then exit without waiting)."""
    return any(t.is_alive() for t in _workers)


def in_thread(fn: Callable[[], Any], poll: float = 0.2) -> Any:
    """fn() in a daemon thread, the main thread waiting in steps of `poll` seconds, so that a signal is
    answered at once: the guard's handler raises `Interrupted` out of the wait, and a signal recorded
    by `ChunkInterrupt` raises KeyboardInterrupt, the training loop's way to stop. The worker is then
    left running (`busy()`). fn's own exception is raised here."""
    out: Dict[str, Any] = {}
    done = threading.Event()

    def work():
        try:
            out["value"] = fn()
        except BaseException as err:  # handed to the waiting thread
            out["error"] = err
        finally:
            _workers.discard(threading.current_thread())
            done.set()

    worker = threading.Thread(target=work, name="mjx_mikt-compile", daemon=True)
    _workers.add(worker)
    worker.start()
    while not done.wait(poll):
        if ChunkInterrupt.inside and ChunkInterrupt.received:
            raise KeyboardInterrupt
    if "error" in out:
        raise out["error"]
    return out["value"]
