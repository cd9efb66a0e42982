#!/usr/bin/env python3
"""A private one-node Slurm cluster on this machine (as root): munged, slurmctld and slurmd from Debian's
slurm-wlm packages, configured in a directory of their own and running as children of this program, so that
the Slurm backend can be tried and tested without a cluster and without touching the system's configuration.

Usage: tools/slurm_one_node.py [--install] DIR
  Starts the cluster in DIR (created), prints the line that points Slurm's commands at it
  (export SLURM_CONF=DIR/slurm.conf), and runs until interrupted; then cancels its jobs and stops the daemons.
  --install: apt-get the packages first when they are missing.

The settings that make it start in about a second without systemd or cgroups: the config reached through
SLURM_CONF, munge with a private key and socket, the daemons in the foreground, process tracking by the
process tree (proctrack/linuxproc, task/none), scheduling at once (batch_sched_delay=0, sched_interval=1),
and no accounting database (the backend does not need sacct).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


class ClusterError(Exception):
    pass


def missing_programs() -> list[str]:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [p for p in PROGRAMS if shutil.which(p, path=search) is None]


def install() -> None:
    """apt-get the Slurm and munge packages when a program is missing (root only); ClusterError says why not."""
    if not missing_programs():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterError(f"Slurm is not installed and cannot be installed here (needs root and apt-get): "
                           f"apt-get install --no-install-recommends {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"code {proc.returncode}"]
            raise ClusterError(f"{' '.join(argv)} failed: {said[0]}")
    if missing_programs():
        raise ClusterError(f"after installing {' '.join(PACKAGES)}, still missing: {' '.join(missing_programs())}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In a daemon's child process: receive SIGTERM when the process that started it dies, so that a killed
    test run leaves no cluster behind (PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class OneNodeCluster:
    """start() brings the cluster up in `root` (about 1-2 s); stop() cancels its jobs and ends the daemons.
    `env` holds what Slurm's commands need to find it (SLURM_CONF)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).absolute()
        self.conf = self.root / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}
        self.daemons: list[tuple[str, subprocess.Popen]] = []

    def _sbin(self, name: str) -> str:
        return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])) or name

    def _write_config(self) -> None:
        node = subprocess.run([self._sbin("slurmd"), "-C"], capture_output=True, text=True, check=True
                              ).stdout.splitlines()[0].split()
        node = [f for f in node if not f.startswith("UpTime")]
        r = self.root
        self.conf.write_text(f"""\
ClusterName=asrser
SlurmctldHost={socket.gethostname()}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={r}/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
KillWait=5
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmdSpoolDir={r}/spool
StateSaveLocation={r}/state
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
{' '.join(node)} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.root / f"{name}.out", "w")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **self.env}, preexec_fn=_die_with_parent)
        out.close()
        self.daemons.append((name, proc))

    def _tail(self, name: str) -> str:
        lines = []
        for path in (self.root / f"{name}.out", self.root / f"{name}.log"):
            if path.exists():
                lines += path.read_text(errors="replace").splitlines()[-5:]
        return " | ".join(lines)

    def _wait_for(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for name, proc in self.daemons:
                if proc.poll() is not None:
                    raise ClusterError(f"{name} exited with code {proc.returncode}: {self._tail(name)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{what} not ready after {timeout:.0f} s: "
                                   + " / ".join(self._tail(n) for n, _ in self.daemons))
            time.sleep(0.1)

    def start(self, timeout: float = 30.0) -> "OneNodeCluster":
        if os.geteuid() != 0:
            raise ClusterError("a one-node Slurm cluster needs root (slurmd starts jobs as their users)")
        if missing_programs():
            raise ClusterError(f"Slurm is not installed (missing {' '.join(missing_programs())}); "
                               f"apt-get install --no-install-recommends {' '.join(PACKAGES)}")
        for d in ("state", "spool"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        munge = self.root / "munge"
        munge.mkdir(mode=0o755, exist_ok=True)
        munge.chmod(0o755)                       # munged refuses a socket dir that others can write to
        key = munge / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._write_config()
        try:
            self._spawn("munged", [self._sbin("munged"), "--foreground", "--force", f"--key-file={key}",
                                   f"--socket={munge}/munge.socket", f"--pid-file={munge}/munged.pid",
                                   f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed"])
            self._wait_for("munged", (munge / "munge.socket").exists, timeout)
            self._spawn("slurmctld", [self._sbin("slurmctld"), "-D", "-i"])
            self._spawn("slurmd", [self._sbin("slurmd"), "-D"])
            self._wait_for("the node", self._node_idle, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        proc = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True,
                              env={**os.environ, **self.env})
        return proc.returncode == 0 and proc.stdout.strip() == "idle"

    def stop(self) -> None:
        """Cancel every job of the cluster, wait for them to end (a few seconds), then stop the daemons."""
        env = {**os.environ, **self.env}
        if any(name == "slurmctld" and proc.poll() is None for name, proc in self.daemons):
            subprocess.run(["scancel", f"--user={os.getuid()}"], capture_output=True, env=env)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                proc = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True,
                                      env=env)
                if proc.returncode != 0 or not proc.stdout.strip():
                    break
                time.sleep(0.2)
        for name, proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.daemons.clear()


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--install"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        if "--install" in argv:
            install()
        cluster = OneNodeCluster(args[0]).start()
    except (ClusterError, OSError, subprocess.CalledProcessError) as e:
        print(f"slurm_one_node.py: {e}", file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        while not stop["now"] and all(proc.poll() is None for _, proc in cluster.daemons):
            time.sleep(0.5)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
