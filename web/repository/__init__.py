"""All SQL of the web layer, split by page; common lookups re-exported here."""

from web.repository.reference import user_blocks, user_by_username

__all__ = ["user_blocks", "user_by_username"]
