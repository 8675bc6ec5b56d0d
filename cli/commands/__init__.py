"""The ``lifegate-archive`` subcommands, one module each (listed in ``cli.COMMANDS``).

Each module has ``register(subparsers)``, which adds its parser and sets ``func`` to a function
taking the parsed arguments and returning the exit status. Every subcommand also takes
``-s NAME=VALUE`` and ``--debug`` (``cli.settings.add_setting_options``); its settings, read and
checked once before the command runs, are ``args.settings`` (``cli.settings.CommandSettings``,
Scrapy-free). Commands share only ``cli.settings``, ``cli.store`` and ``cli.crawl_summary``, never
each other's functions; only ``crawl`` and ``demo`` load Scrapy.
"""
