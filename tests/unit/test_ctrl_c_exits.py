"""Ctrl-C counts every press and ends with 130, whatever the interpreter was doing.

Each case runs in a fresh interpreter: it installs signal handlers and, for
the exit code, needs the interpreter's own end of process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from homediag.cli import EXIT_INTERRUPTED

# Three presses while the main thread is inside C code (here: blocked on a
# lock; in the field a regex, a sqlite COMMIT or an import) reach Python as one
# handler call. A helper thread raises them so that the kernel never
# interrupts the main thread's wait.
_THREE_PRESSES_IN_ONE_CALL = """
import signal, threading, time
from homediag.cli.run import Interrupts, _counting_signals

stopped = []
interrupts = Interrupts(lambda: stopped.append(True))
gate = threading.Lock()
gate.acquire()

def press_three_times():
    time.sleep(0.3)  # the main thread is waiting on the gate by now
    for _ in range(3):
        signal.raise_signal(signal.SIGINT)
    gate.release()

try:
    with _counting_signals(interrupts):
        threading.Thread(target=press_three_times).start()
        gate.acquire()  # C code: Python runs no handler until it returns
        for _ in range(100):
            time.sleep(0.01)
    print("not abandoned", interrupts.presses)
except KeyboardInterrupt:
    print("abandoned", interrupts.presses, stopped)
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_three_presses_python_folds_into_one_handler_call_still_abandon() -> None:
    done = _python(_THREE_PRESSES_IN_ONE_CALL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "abandoned 3 [True]", done.stdout + done.stderr
    assert "still writing the bundle; press Ctrl-C again to abandon it" in done.stderr


def test_an_abandon_that_lands_in_a_finaliser_is_raised_again() -> None:
    # A handler runs between any two bytecodes, also in a __del__ (paho-mqtt's
    # client has one): Python only prints what is raised there, and the bundle
    # was written after the third press.
    done = _python(
        """
        import signal, time
        from homediag.cli.run import Interrupts, _counting_signals

        interrupts = Interrupts()
        interrupts.presses = 2  # stopped, then warned

        class Finalised:
            def __del__(self):
                signal.raise_signal(signal.SIGINT)  # its handler runs in here

        try:
            with _counting_signals(interrupts):
                Finalised()  # dropped at once
                for _ in range(100):
                    time.sleep(0.01)
            print("not abandoned")
        except KeyboardInterrupt:
            print("abandoned")
        """
    )
    assert done.stdout.strip() == "abandoned", done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


def test_handlers_and_the_wakeup_file_are_given_back() -> None:
    done = _python(
        """
        import signal
        from homediag.cli.run import Interrupts, _counting_signals

        import sys
        before = signal.getsignal(signal.SIGINT), signal.set_wakeup_fd(-1), sys.unraisablehook
        with _counting_signals(Interrupts()):
            pass
        after = signal.getsignal(signal.SIGINT), signal.set_wakeup_fd(-1), sys.unraisablehook
        print(before == after == (signal.default_int_handler, -1, sys.__unraisablehook__))
        """
    )
    assert done.stdout.strip() == "True", done.stdout + done.stderr


def test_a_ctrl_c_that_crossed_an_exec_still_exits_130_not_by_sigint(tmp_path: Path) -> None:
    # dataclasses build __init__ with exec(); a press that lands there leaves
    # the interpreter believing Ctrl-C went unhandled, even once caught, and
    # `python -m homediag` (how the lab and many installers start it) then
    # died by SIGINT. A module of its own, run the same way.
    (tmp_path / "interrupted_in_exec.py").write_text(
        textwrap.dedent(
            """
            import argparse
            import homediag.cli as cli

            def build_parser():
                parser = argparse.ArgumentParser()
                parser.set_defaults(version=False, handler=lambda _: exec("raise KeyboardInterrupt"))
                return parser

            cli.build_parser = build_parser
            raise SystemExit(cli.console_main())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "interrupted_in_exec"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode == EXIT_INTERRUPTED, (done.returncode, done.stderr)
    assert done.stderr.strip() == "homediag: interrupted"
