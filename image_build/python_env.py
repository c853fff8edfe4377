"""Espace inside the image: a pinned virtual environment of wheels for the target.

Why a venv of wheels rather than Debian's python3-* packages: bookworm ships Flask
2.2 and Flask-Babel 2.0, below what Espace needs (Flask 3, Flask-Babel 4), and has no
packages for several dependencies at the versions we test (zeroconf, waitress,
libzim). PyPI has manylinux wheels for aarch64 of every compiled dependency (cffi,
cryptography, psutil, zeroconf, libzim, markupsafe, brotli, zstandard), so the image
needs no compiler and nothing is built under emulation.

The pins are the versions of the environment that builds the image (the one the
tests ran against), resolved from Espace's own requirements; the wheels are
downloaded for the target platform (``pip download --platform
manylinux2014_aarch64 --only-binary=:all:``) and installed by the host's pip with
``--target`` into the image: no pip, no network and no emulation in the chroot. The
bytecode is compiled on the host (same CPython 3.11 as bookworm; .pyc files do not
depend on the CPU) so a read-only root never tries to write it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from .errors import ImageError

DIST = "espace-connecte"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
PLATFORMS = {
    "arm64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_27_aarch64",
              "manylinux_2_28_aarch64"],
    "amd64": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_27_x86_64",
              "manylinux_2_28_x86_64"],
}
SOURCE = Path(__file__).resolve().parent.parent

def source_packages(root: Path = SOURCE) -> tuple[str, ...]:
    """The top-level packages the wheel holds, read from pyproject.toml's
    ``[tool.setuptools.packages.find] include`` (a list kept here by hand missed the
    ``espace`` package once, and the image's ``espace`` command died at import)."""
    import tomllib

    try:
        meta = tomllib.loads((root / "pyproject.toml").read_text())
    except FileNotFoundError:
        return ()
    include = meta["tool"]["setuptools"]["packages"]["find"]["include"]
    return tuple(sorted({p.rstrip("*").rstrip(".") for p in include
                         if (root / p.rstrip("*").rstrip(".")).is_dir()}))


PACKAGES = source_packages()


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(dist: str = DIST) -> dict[str, str]:
    """name -> version of every runtime dependency of ``dist`` (transitively), as
    installed in this environment."""
    out: dict[str, str] = {}
    todo = [dist]
    while todo:
        name = todo.pop()
        try:
            d = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise ImageError(f"{name} is required by Espace but not installed here",
                             fix="pip install -e . in the environment that builds the "
                                 "image") from None
        for req in d.requires or []:
            if "extra ==" in req:
                continue
            if ";" in req:
                from packaging.markers import Marker

                if not Marker(req.split(";", 1)[1]).evaluate():
                    continue
            dep = _canon(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
            if dep not in out:
                out[dep] = metadata.version(dep) if _installed(dep) else ""
                todo.append(dep)
    return dict(sorted(out.items()))


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def espace_version() -> str:
    return metadata.version(DIST)


def source_digest(root: Path = SOURCE) -> str:
    """SHA-256 over Espace's package files (path + content): the same source gives the
    same digest, whatever the wheel's zip timestamps."""
    h = hashlib.sha256()
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                h.update(str(path.relative_to(root)).encode() + b"\0")
                h.update(path.read_bytes())
    if (root / "pyproject.toml").exists():
        h.update((root / "pyproject.toml").read_bytes())
    return h.hexdigest()


def download_wheels(arch: str, dest: Path, log=print) -> dict[str, str]:
    """Pinned wheels for ``arch`` into ``dest`` (pip's cache makes repeats fast), plus
    Espace's own wheel. Returns file name -> sha256 of the dependency wheels."""
    dest.mkdir(parents=True, exist_ok=True)
    pinned = pins()
    reqs = dest / "requirements.txt"
    reqs.write_text("".join(f"{n}=={v}\n" for n, v in pinned.items() if v))
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--dest", str(dest), "--only-binary=:all:", "--python-version", PY,
            "--implementation", "cp", "--abi", f"cp{PY.replace('.', '')}", "--no-deps",
            "-r", str(reqs)]
    for plat in PLATFORMS[arch]:
        argv += ["--platform", plat]
    _pip(argv, f"download wheels for {arch}")
    if not (SOURCE / "pyproject.toml").exists():
        raise ImageError(f"no Espace source tree at {SOURCE} to build the wheel from",
                         fix="run `espace image build` from a checkout installed with "
                             "pip install -e .")
    # Built from a copy: an in-tree build would leave build/ in the work tree.
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="espace-src-") as tmp:
        src = Path(tmp)
        for name in (*PACKAGES, "pyproject.toml", "README.md"):
            if (SOURCE / name).is_dir():
                shutil.copytree(SOURCE / name, src / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif (SOURCE / name).exists():
                shutil.copy2(SOURCE / name, src / name)
        out = dest / "espace"
        shutil.rmtree(out, ignore_errors=True)
        _pip([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
              "--no-deps", "--wheel-dir", str(out), str(src)], "build the Espace wheel")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(dest.glob("*.whl"))}


def _pip(argv: list[str], what: str) -> None:
    r = subprocess.run(argv, capture_output=True, text=True)  # noqa: S603
    if r.returncode:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        raise ImageError(f"cannot {what}: {tail}",
                         fix="check that PyPI (or your pip index) is reachable, or that "
                             "pip's cache already holds the wheels")


def install_venv(root: Path, wheels: Path, arch: str, prefix: str = "/opt/espace/venv") -> Path:
    """A venv at ``prefix`` inside ``root``, made by hand (no chroot, no emulation):
    pyvenv.cfg, bin/python3 -> /usr/bin/python3, and the wheels installed by the
    host's pip with --target, then byte-compiled."""
    venv = root / prefix.lstrip("/")
    site = venv / f"lib/python{PY}/site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (venv / "bin").mkdir(exist_ok=True)
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = "
        f"{sysconfig.get_python_version()}\n")
    for name, target in (("python3", "/usr/bin/python3"), ("python", "python3"),
                         (f"python{PY}", "python3")):
        link = venv / "bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    lib64 = venv / "lib64"
    if not lib64.exists():
        lib64.symlink_to("lib")
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-index", "--find-links", str(wheels), "--find-links", str(wheels / "espace"),
            "--target", str(site), "--no-compile", "--only-binary=:all:",
            "--python-version", PY, "--implementation", "cp",
            "--abi", f"cp{PY.replace('.', '')}", "-r", str(wheels / "requirements.txt"), DIST]
    for plat in PLATFORMS[arch]:
        argv += ["--platform", plat]
    _pip(argv, "install Espace into the image")
    # --target puts console scripts in site/bin with the host's shebang: not used.
    import shutil

    shutil.rmtree(site / "bin", ignore_errors=True)
    prune_babel(site)
    slim_site_packages(site, arch)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0",  # noqa: S603
                    "--invalidation-mode", "unchecked-hash", "-d", f"{prefix}/lib/python{PY}/"
                    "site-packages", str(site)], check=False, capture_output=True)
    return venv


def babel_keep() -> set[str]:
    """Babel locales the box formats with: each language's own code and its ``formats``
    locale (appliance.languages), plus root (every locale's parent) and en."""
    from appliance.languages import LANGUAGES

    keep = {"root", "en"}
    for lang in LANGUAGES.values():
        keep |= {lang.code, lang.formats.split("_")[0]}
    return keep


def prune_babel(site_packages: Path) -> int:
    """Drop Babel's data for the ~800 locales Espace never formats with (34 MB).
    Returns the bytes freed."""
    data = site_packages / "babel" / "locale-data"
    keep = babel_keep()
    freed = 0
    for p in data.glob("*.dat"):
        if p.stem.split("_")[0] not in keep:
            freed += p.stat().st_size
            p.unlink()
    return freed


# Files of the wheels that nothing imports at run time: Cython and C/C++ sources and
# headers (libzim ships its 2 MB generated libzim.cpp), type stubs.
UNUSED_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cpp", ".h", ".hpp", ".pyi")


def strip_program(arch: str) -> str:
    """binutils' strip for ``arch`` (the host's own for the host's architecture)."""
    from .recipe import debian_arch

    if arch == debian_arch():
        return "strip"
    return {"arm64": "aarch64-linux-gnu-strip", "amd64": "x86_64-linux-gnu-strip",
            "armhf": "arm-linux-gnueabihf-strip"}[arch]


def slim_site_packages(site: Path, arch: str) -> tuple[int, int]:
    """Drop sources, headers and stubs, and the debug information some wheels' shared
    libraries carry (zstandard's two backends have 10 MB each, brotli 4 MB, the libzim
    binding 5 MB): ``strip --strip-debug`` keeps the symbols, so nothing that loads or
    links them changes. Without the strip program for ``arch`` (binutils-<triple>), the
    libraries stay as they are. Returns (files removed, bytes freed)."""
    import shutil

    removed = freed = 0
    for p in sorted(site.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.suffix in UNUSED_SUFFIXES:
            freed += p.stat().st_size
            p.unlink()
            removed += 1
    strip = shutil.which(strip_program(arch))
    if strip:
        libs = [p for p in sorted(site.rglob("*.so*")) if p.is_file() and not p.is_symlink()
                and p.read_bytes()[:4] == b"\x7fELF"]
        before = sum(p.stat().st_size for p in libs)
        if libs:
            subprocess.run([strip, "--strip-debug", *map(str, libs)], check=True,  # noqa: S603
                           capture_output=True)
        freed += before - sum(p.stat().st_size for p in libs)
    return removed, freed
