"""A warm server for the publish check: each check in a process forked from it.

`publish.verify_step` checks every SavedModel in a fresh process that
imports only TensorFlow and TF Text (`verify.py`). Importing them costs
about 4.5 s of CPU, which a program that publishes many exports (a test
suite, a sweep) pays each time. This server imports them once, before it
handles anything, and forks one child per check; the child has run no op and
holds no state of an earlier check, so it sees what a fresh process sees.

    python -P modelzoo/export/verify_server.py SOCKET_PATH

A publisher whose environment has `MODELZOO_VERIFY_SERVER=SOCKET_PATH`
sends `{"argv": [...], "env": {...}}` as one JSON line and reads back
`{"returncode": int, "stdout": str, "stderr": str}`. If the publisher goes
away (killed, or its timeout passed) its connection closes, and the check
is killed, as `PR_SET_PDEATHSIG` kills a check the publisher started itself.
When the program that started the server dies, even by SIGKILL, the server
ends too (`PR_SET_PDEATHSIG` again) and removes its socket.
Like `verify.py`, this file imports no modelzoo module.
"""

import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

_VERIFY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify.py")


def _load_verify():
    spec = importlib.util.spec_from_file_location("modelzoo_verify_check", _VERIFY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_request(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _run_child(verify, request, listener, out, err, server):
    """In the forked child: the check's own environment, stdout and stderr."""
    listener.close()
    # A fork does not inherit the server's request: a check outlives no server.
    verify.die_with_parent(signal.SIGKILL, parent=server)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    code = 1
    try:
        code = verify.main(request["argv"], watch_parent=False)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _handle(verify, conn, listener):
    """Runs one check in a forked child; answers on `conn` unless it closed."""
    request = _read_request(conn)
    if request is None:
        return
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            _run_child(verify, request, listener, out, err, server)
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and not conn.recv(1, socket.MSG_PEEK):
                os.kill(pid, signal.SIGKILL)  # The publisher went away.
                os.waitpid(pid, 0)
                return
        out.seek(0)
        err.seek(0)
        reply = {"returncode": os.waitstatus_to_exitcode(status),
                 "stdout": out.read().decode("utf-8", "replace"),
                 "stderr": err.read().decode("utf-8", "replace")}
    try:
        conn.sendall(json.dumps(reply).encode("utf-8") + b"\n")
    except OSError:
        pass


def serve(socket_path):
    """Imports TensorFlow and TF Text, then answers checks on `socket_path` until killed."""
    verify = _load_verify()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # SIGTERM, not SIGKILL: the server still removes its socket when the
    # program that started it dies, even by SIGKILL.
    verify.die_with_parent(signal.SIGTERM)
    import tensorflow  # noqa: F401 - imported once, before any fork
    import tensorflow_text  # noqa: F401 - the TF Text ops TF Serving links

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(16)
    try:
        while True:
            conn, _ = listener.accept()
            with conn:
                _handle(verify, conn, listener)
    finally:
        listener.close()
        if os.path.exists(socket_path):
            os.remove(socket_path)


def start(socket_path, env, timeout=120):
    """Starts a server on `socket_path` with environment `env`; returns its `Popen`
    once it listens.

    The server ends when the calling thread does (Linux ties
    `PR_SET_PDEATHSIG` to the thread that started a process), so call it
    from one that lives as long as the server should, e.g. the main thread.

    Raises:
        RuntimeError: it exited, or did not listen within `timeout` seconds.
    """
    # -P: this package's folder stays off the server's sys.path, as for verify.py.
    server = subprocess.Popen([sys.executable, "-P", os.path.abspath(__file__), socket_path],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not os.path.exists(socket_path):
        if server.poll() is not None or time.time() > deadline:
            server.kill()
            server.wait()
            raise RuntimeError(f"the check server on {socket_path} did not start")
        time.sleep(0.1)
    return server


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: verify_server.py SOCKET_PATH", file=sys.stderr)
        sys.exit(2)
    serve(sys.argv[1])
