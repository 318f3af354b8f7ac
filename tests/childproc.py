"""Run a Python script in a child process, so a crash or a hang fails one test, not the suite.

    res = run_python("import tinytensor as tt; print(tt.ones(2).sum().item())")
    assert res.returncode == 0 and res.stdout.strip() == "2.0"

The child starts a new session: on a timeout the whole process group is killed, including
any grandchildren it forked (they would otherwise keep the pipes open and the wait going).
"""
import os
import signal
import subprocess
import sys
import textwrap

# `python -c` children put the current directory on sys.path: from the repo root that is the
# source tree, maybe without compiled modules. They run from this folder instead.
HERE = os.path.dirname(os.path.abspath(__file__))


def run_python(script, *args, timeout=120, env=None):
    """subprocess.CompletedProcess of `python -c script args`; returncode None if it hung
    (killed after `timeout` seconds), negative for a signal (-11: SIGSEGV, -8: SIGFPE)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return subprocess.CompletedProcess(proc.args, code, out, err)


def check_python(script, *args, timeout=120, env=None):
    """run_python, asserting a clean exit (the message names a hang or the signal); stdout."""
    res = run_python(script, *args, timeout=timeout, env=env)
    if res.returncode is None:
        raise AssertionError(f"the child hung (killed after {timeout} s)\n{res.stderr[-3000:]}")
    if res.returncode < 0:
        name = signal.Signals(-res.returncode).name
        raise AssertionError(f"the child died of {name}\n{res.stderr[-3000:]}")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res.stdout
