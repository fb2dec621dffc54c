"""The web app: a login page, the timeline, the player and the camera overview.

Plain HTML, CSS and ES modules in ``static/``, served by the API's own app (no build step, no
framework, nothing loaded from another site). The pages only talk to the REST API under
``/api/v1``; they put every string that comes from a camera or a user into the page through
``textContent`` or attributes, never as HTML, and carry no inline script (the
Content-Security-Policy forbids it). :mod:`camvault.web.routes` mounts the pages.
"""
