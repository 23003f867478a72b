"""The user's files, handled as the CLI handles them (src/util/files.h):
a file gemmtune writes for a user (a captured workload, a report) replaces
the old one all at once, keeping its permissions and any symlink to it;
a file it reads from a path the user gave (an export file) must be a
regular file, opened without blocking and never read past a bound.

Paths name files the user chose, so every refusal says which path (`what`)
and why. Refusals are OSErrors with the matching errno (FileNotFoundError
for a missing folder, IsADirectoryError for a folder, PermissionError,
...), found before any work.
"""

import errno
import os
import secrets
import stat


def _error(code, what, problem):
    """OSError (its subclass for `code`) whose message names `what`."""
    return OSError(code, f"{what}: {problem}")


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _path(path, what):
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise _error(errno.ENOENT, what, "the path is empty")
    if "\0" in path:
        raise ValueError(f"{what}: the path contains a NUL character")
    return path


def writable_target(path, what):
    """Where a new version of `path` will be written: the file a symlink
    points to (so that replacing it keeps the link), else `path` itself.
    Refuses, naming `what`, a missing or unwritable folder, a dangling or
    looping symlink, a read-only file, and anything but a regular file there
    (a folder, a device, a FIFO, a socket): those are never replaced."""
    path = _path(path, what)
    if path.endswith("/"):
        raise _error(errno.EISDIR, what, "names a folder (ends with '/'); give a file name")
    target = path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _error(e.errno, what, f"cannot inspect the path: {e.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            # Replacing the link itself would displace it; write where it points.
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise _error(errno.ENOENT, what, "is a symbolic link to a missing file") from None
            except OSError as e:
                raise _error(e.errno, what, f"is a symbolic link that cannot be followed ({e.strerror})") from None
            target = os.path.realpath(path)
        _require_regular(st, what, "; gemmtune writes only regular files and never replaces anything else")
        if not os.access(target, os.W_OK):
            raise _error(errno.EACCES, what, "the existing file is read-only; gemmtune will not replace it")
    folder = os.path.dirname(target) or "."
    try:
        folder_st = os.stat(folder)
    except OSError as e:
        raise _error(e.errno, what, f"folder {folder} does not exist ({e.strerror})") from None
    if not stat.S_ISDIR(folder_st.st_mode):
        raise _error(errno.ENOTDIR, what, f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _error(errno.EACCES, what, f"cannot write into folder {folder}")
    return target


def write_atomically(path, data, what):
    """Writes `data` (bytes or str) as the new content of `path`: into a
    temporary file beside the target (writable_target()), created exclusively
    under an unpredictable name with the replaced file's permissions (0666
    minus the umask for a new one), flushed to disk, then renamed over the
    target. Until then, and whenever anything fails, the old file is untouched
    and the temporary file is removed."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    target = writable_target(path, what)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    folder, base = os.path.split(target)
    for _ in range(100):
        temp = os.path.join(folder, f".{base}.tmp-{secrets.token_hex(8)}")
        try:
            # O_EXCL and O_NOFOLLOW: never through a planted symlink, never
            # reusing a file; 0666: the umask gives a new file the usual mode.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise _error(e.errno, what, f"cannot create a temporary file in {folder or '.'}: {e.strerror}") from None
    else:
        raise _error(errno.EEXIST, what, f"cannot find a free temporary file name in {folder or '.'}")
    try:
        with os.fdopen(fd, "wb") as f:
            if old is not None:
                # Keep what the user set on the file being replaced: ownership
                # where permitted (root), permissions always.
                try:
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                except OSError:
                    pass
                os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode) & 0o777)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    try:
        folder_fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(folder_fd)
    except OSError:
        pass
    finally:
        os.close(folder_fd)


def open_regular(path, what):
    """A regular file opened for reading in binary: refused, naming `what`,
    when missing, unreadable or anything else (a folder, /dev/zero, a FIFO, a
    socket). The kind is checked before opening (a FIFO is never opened) and
    again on the opened descriptor (a swap in between cannot slip a device in);
    opening never blocks."""
    path = _path(path, what)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _error(errno.ENOENT, what, "does not exist") from None
    except OSError as e:
        raise _error(e.errno, what, f"cannot inspect it: {e.strerror}") from None
    _require_regular(st, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise _error(e.errno, what, f"cannot open it: {e.strerror}") from None
    try:
        _require_regular(os.fstat(fd), what)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _require_regular(st, what, tail=", not a regular file"):
    """OSError naming `what` unless `st` is a regular file's: 'is a FIFO' + `tail`."""
    if not stat.S_ISREG(st.st_mode):
        raise _error(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL, what, f"is {_kind(st.st_mode)}{tail}")
