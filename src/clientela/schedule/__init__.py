"""The schedule: each instance's daily run and files-due check, at local times, with APScheduler.

Job state (the next run time of each job) is kept in the instance's operational store, so a run
that was due while the service was down runs once (coalesced) as soon as it starts again.
"""

from clientela.schedule.scheduler import DAILY_RUN, FILES_DUE, Schedule, next_runs

__all__ = ["DAILY_RUN", "FILES_DUE", "Schedule", "next_runs"]
