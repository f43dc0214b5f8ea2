"""The command groups of `camfleet`; each module is listed in camfleet.cli.main.COMMAND_MODULES."""
