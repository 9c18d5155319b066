"""The drop folder: where the retailer's files arrive, by the built-in SFTP server or any other.

`DropWatcher` decides when a file is complete and takes it; `take_and_import` moves the taken
files into the inbox and imports what can load.
"""

from clientela.drop.watcher import DropWatcher, Taken, import_taken

__all__ = ["DropWatcher", "Taken", "import_taken"]
