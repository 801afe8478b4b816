"""All of the demo's SQL, and nothing else: every function takes a connection and plain values.

Every value reaches MySQL as a parameter (`%s`), never by string formatting. Writes run in a transaction
(`_transaction`); concurrency is left to the database's constraints: the UNIQUE key on
favorites.district_id decides which of twenty racing "collect" requests wins, the foreign key rejects an
area that does not exist. Connection-level failures come out as db.DatabaseUnavailable.

The functions live in one module per job (base: records, cursor, transaction; areas; collection; users;
versioned: the reads refcache.py caches by version); callers import this package as before.
"""

from .areas import area_family, get_area, provinces, search, search_terms
from .base import (
    COLLECTED_FORMAT,
    NOTE_MAX_CHARS,
    Area,
    Favorite,
    FavoriteRow,
    Page,
    UnknownArea,
    balanced_size,
    page_of,
    ping,
)
from .collection import collect, favorites, remove, set_note
from .users import clear_login_failures, create_user, login_wait, record_login_failure, user_by_name
from .versioned import (
    area_family_versioned,
    areas_by_code,
    favorite_rows,
    reference_version,
    search_versioned,
)

__all__ = ["Area", "Favorite", "Page", "UnknownArea", "collect", "favorites", "get_area", "area_family",
           "page_of", "ping", "provinces", "remove", "search", "search_terms", "set_note", "balanced_size",
           "NOTE_MAX_CHARS", "create_user", "user_by_name", "login_wait", "record_login_failure",
           "clear_login_failures", "reference_version", "area_family_versioned", "search_versioned",
           "favorite_rows", "areas_by_code", "FavoriteRow", "COLLECTED_FORMAT"]
