"""``python -m tests.faults.low_fd_serve ...``: the real ``serve`` main under an open-file limit
of ``FAULTS_NOFILE`` (default 1,024, the common default soft limit the attack was run at)."""

from __future__ import annotations

import os
import resource
import sys

from api.local import serve

if __name__ == "__main__":
    limit = int(os.environ.get("FAULTS_NOFILE", "1024"))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    sys.exit(serve.main())
