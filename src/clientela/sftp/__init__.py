"""The built-in SFTP server: one account per instance, jailed in the instance's drop folder.

`SftpServer(home).start()` listens; `close()` stops. Accounts live in each instance's operational
store (`clientela sftp-user`), host keys under `$CLIENTELA_HOME/_sftp/`.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

# asyncssh still names DSA types at import; the warning says nothing about our use (no DSA).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import asyncssh  # noqa: F401
