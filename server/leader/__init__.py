"""The fleet's leader among control-plane replicas: the election (a PostgreSQL advisory lock, or
always this process on SQLite), the singleton jobs it runs and the fence of its writes."""
