"""A real PostgreSQL for the tests: Debian's server binaries, run as the `postgres` user
(initdb refuses root) on a Unix socket in a temporary folder, listening on no TCP port."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: pg_config's bindir, Debian's newest, or the PATH."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).resolve().parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class Postgres:
    """One PostgreSQL cluster in a temp folder; `database()` gives each test its own."""

    def __init__(self) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL's server (initdb, pg_ctl) is not installed: run scripts/setup.sh "
                "(apt-get install --no-install-recommends postgresql)"
            )
        self.folder = Path(tempfile.mkdtemp(prefix="nowserving-pg-"))
        self.data = self.folder / "data"
        self.port = 5432  # only names the socket file: there is no TCP listener
        self._as = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self, fsync: bool = False) -> None:
        """initdb and start; `fsync` off for tests (nothing to survive a power cut), on for
        bench/ (as a production server runs)."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        options = f"-k {self.folder} -c listen_addresses='' -p {self.port}"
        options += f" -c fsync={'on' if fsync else 'off'}"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                  "-l", str(self.folder / "log"), "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.folder} port={self.port} user=postgres dbname={dbname}"

    def database(self) -> str:
        """A new, empty database; returns its DSN."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)
