"""Live adaptive ladders: per camera one ffmpeg that copies the source and encodes lower rungs
into HLS, with a master playlist the agent writes (node_agent.ladder.master)."""
