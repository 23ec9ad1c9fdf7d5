"""Kernel side of the execution cache: what the chunks read while they run.

This file is not imported by the renderer: its source is sent to the Jupyter kernel and run there, before the
first chunk, as the module ``__qmdrender_trace__`` (see :mod:`qmdrender.cache`). It records

* every file opened (``open``, ``os.open``, ``io.open_code``: the ``open`` audit event) for reading, and for
  writing, with its absolute path;
* every directory listed (``os.listdir``, ``os.scandir``, hence ``glob``, ``Path.iterdir``, ``os.walk``);
* every environment variable read through ``os.environ`` / ``os.getenv`` before the chunks set it, and whether
  the whole environment was iterated;
* the audit events that mean the outputs depend on more than files: a child process or a network connection;

and, at the end, the source files of the modules imported from outside the Python installation (the
project's own modules). Files inside the installation (the standard library, site-packages, the venv) are not
recorded: the cache key holds the interpreter and the installed distributions instead.
"""

import os
import re
import sys

_files = {}        # absolute path -> set of "r" / "w"
_dirs = set()
_env = {}          # name -> value read first (None: unset)
_env_set = set()   # names the chunks set before reading them
_env_all = [False]
_volatile = set()  # audit events that make the outputs uncacheable
_busy = [False]    # no recording while recording (or while reporting)

_VOLATILE_EVENTS = {"subprocess.Popen": "started a process", "os.system": "started a process",
                    "os.posix_spawn": "started a process", "os.spawn": "started a process",
                    "os.exec": "started a process", "os.fork": "forked the kernel",
                    "socket.connect": "opened a network connection",
                    "socket.getaddrinfo": "looked up a network address"}
_METADATA_RE = re.compile(r"/importlib(/|_)metadata/[^/]*$")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _installation_prefixes():
    import site
    import sysconfig

    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    if site.ENABLE_USER_SITE:
        prefixes.add(site.getusersitepackages())
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        prefixes.add(sysconfig.get_paths().get(key, ""))
    real = {os.path.realpath(p) for p in prefixes if p}
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in real | {p for p in prefixes if p}))


_SKIP = _installation_prefixes() + ("/proc/", "/sys/", "/dev/")


def _absolute(path):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif not isinstance(path, str):
        path = os.fspath(path) if hasattr(path, "__fspath__") else None
        if not isinstance(path, str):
            return None  # a file descriptor
    return os.path.normpath(os.path.join(os.getcwd(), path))


def _hook(event, args):
    if _busy[0]:
        return
    if event == "open":
        _busy[0] = True
        try:
            path, mode, flags = args
            path = _absolute(path)
            if path is None or path.startswith(_SKIP) or path.endswith(".pyc"):
                return
            if isinstance(mode, str):
                kinds = {"r"} if not any(c in mode for c in "wax+") else ({"r", "w"} if "+" in mode or "r" in mode else {"w"})
            else:
                flags = flags or 0
                kinds = {"w"} if flags & os.O_WRONLY else ({"r", "w"} if flags & _WRITE_FLAGS else {"r"})
            _files.setdefault(path, set()).update(kinds)
        except Exception:
            pass
        finally:
            _busy[0] = False
    elif event in ("os.listdir", "os.scandir"):
        _busy[0] = True
        try:
            caller = sys._getframe(1).f_code.co_filename.replace(os.sep, "/")
            if caller.startswith("<frozen importlib") or _METADATA_RE.search(caller):
                # the import system's directory cache and the package-metadata search over sys.path (which
                # holds the working directory): the environment, not a listing the chunks use
                return
            path = _absolute("." if args[0] is None else args[0])
            if path is not None and not (path + os.sep).startswith(_SKIP):
                _dirs.add(path)
        except Exception:
            pass
        finally:
            _busy[0] = False
    elif event in _VOLATILE_EVENTS:
        _volatile.add(_VOLATILE_EVENTS[event])


class _TracedEnviron(type(os.environ)):
    """``os.environ`` that remembers which variables the chunks read (the class is swapped in place)."""

    def __getitem__(self, key):
        try:
            value = super().__getitem__(key)
        except KeyError:
            if not _busy[0] and key not in _env_set:
                _env.setdefault(key, None)
            raise
        if not _busy[0] and key not in _env_set:
            _env.setdefault(key, value)
        return value

    def __setitem__(self, key, value):
        if key not in _env:
            _env_set.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        if key not in _env:
            _env_set.add(key)
        super().__delitem__(key)

    def __iter__(self):
        if not _busy[0]:
            _env_all[0] = True
        return super().__iter__()


def start():
    sys.addaudithook(_hook)
    os.environ.__class__ = _TracedEnviron


def report():
    """What the chunks depended on, as a JSON-ready dict (shown by the renderer's last cell)."""
    _busy[0] = True
    modules = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path:
            path = os.path.normpath(os.path.abspath(path))
            if not path.startswith(_SKIP):
                modules.add(path)
    return {"files": {path: "".join(sorted(kinds)) for path, kinds in sorted(_files.items())},
            "dirs": sorted(_dirs), "env": dict(sorted(_env.items())), "env_all": _env_all[0],
            "modules": sorted(modules), "volatile": sorted(_volatile)}
