"""The benchmark's worker class: RQ's in-process SimpleWorker (so its peak memory is the job's) with the sync
code imported and the app built before the first job, as the Procfile's SyncWorker (worker.rq_worker) has them."""
from rq.worker import SimpleWorker

import worker.jobs


class PreloadedSimpleWorker(SimpleWorker):
    """SimpleWorker, started warm."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        worker.jobs.worker_app()
