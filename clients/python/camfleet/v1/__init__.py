"""Generated from protos/camfleet/v1."""
