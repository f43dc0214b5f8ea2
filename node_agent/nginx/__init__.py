"""nginx with the rtmp module, run and configured by the agent."""
