"""The fleet's history, written on the leader as the fleet changes (server/db/models/analytics.py
says what each table holds): state intervals from the event log (`intervals.py`), coverage,
storage and disk per hour (`hourly.py`), stream health per minute and hour (`health.py`), and
their compaction and retention (`retention.py`). `jobs.py` builds the leader's jobs."""
