"""Jinja templates of the replay server's own pages (a package so that wheels ship them)."""
