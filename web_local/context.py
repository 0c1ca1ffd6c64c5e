"""What a request of the community page works with: the Site, its page settings, the store.

The routes (web_local.pages, web_local.api) and the application factory (web_local.app)
all reach the running node through here, so the factory only assembles.
"""

from __future__ import annotations

from flask import current_app, g

from edge.store import EdgeStore
from edge.store_errors import StoreError
from web_local.site import PageSettings, Site

SITE_EXTENSION = "hallsense_site"
"""The key of the app's extensions under which the factory keeps the node's Site."""


class StoreUnavailable(Exception):
    """The node's store cannot be read (not made yet, damaged, or the card has failed)."""


def current_site() -> Site:
    """The Site of the running app."""
    site: Site = current_app.extensions[SITE_EXTENSION]
    return site


def page_settings() -> PageSettings:
    """The page settings for this request (read once per request)."""
    if "page_settings" not in g:
        g.page_settings = current_site().page_settings()
    settings: PageSettings = g.page_settings
    return settings


def open_store() -> EdgeStore:
    """This request's read-only view of the node's store, closed when the request ends.

    Raises:
        StoreUnavailable: the store cannot be opened; the page says so in words.
    """
    if "store" not in g:
        site = current_site()
        try:
            g.store = EdgeStore(site.store_path, timezone=page_settings().timezone, readonly=True)
        except StoreError as error:
            raise StoreUnavailable(str(error)) from error
    store: EdgeStore = g.store
    return store


def open_private_store() -> EdgeStore:
    """A read-only store the caller closes (for a streamed body that outlives the view).

    Raises:
        StoreUnavailable: as :func:`open_store`.
    """
    try:
        return EdgeStore(
            current_site().store_path, timezone=page_settings().timezone, readonly=True
        )
    except StoreError as error:
        raise StoreUnavailable(str(error)) from error


def close_store(exception: BaseException | None) -> None:
    """Close this request's store, if it opened one (the app's teardown)."""
    store = g.pop("store", None)
    if store is not None:
        store.close()
