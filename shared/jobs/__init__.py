"""Background jobs: one runner for every job type the worker runs.

    queue = JobQueue(settings, JobStore(db))           # send side: create, send, cancel
    runner = JobRunner(settings, queue, REGISTRY)      # worker side
    outcome = runner.deliver(Delivery(job_id, org, job_type, attempt, data))

`deliver` returns a `JobOutcome` (ran, done, busy, retry, unknown) that the worker
function maps to HTTP; `registry` says how job types are registered.
"""
