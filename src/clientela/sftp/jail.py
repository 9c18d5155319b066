"""What an SFTP account can do: upload, list and delete files in its drop folder, nothing else.

The client sees the drop folder as `/`. Paths with `..`, subfolders and links are refused;
reading is refused. An upload is written under a hidden temp name and renamed to its own name
only when the client closes it: a file under a daily-file name in the drop folder is always
whole, and an upload cut by a lost connection is discarded.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

log = logging.getLogger("clientela.sftp")

UPLOAD_PREFIX = ".upload-"
"""Temp names of uploads in progress: hidden from listings, never taken by the watcher."""

UploadClosed = Callable[[str, Path], None]
"""Told (instance name, file) when an upload was closed by its client and is whole."""


@dataclass
class Upload:
    fd: int
    temp: Path
    target: Path
    written: int = 0


class DropFolderSftp(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], instance: str, folder: Path,
                 on_upload: UploadClosed) -> None:
        super().__init__(chan)
        self._instance = instance
        self._folder = folder.resolve()
        self._connection = chan.get_connection()
        self._on_upload = on_upload

    # --- paths ----------------------------------------------------------------------------

    def _local(self, path: bytes) -> Path:
        parts = [part for part in path.split(b"/") if part not in (b"", b".")]
        if b".." in parts:
            raise asyncssh.SFTPPermissionDenied(
                "'..' is refused: this account sees only its drop folder")
        if len(parts) > 1:
            raise asyncssh.SFTPNoSuchFile("no such file: the drop folder has no subfolders")
        if not parts:
            return self._folder
        name = os.fsdecode(parts[0])
        if name.startswith(UPLOAD_PREFIX):
            raise asyncssh.SFTPNoSuchFile("no such file")
        local = self._folder / name
        if local.is_symlink():
            raise asyncssh.SFTPPermissionDenied("links are not followed")
        return local

    def map_path(self, path: bytes) -> bytes:
        return os.fsencode(self._local(path))

    def reverse_map_path(self, path: bytes) -> bytes:
        local = Path(os.fsdecode(path))
        if local == self._folder:
            return b"/"
        if local.parent == self._folder:
            return b"/" + os.fsencode(local.name)
        raise asyncssh.SFTPNoSuchFile("no such file")

    def realpath(self, path: bytes) -> bytes:
        return self.reverse_map_path(self.map_path(path))

    def _file(self, path: bytes) -> Path:
        """An existing regular file of the drop folder."""
        local = self._local(path)
        try:
            mode = local.lstat().st_mode
        except FileNotFoundError:
            raise asyncssh.SFTPNoSuchFile("no such file") from None
        if not stat.S_ISREG(mode):
            raise asyncssh.SFTPPermissionDenied("only files of the drop folder can be changed")
        return local

    # --- listing --------------------------------------------------------------------------

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        if self._local(path) != self._folder:
            raise asyncssh.SFTPNoSuchFile("no such folder: the drop folder has no subfolders")
        for name in (b".", b".."):
            yield asyncssh.SFTPName(name, attrs=asyncssh.SFTPAttrs.from_local(
                self._folder.stat()))
        with os.scandir(self._folder) as entries:
            for entry in entries:
                if entry.name.startswith(UPLOAD_PREFIX) or not entry.is_file(
                        follow_symlinks=False):
                    continue
                attrs = asyncssh.SFTPAttrs.from_local(entry.stat(follow_symlinks=False))
                yield asyncssh.SFTPName(os.fsencode(entry.name), attrs=attrs)

    def stat(self, path: bytes) -> os.stat_result:
        return self.lstat(path)

    def lstat(self, path: bytes) -> os.stat_result:
        try:
            return self._local(path).lstat()
        except FileNotFoundError:
            raise asyncssh.SFTPNoSuchFile("no such file") from None

    # --- uploads --------------------------------------------------------------------------

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> Upload:
        if pflags & asyncssh.FXF_READ or not pflags & asyncssh.FXF_WRITE:
            raise asyncssh.SFTPPermissionDenied(
                "reading is not allowed: this account can upload, list and delete")
        target = self._local(path)
        if target == self._folder:
            raise asyncssh.SFTPPermissionDenied("give a file name")
        exists = target.exists()
        if exists and pflags & asyncssh.FXF_EXCL:
            raise asyncssh.SFTPFailure("the file already exists")
        if (exists and not pflags & asyncssh.FXF_TRUNC) or pflags & asyncssh.FXF_APPEND:
            raise asyncssh.SFTPOpUnsupported(
                "resuming or appending to an upload is not supported; upload the whole file")
        temp = self._folder / f"{UPLOAD_PREFIX}{secrets.token_hex(8)}.part"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
        log.info("%s: upload of %s started", self._instance, target.name)
        return Upload(fd, temp, target)

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        upload = self._upload(file_obj)
        written = os.pwrite(upload.fd, data, offset)
        upload.written += written
        return written

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        raise asyncssh.SFTPPermissionDenied("reading is not allowed")

    def fstat(self, file_obj: object) -> os.stat_result:
        return os.fstat(self._upload(file_obj).fd)

    def fsync(self, file_obj: object) -> None:
        os.fsync(self._upload(file_obj).fd)

    def close(self, file_obj: object) -> None:
        upload = self._upload(file_obj)
        os.close(upload.fd)
        if self._connection.is_closed() or self.channel.is_closing():
            # The session ended with the file still open: the client never said it was done.
            upload.temp.unlink(missing_ok=True)
            log.warning("%s: upload of %s cut after %d bytes (connection lost); discarded",
                        self._instance, upload.target.name, upload.written)
            return
        upload.temp.replace(upload.target)
        log.info("%s: received %s (%d bytes)", self._instance, upload.target.name,
                 upload.target.stat().st_size)
        self._on_upload(self._instance, upload.target)

    def exit(self) -> None:
        log.info("%s: SFTP session ended", self._instance)

    @staticmethod
    def _upload(file_obj: object) -> Upload:
        assert isinstance(file_obj, Upload)
        return file_obj

    # --- attributes are Clientela's; clients that set times or modes are not refused -------

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._local(path)

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._local(path)

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        self._upload(file_obj)

    # --- delete and rename within the folder; nothing else ----------------------------------

    def remove(self, path: bytes) -> None:
        local = self._file(path)
        local.unlink()
        log.info("%s: %s deleted by the account", self._instance, local.name)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        target = self._local(newpath)
        if target.exists():
            raise asyncssh.SFTPFailure("the target name already exists")
        self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        source, target = self._file(oldpath), self._local(newpath)
        if target == self._folder:
            raise asyncssh.SFTPPermissionDenied("give a file name")
        source.replace(target)
        # Senders that upload under a temp name rename when done: the file is whole.
        self._on_upload(self._instance, target)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("folders cannot be created here")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("folders cannot be removed here")

    def readlink(self, path: bytes) -> bytes:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links are not allowed")
