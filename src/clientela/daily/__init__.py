"""The daily service: the SFTP server, the drop-folder watchers, the scheduler and the alerts,
for every instance of a data home, in one event loop.

    service = DailyService(home, sftp_host="0.0.0.0", sftp_port=2222)
    await service.start()
    ...
    await service.close()
"""

from clientela.daily.service import DailyService

__all__ = ["DailyService"]
