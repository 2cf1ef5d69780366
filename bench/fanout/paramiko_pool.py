#!/usr/bin/python3
"""The paramiko anchor of bench/fanout: run one command on many hosts from a thread pool.

    paramiko_pool.py -F SSH_CONFIG [-i KEY] [-f WORKERS] [--timeout S] HOST... -- COMMAND

What a plain paramiko + concurrent.futures script does: one SSHClient per host, host name,
port, user, identity and known_hosts from the ssh_config (paramiko.SSHConfig), RejectPolicy
when StrictHostKeyChecking is yes, no agent and no ~/.ssh keys. Prints "host: line" for every
stdout line and "host: ERROR ..." on stderr for a failure. Exit 0 if every host exited 0.
Without -f the pool has ThreadPoolExecutor's default size, min(32, cores + 4).
"""
import argparse
import concurrent.futures
import os
import sys
import threading

import paramiko

_print_lock = threading.Lock()
_keys = {}
_keys_lock = threading.Lock()
_known = {}
_known_lock = threading.Lock()


def load_key(path):
    with _keys_lock:
        if path not in _keys:
            _keys[path] = _load_key_file(path)
        return _keys[path]


def _load_key_file(path):
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key_file(path)
        except paramiko.SSHException:
            continue
    raise paramiko.SSHException("cannot load key " + path)


def known_hosts(path):
    """One parsed HostKeys per file, shared by every thread (read-only after loading)."""
    with _known_lock:
        if path not in _known:
            hk = paramiko.HostKeys()
            if os.path.exists(path):
                hk.load(path)
            _known[path] = hk
        return _known[path]


def run_host(cfg, host, command, extra_keys, timeout):
    o = cfg.lookup(host)
    client = paramiko.SSHClient()
    try:
        hostname, port = o.get("hostname", host), int(o.get("port", 22))
        name = hostname if port == 22 else f"[{hostname}]:{port}"
        for f in o.get("userknownhostsfile", "~/.ssh/known_hosts").split():
            entry = known_hosts(os.path.expanduser(f)).lookup(name)
            for ktype, key in (entry or {}).items():
                client.get_host_keys().add(name, ktype, key)
        strict = o.get("stricthostkeychecking", "ask").lower()
        client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if strict in ("yes", "ask") else paramiko.AutoAddPolicy())
        idfiles = [os.path.expanduser(p) for p in o.get("identityfile", [])] + extra_keys
        pkey = load_key(idfiles[0]) if idfiles else None
        client.connect(hostname, port=port,
                       username=o.get("user"), pkey=pkey, allow_agent=False,
                       look_for_keys=False, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout)
        _, stdout, _ = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        status = stdout.channel.recv_exit_status()
        with _print_lock:
            for line in out.splitlines():
                sys.stdout.write(f"{host}: {line}\n")
            sys.stdout.flush()
        return status == 0
    except Exception as e:  # report every kind of failure per host, like the other tools
        with _print_lock:
            sys.stderr.write(f"{host}: ERROR {type(e).__name__}: {e}\n")
        return False
    finally:
        client.close()


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: paramiko_pool.py -F CFG [-i KEY] [-f N] HOST... -- COMMAND")
    cut = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("-F", dest="config", required=True)
    p.add_argument("-i", dest="identity", action="append", default=[])
    p.add_argument("-f", dest="workers", type=int, default=None)
    p.add_argument("--hosts-file")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("hosts", nargs="*")
    a = p.parse_args(argv[:cut])
    command = " ".join(argv[cut + 1:])
    hosts = list(a.hosts)
    if a.hosts_file:
        with open(a.hosts_file) as f:
            hosts += [h.strip() for h in f if h.strip()]
    cfg = paramiko.SSHConfig.from_path(a.config)
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.workers) as pool:
        results = list(pool.map(lambda h: run_host(cfg, h, command, a.identity, a.timeout), hosts))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
