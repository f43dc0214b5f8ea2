"""The fleet's history and what it says: uptime, coverage, storage and its forecast, stream
health, security figures, and reports of them (AnalyticsService). The top domain floor: it reads
every other domain's rows; nothing imports it but the edge and app.py."""
