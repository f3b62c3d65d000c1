"""Wheels for `pip install --no-index` in a kernel with the internet off, built offline.

A code competition's notebook may install only from attached datasets. kf's own wheel is
zipped from the imported `kfold` package (so an editable or a wheel install both work, and
no build backend or network is needed); each extra runtime dependency is repacked from its
installed distribution (its files and the tags of its own `WHEEL` record), so packaging
works on a machine without the internet too.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

import kfold
from kfold.errors import KfError

# Runtime dependencies of the inference path that Kaggle's Python image does not ship
# (torch, timm, numpy, pandas, pillow, scikit-learn, lightgbm and rich are there).
DEFAULT_EXTRA_WHEELS = ("tomli-w",)

_SKIP = re.compile(r"(^|/)__pycache__/|\.pyc$")


def kfold_wheel(folder: Path) -> Path:
    """kf's own wheel (pure Python, no dependencies declared: the kernel installs every
    wheel of the package with --no-deps, the rest is Kaggle's image)."""
    root = Path(kfold.__file__).parent
    files = {f"kfold/{p.relative_to(root).as_posix()}": p.read_bytes()
             for p in sorted(root.rglob("*")) if p.is_file()
             and not _SKIP.search(p.relative_to(root).as_posix())}
    meta = (f"Metadata-Version: 2.1\nName: kfold\nVersion: {kfold.__version__}\n"
            "Summary: kf's inference path, packaged for an offline Kaggle kernel\n")
    return _write_wheel(folder, "kfold", kfold.__version__, "py3-none-any", files, meta)


def installed(name: str) -> metadata.Distribution:
    """The installed distribution `name` (checked before a package is written)."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise KfError(f"--wheel {name}: no such package is installed here, so its wheel "
                      "cannot be packaged; install it or leave it out") from None


def dependency_wheel(folder: Path, name: str) -> Path:
    """The installed distribution `name` repacked as a wheel of the same tags."""
    dist = installed(name)
    wheel_info = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_info.splitlines()
            if line.startswith("Tag:")]
    if not tags:
        raise KfError(f"--wheel {name}: its installed copy was not installed from a wheel "
                      "(no WHEEL record), so kf cannot repack it; leave it out")
    files = {}
    for entry in dist.files or []:
        posix = PurePosixPath(entry)
        if posix.parts[0] == ".." or ".dist-info" in posix.parts[0] or _SKIP.search(str(posix)):
            continue
        files[str(posix)] = Path(dist.locate_file(entry)).read_bytes()
    version = dist.version
    return _write_wheel(folder, dist.metadata["Name"], version, tags[0], files,
                        dist.read_text("METADATA") or "")


def wheel_name(name: str, version: str, tag: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-{tag}.whl"


def _write_wheel(folder: Path, name: str, version: str, tag: str, files: dict[str, bytes],
                 meta: str) -> Path:
    """A wheel (PEP 427): the files, then METADATA, WHEEL and RECORD in `<name>.dist-info`."""
    dist_info = f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    wheel = f"Wheel-Version: 1.0\nGenerator: kfold\nRoot-Is-Purelib: true\nTag: {tag}\n"
    entries = {**files, f"{dist_info}/METADATA": meta.encode(),
               f"{dist_info}/WHEEL": wheel.encode()}
    record = [f"{path},sha256={_urlsafe_sha(data)},{len(data)}" for path, data in entries.items()]
    entries[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    path = folder / wheel_name(name, version, tag)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries.items():
            info = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
            info.external_attr = 0o644 << 16
            z.writestr(info, data, zipfile.ZIP_DEFLATED)
    return path


def _urlsafe_sha(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
