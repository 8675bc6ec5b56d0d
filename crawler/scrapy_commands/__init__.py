"""Scrapy's own commands as this project needs them (``COMMANDS_MODULE``), for ``scrapy`` and scrapyd."""
