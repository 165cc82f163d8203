import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_sessionfinish(session: object, exitstatus: object) -> None:
    import pg  # the throwaway PostgreSQL cluster, if a test started one

    pg.stop()
