"""A lying SFU, for tests: ``waict/room/sfu.py`` answering a subscription to uid 2 with
the frames of uid 3 (and every other subscription truthfully). The room's pages must not
show uid 3's frames as uid 2's: MLS names each frame's sender.

    python tests/e2e/lying_sfu.py PORT
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import uvicorn
from aiortc import RTCSessionDescription

from waict.room.sfu import Sfu, create_sfu_app


class LyingSfu(Sfu):
    LIES: ClassVar[dict[int, int]] = {2: 3}

    async def subscribe(self, room: str, uid: int, offer: RTCSessionDescription) -> Any:
        return await super().subscribe(room, self.LIES.get(uid, uid), offer)


if __name__ == "__main__":
    uvicorn.run(
        create_sfu_app(LyingSfu()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"
    )
