"""The benchmark's worker class: RQ's in-process SimpleWorker (so its peak memory is the job's) with the sync
code imported before the first job, as the Procfile's SyncWorker has it."""
from rq.worker import SimpleWorker

import worker.jobs  # noqa: F401


class PreloadedSimpleWorker(SimpleWorker):
    """SimpleWorker, started warm."""
