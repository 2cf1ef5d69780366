#!/usr/bin/python3
"""bench/tasks: the rolling deploy written with Fabric 2, as a Fabric user would: batches of
--serial hosts, one after another; within a batch every step runs on the batch's hosts at once
through a fabric.ThreadingGroup, and a host whose step fails drops out of the rest of its batch
(the others go on). Connections come from the ssh_config given with -F (host name, port, user,
identity file: fabric.Config(runtime_ssh_path=...)); host keys are checked against --known-hosts
with paramiko's RejectPolicy (Fabric's own default is AutoAddPolicy: it would accept any key).
No agent, no default keys (look_for_keys=False, allow_agent=False), as for herd.

Each alias logs in as the same user on the same disk, so the host name is part of the paths.
`ThreadingGroup.run` sends one command to every host, so each connection carries its own name
as a command prefix (`export DEPLOY_HOST=web01 && ...`: Fabric's `Connection.prefix`).

Run by bench/tasks/run under /usr/bin/python3 (Debian's python3-fabric). Exit 0 if every host
deployed, 1 otherwise; one line per failed host and a summary on stderr.
"""
import argparse
import contextlib
import shlex
import sys
import time

from fabric import Config, Connection, ThreadingGroup
from fabric.exceptions import GroupException
from paramiko import RejectPolicy


def steps(base, version):
    """(name, command) in order; $DEPLOY_HOST is the connection's own host name."""
    b, v = shlex.quote(base), shlex.quote(version)
    home = f'{b}/"$DEPLOY_HOST"'
    return [
        ("release dir", f"mkdir -p {home}/releases/{v}"),
        ("version file", f"printf '%s\\n' {v} > {home}/releases/{v}/VERSION"),
        ("switch current", f"ln -sfn releases/{v} {home}/current"),
        ("restart", "sleep 0.2"),
        ("health check", f'test "$(cat {home}/current/VERSION)" = {v}'),
    ]


class AliasConnection(Connection):
    """A Connection that is told apart by its alias too. Fabric identifies (hashes, compares) a
    Connection by (host, user, port) and keys a group's results by it; the lab's aliases share a
    handful of servers (web01 and web06 are both 127.0.0.1 on server 1's port), so results of two
    hosts of one batch would collide. Real fleets have one address per host; this changes
    nothing else."""

    def _identity(self):
        return (self.original_host,) + super()._identity()


def connect_all(hosts, config, known_hosts, timeout):
    """One Connection per host, each with its own connect_kwargs (Fabric appends the ssh_config's
    IdentityFile to the dict it is given, so a shared dict would grow with every host)."""
    out = []
    for h in hosts:
        c = AliasConnection(h, config=config, connect_timeout=timeout,
                       connect_kwargs={"look_for_keys": False, "allow_agent": False})
        c.client.load_host_keys(known_hosts)
        c.client.set_missing_host_key_policy(RejectPolicy())
        out.append(c)
    return out


def short(exc):
    res = getattr(exc, "result", None)  # invoke's UnexpectedExit
    if res is not None:
        err = (res.stderr or res.stdout or "").strip().splitlines()
        return f"exit {res.exited}" + (f": {err[-1][:160]}" if err else "")
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-F", "--ssh-config", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--hosts", required=True, help="comma-separated host names, in order")
    ap.add_argument("--serial", type=int, required=True, help="hosts per batch")
    ap.add_argument("--base", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--connect-timeout", type=int, default=10)
    a = ap.parse_args()

    hosts = [h for h in a.hosts.split(",") if h]
    config = Config(runtime_ssh_path=a.ssh_config)
    failed = {}
    t0 = time.monotonic()
    batches = [hosts[i:i + a.serial] for i in range(0, len(hosts), a.serial)]
    for n, batch in enumerate(batches, 1):
        conns = connect_all(batch, config, a.known_hosts, a.connect_timeout)
        with contextlib.ExitStack() as stack:
            for c in conns:
                stack.enter_context(c.prefix(f"export DEPLOY_HOST={shlex.quote(c.original_host)}"))
            live = conns
            for name, cmd in steps(a.base, a.version):
                if not live:
                    break
                try:
                    ThreadingGroup.from_connections(live).run(cmd, hide=True, in_stream=False)
                except GroupException as e:
                    keep = []
                    for c, res in e.result.items():
                        if isinstance(res, BaseException):
                            failed[c.original_host] = f"{name}: {short(res)}"
                            print(f"{c.original_host}: failed at {name}: {short(res)}",
                                  file=sys.stderr, flush=True)
                        else:
                            keep.append(c)
                    live = [c for c in live if c in keep]
        for c in conns:
            c.close()
        print(f"fabric: batch {n}/{len(batches)} done ({len(batch)} hosts, "
              f"{sum(h in failed for h in batch)} failed)", file=sys.stderr, flush=True)
    ok = len(hosts) - len(failed)
    print(f"fabric: {ok} ok, {len(failed)} failed of {len(hosts)} hosts in "
          f"{time.monotonic() - t0:.2f} s", file=sys.stderr, flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
