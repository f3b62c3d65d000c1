"""Run a kernel's notebook as Kaggle would, on this machine: the dry run's and the
stand-in's engine.

A temporary root laid out like Kaggle's (`input/<name>` links, `working/`), a fresh Jupyter
kernel process (nbclient, ipykernel) whose `sitecustomize` refuses every connection that is
not to this machine (the internet is off in a code competition), and its failures named as
Kaggle names them: Notebook Timeout, Notebook Threw Exception, and "needs the internet".
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from kfold.errors import KfError

OFFLINE_MARK = "the internet is off in a Kaggle code competition kernel"
_GUARD = f'''import socket
_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")
_connect, _connect_ex, _getaddrinfo = (socket.socket.connect, socket.socket.connect_ex,
                                      socket.getaddrinfo)
def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
        raise OSError("{OFFLINE_MARK} (connect to %s)" % (address[0],))
socket.socket.connect = lambda s, a: (_check(s, a), _connect(s, a))[1]
socket.socket.connect_ex = lambda s, a: (_check(s, a), _connect_ex(s, a))[1]
def _lookup(host, *args, **kw):
    if host not in _LOCAL and host is not None:
        raise socket.gaierror("{OFFLINE_MARK} (lookup of %s)" % (host,))
    return _getaddrinfo(host, *args, **kw)
socket.getaddrinfo = _lookup
'''


def kaggle_layout(tmp: Path, inputs: dict[str, Path]) -> Path:
    """`<tmp>/kaggle/{input/<name> for each input, working}` and the network guard beside it;
    an input is a link to its folder (read-only use, nothing copied)."""
    root = tmp / "kaggle"
    (root / "input").mkdir(parents=True)
    (root / "working").mkdir()
    for name, folder in inputs.items():
        (root / "input" / name).symlink_to(Path(folder).resolve(), target_is_directory=True)
    (tmp / "guard").mkdir()
    (tmp / "guard" / "sitecustomize.py").write_text(_GUARD)
    return root


def run_notebook(path: Path, root: Path, limit: float) -> float:
    """Run the notebook in a fresh kernel process under `root` (from `kaggle_layout`), its
    output in `root/working`, its process's own output in `root/../kernel.log`; failures as
    Kaggle names them. Returns the wall seconds."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    python_kernel_available()
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(KF_KAGGLE_ROOT=str(root), PYTHONPATH=str(root.parent / "guard"),
               PYTHONNOUSERSITE="1")
    client = NotebookClient(nb, timeout=max(int(limit), 1), kernel_name="python3",
                            resources={"metadata": {"path": str(root / "working")}})
    start = time.perf_counter()
    try:
        with open(root.parent / "kernel.log", "wb") as log:  # pip's and the kernel's noise
            client.execute(env=env, stdout=log, stderr=log)
    except CellTimeoutError:
        raise KfError(f"Notebook Timeout: a cell ran past the {limit:g} s limit") from None
    except DeadKernelError as exc:
        raise KfError(f"Notebook Threw Exception: the kernel died ({exc})") from None
    except CellExecutionError as exc:
        if OFFLINE_MARK in str(exc):
            raise KfError("the notebook needs the internet, which is off in a code "
                          f"competition: {_last_error(exc)}") from None
        raise KfError(f"Notebook Threw Exception: {_last_error(exc)}") from None
    return time.perf_counter() - start


def _last_error(exc) -> str:
    return f"{getattr(exc, 'ename', 'Error')}: {str(getattr(exc, 'evalue', exc))[:300]}"


def python_kernel_available() -> None:
    """nbclient runs notebooks through ipykernel; say how to get them when missing."""
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
    except ImportError:
        raise KfError("kf kernel test needs nbclient and ipykernel: pip install "
                      f"'kfold[kernel]' (into {sys.prefix})") from None
