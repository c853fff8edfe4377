"""Releases pushed by ``espace fleet upgrade``: installed and owned by root, checked
before anything runs them.

The root file system is read-only, so an upgrade lives on the data partition, which the
services' user ``espace`` writes. Root runs code from it (``espace-boot`` at every boot,
``espace`` over SSH), so a release must stay out of that user's reach, or any
code-execution bug in the web app becomes permanent root (issue 21):

- ``/var/lib/espace`` is ``root:espace`` mode 1775: ``espace`` creates its files there,
  and the sticky bit stops it renaming or removing what it does not own;
- ``releases/`` and everything in it belong to root, writable by root only;
- each release keeps the wheel it came from and the wheel's SHA-256 (checked against the
  one the technician's laptop computed before anything was unpacked); before a release
  is used, every file is checked against the wheel's RECORD (its manifest of hashes),
  and nothing may be there that the RECORD does not list.

The launchers run ``python3 -I -m image_build.release current`` from the factory
install on the read-only root: it prints the release's path, or nothing (and why, on
stderr) so that the factory version runs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path

RELEASES = Path("/var/lib/espace/releases")
WHEEL_SHA = "wheel.sha256"  # beside the release: the hash the technician's laptop sent


class ReleaseError(Exception):
    pass


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _record(wheel: zipfile.ZipFile) -> dict[str, tuple[str, str]]:
    """path -> (algorithm, urlsafe-base64 digest) from the wheel's RECORD."""
    names = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")
             and n.count("/") == 1]
    if len(names) != 1:
        raise ReleaseError("the wheel has no RECORD (build it with pip wheel)")
    rows = csv.reader(io.StringIO(wheel.read(names[0]).decode()))
    out = {}
    for row in rows:
        if not row or not row[0]:
            continue
        path, digest = row[0], (row[1] if len(row) > 1 else "")
        if path == names[0]:
            continue  # the RECORD cannot hold its own hash
        algo, _, value = digest.partition("=")
        if algo != "sha256" or not value:
            raise ReleaseError(f"RECORD has no sha256 for {path}")
        out[path] = (algo, value)
    return out


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _safe(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not name.startswith("/") and ".." not in parts


def install(wheel: Path, expected_sha256: str, releases: Path = RELEASES,
            owner: int = 0) -> Path:
    """Check ``wheel`` against the hash sent by the technician, unpack it into
    ``releases/<version>`` owned by root (mode 0755/0644), keep the wheel and its hash
    beside it; returns the release directory. ``current`` is switched by the caller."""
    actual = _sha256_file(wheel)
    if actual != expected_sha256.lower():
        raise ReleaseError(f"{wheel.name}: SHA-256 {actual} is not the one sent "
                           f"({expected_sha256}): the copy was damaged or replaced")
    version = wheel.name.split("-")[1]
    _secure_dir(releases, owner)
    tmp = releases / f".{version}.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    with zipfile.ZipFile(wheel) as z:
        record = _record(z)
        for info in z.infolist():
            if info.is_dir():
                continue
            if not _safe(info.filename):
                raise ReleaseError(f"unsafe path in the wheel: {info.filename!r}")
            dest = tmp / info.filename
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            data = z.read(info)
            if info.filename in record and _b64(hashlib.sha256(data).digest()) != \
                    record[info.filename][1]:
                raise ReleaseError(f"{info.filename} does not match the wheel's RECORD")
            with open(dest, "wb") as f:
                f.write(data)
            dest.chmod(0o644)
    shutil.copyfile(wheel, tmp / ".wheel")
    (tmp / ".wheel").chmod(0o644)
    (tmp / WHEEL_SHA).write_text(actual + "\n")
    for p in [tmp, *tmp.rglob("*")]:
        os.lchown(p, owner, owner)
    dest = releases / version
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    problems = verify(dest, owner=owner)
    if problems:
        raise ReleaseError("; ".join(problems))
    return dest


def _secure_dir(path: Path, owner: int = 0) -> None:
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner:
        raise ReleaseError(f"{path} is not a directory owned by root: refused")
    path.chmod(0o755)


def verify(release: Path, owner: int = 0) -> list[str]:
    """Every reason not to run ``release`` (empty: it may run). Owner and modes of every
    path from ``releases/`` down, then every file against the wheel's RECORD."""
    problems: list[str] = []
    for d in (release.parent, release):
        try:
            st = d.lstat()
        except FileNotFoundError:
            return [f"{d} does not exist"]
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner or st.st_mode & 0o022:
            problems.append(f"{d} must be a directory owned by root, writable by root only")
    if problems:
        return problems
    seen = set()
    for dirpath, dirnames, filenames in os.walk(release):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if st.st_uid != owner or st.st_mode & 0o022 or stat.S_ISLNK(st.st_mode):
                problems.append(f"{p} is not root's (owner {st.st_uid}, mode "
                                f"{stat.S_IMODE(st.st_mode):o}) or is a link")
            if stat.S_ISREG(st.st_mode):
                seen.add(str(p.relative_to(release)))
    if problems:
        return problems[:5]
    wheel = release / ".wheel"
    try:
        want = (release / WHEEL_SHA).read_text().strip()
    except FileNotFoundError:
        return [f"{release}: no {WHEEL_SHA}: not installed by `espace fleet upgrade`"]
    if not wheel.is_file() or _sha256_file(wheel) != want:
        return [f"{release}: the wheel kept with the release does not match its SHA-256"]
    with zipfile.ZipFile(wheel) as z:
        try:
            record = _record(z)
        except ReleaseError as e:
            return [str(e)]
        listed = {n for n in z.namelist() if not n.endswith("/")}
    extra = sorted(seen - listed - {".wheel", WHEEL_SHA})
    if extra:
        problems.append(f"files the wheel does not have: {', '.join(extra[:5])}")
    for rel, (_, digest) in record.items():
        p = release / rel
        try:
            actual = _b64(hashlib.sha256(p.read_bytes()).digest())
        except FileNotFoundError:
            problems.append(f"{rel} is missing")
            continue
        if actual != digest:
            problems.append(f"{rel} differs from the wheel's RECORD")
    return problems[:5]


def current(releases: Path = RELEASES, owner: int = 0) -> Path | None:
    """The release ``releases/current`` points to, if it passes :func:`verify`."""
    link = releases / "current"
    if not link.is_symlink() and not link.exists():
        return None
    st = link.lstat()
    if st.st_uid != owner:
        raise ReleaseError(f"{link} is not root's")
    target = Path(os.readlink(link)) if link.is_symlink() else link
    if target.is_absolute() or len(target.parts) != 1:
        raise ReleaseError(f"{link} must name a release in {releases}")
    release = releases / target
    problems = verify(release, owner=owner)
    if problems:
        raise ReleaseError(f"release {target} refused: " + "; ".join(problems))
    return release


def main(argv: list[str] | None = None) -> int:
    """``current [RELEASES]``: print the verified release to put on PYTHONPATH (nothing:
    the factory install runs). ``install WHEEL SHA256 [RELEASES]``: check and unpack."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["current"]:
        try:
            found = current(Path(args[1]) if len(args) > 1 else RELEASES)
        except (ReleaseError, OSError, zipfile.BadZipFile) as e:
            print(f"espace: {e}; running the factory version", file=sys.stderr)
            return 1
        if found:
            print(found)
        return 0
    if args[:1] == ["install"] and len(args) >= 3:
        try:
            dest = install(Path(args[1]), args[2], Path(args[3]) if len(args) > 3 else RELEASES)
        except (ReleaseError, OSError, zipfile.BadZipFile) as e:
            print(f"espace: release not installed: {e}", file=sys.stderr)
            return 1
        print(dest)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
