"""The room wing: the second system served under WAICT, an end-to-end encrypted video room
whose MLS group is run by a designated committer (issue 13; docs/room.md).

What lives here:

- ``protocol``  the WebSocket message schema: parsing and bounding every client frame, and
                building every server frame (the one place a browser port follows);
- ``server``    the delivery service, a Starlette WebSocket app: rooms, one sequence number
                per room, every message to every member in one total order, the server's
                own ``user_joined`` / ``user_left``, heartbeats; it logs kinds and sizes only;
- ``committer`` the designated-committer rule as a pure state machine (what the local
                member does next, given the ordered stream), the port of
                models/room/designated_committer.pml that the browser's JS will follow;
- ``cli``       the ``waict serve-room`` command.

The wing imports nothing from the other wings of ``waict`` (log servers, site tools, demo)
nor from ``verifier``: only the standard library, Starlette and uvicorn.
"""
