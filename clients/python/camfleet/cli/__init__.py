"""`camfleet`, the command line (see camfleet.cli.main for how commands plug in)."""
