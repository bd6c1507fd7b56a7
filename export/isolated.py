"""Run one call in a child process, so that a native crash (SIGSEGV, SIGABRT), a hang or an out-of-memory
kill in a runtime ends that call with one line instead of taking the whole command down.

    stats = run_isolated(compare_masks, reference, candidate, images, timeout=600)

The child is started with 'spawn' (a fresh interpreter: no inherited threads, CUDA state or locks) and
gets the current environment and directory. What the call returns or raises comes back as if it had
run here; a child that dies or overruns raises IsolationError ('crashed: SIGSEGV', 'timed out after 600 s').
Inside the call, `progress(text)` passes progress lines to the parent's `on_progress`.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import pickle
import signal
import time
from typing import Any, Callable

_connection = None  # the pipe to the parent, inside an isolated call


class IsolationError(Exception):
    """The isolated call never answered: its process crashed, was killed or ran past its time."""


def progress(text: str) -> None:
    """Tell the parent how far the isolated call is (does nothing outside one)."""
    if _connection is not None:
        try:
            _connection.send(("progress", text))
        except (OSError, ValueError):
            pass


def run_isolated(target: Callable[..., Any], *args: Any, timeout: float | None = None,
                 on_progress: Callable[[str], None] | None = None) -> Any:
    """target(*args) in a child process; `target` and `args` must be picklable (a module-level function)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, target, args), daemon=True,
                              name=f"isolated {getattr(target, '__name__', 'call')}")
    process.start()
    send.close()  # the child holds the only writer: end of file means it is gone
    deadline = None if not timeout else time.monotonic() + timeout
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise IsolationError(f"timed out after {timeout:g} s")
            if not multiprocessing.connection.wait([receive], left):
                continue
            try:
                kind, payload = receive.recv()
            except EOFError:
                process.join(10)
                raise IsolationError(death_reason(process.exitcode)) from None
            if kind == "progress":
                if on_progress is not None:
                    on_progress(payload)
            elif kind == "error":
                raise payload
            else:
                return payload
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()


def death_reason(exitcode: int | None) -> str:
    """'crashed: SIGSEGV', 'killed: SIGKILL (out of memory?)' or 'exited with code 3' for a child's exit code."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return f"killed: {name} (out of memory?)"
        return f"crashed: {name}"
    return f"exited with code {exitcode} before answering"


def _child(connection, target: Callable[..., Any], args: tuple) -> None:
    global _connection
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it ends this process)
    _connection = connection
    try:
        message = ("result", target(*args))
    except BaseException as err:  # noqa: BLE001 - everything goes back to the parent, which decides
        message = ("error", _portable(err))
    try:
        try:
            connection.send(message)
        except (pickle.PicklingError, TypeError, AttributeError) as err:  # a result that cannot be pickled
            connection.send(("error", RuntimeError(f"{type(err).__name__}: {err}")))
        connection.close()
    except OSError:  # the parent is gone
        pass


def _portable(err: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError with its first line."""
    if not isinstance(err, Exception):  # SystemExit and the like end the call, not the parent
        return RuntimeError(f"{type(err).__name__}: {err}".rstrip(": "))
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        lines = str(err).strip().splitlines()
        return RuntimeError(f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": "))
