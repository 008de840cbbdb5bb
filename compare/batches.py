"""The seeded mini-batches both networks train on: `scratch.batches.BatchSchedule`.

It lives in scratch so the scratch network can train on its own (`Network.fit`)
with the very batches the comparison uses; compare re-exports it for the pipeline.
"""

from scratch.batches import BatchSchedule

__all__ = ["BatchSchedule"]
