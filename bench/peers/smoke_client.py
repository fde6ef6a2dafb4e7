#!/usr/bin/env python3
"""Smoke client for the benchmark peers: checks that a running peer speaks its protocol
correctly before any numbers are taken from it. Loopback only, every socket with a timeout.

Usage: smoke_client.py echo|http PORT
Prints one line per check and exits 0 only if every check passed.
"""

import selectors
import socket
import sys
import time

HOST = "127.0.0.1"
TIMEOUT = 5.0
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
            b"Hello, World!")
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def connect(port):
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_until_eof(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def expect_silence(s, wait=0.2):
    """Nothing more arrives within `wait` seconds (and the connection is still open)."""
    s.settimeout(wait)
    try:
        extra = s.recv(65536)
    except socket.timeout:
        extra = None
    finally:
        s.settimeout(TIMEOUT)
    if extra is not None:
        raise AssertionError(f"unexpected {len(extra)} extra bytes (or EOF): {extra[:80]!r}")


def pump(s, payload, expect_len=None):
    """Sends payload while reading the answer at the same time (so the server's writes can
    come up short without deadlocking either side); returns the first expect_len bytes that
    came back (default: as many as were sent, for echo)."""
    if expect_len is None:
        expect_len = len(payload)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    sent, got = 0, bytearray()
    deadline = time.monotonic() + 4 * TIMEOUT
    while len(got) < expect_len:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: sent {sent}, got {len(got)} of {expect_len}")
        for key, mask in sel.select(timeout=1.0):
            if mask & selectors.EVENT_WRITE and sent < len(payload):
                try:
                    sent += s.send(payload[sent:sent + 262144])
                except BlockingIOError:
                    pass
                if sent == len(payload):
                    sel.modify(s, selectors.EVENT_READ)
            if mask & selectors.EVENT_READ:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise AssertionError(f"EOF after {len(got)} of {expect_len} bytes")
                got += chunk
    sel.close()
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    return bytes(got)


# ---- echo checks ----

def echo_small_messages(port):
    with connect(port) as s:
        for i in range(200):
            msg = bytes((i + j) % 256 for j in range(64))
            s.sendall(msg)
            assert recv_exact(s, 64) == msg, f"message {i} differs"
        expect_silence(s)


def echo_many_connections(port):
    conns = [connect(port) for _ in range(50)]
    try:
        for round_ in range(5):
            for i, s in enumerate(conns):
                s.sendall(b"%03d:%03d" % (i, round_) + b"x" * 57)
            for i, s in enumerate(conns):
                assert recv_exact(s, 64) == b"%03d:%03d" % (i, round_) + b"x" * 57
    finally:
        for s in conns:
            s.close()


def echo_large_payload(port):
    payload = bytes((i * 7 + i // 251) % 256 for i in range(8 * 1024 * 1024))
    with connect(port) as s:
        got = pump(s, payload)
        assert got == payload, "8 MiB echo differs"


def echo_half_close(port):
    payload = b"half-close " * 50000
    with connect(port) as s:
        assert pump(s, payload) == payload
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b"", "bytes after the echo, expected EOF"


def echo_data_with_fin(port):
    # Data and FIN arrive together: the server's short read must not make it miss the EOF.
    for _ in range(20):
        with connect(port) as s:
            s.sendall(b"y" * 64)
            s.shutdown(socket.SHUT_WR)
            assert recv_until_eof(s) == b"y" * 64, "expected the echo then EOF"


def echo_split_and_odd_sizes(port):
    with connect(port) as s:
        for size in (1, 2, 63, 64, 65, 1000, 4095, 65535, 65536, 65537, 200000):
            msg = bytes(size % 251 for _ in range(size))
            assert pump(s, msg) == msg, f"size {size} differs"


# ---- http checks ----

def http_single(port):
    with connect(port) as s:
        s.sendall(REQUEST)
        assert recv_exact(s, len(RESPONSE)) == RESPONSE
        expect_silence(s)


def http_keep_alive(port):
    with connect(port) as s:
        for _ in range(100):
            s.sendall(REQUEST)
            assert recv_exact(s, len(RESPONSE)) == RESPONSE
        expect_silence(s)


def http_pipelined_3(port):
    with connect(port) as s:
        s.sendall(REQUEST * 3)
        assert recv_exact(s, 3 * len(RESPONSE)) == RESPONSE * 3
        expect_silence(s)


def http_pipelined_1000(port):
    with connect(port) as s:
        reqs = b"".join(b"GET /%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % i for i in range(1000))
        assert pump(s, reqs, 1000 * len(RESPONSE)) == RESPONSE * 1000
        expect_silence(s)


def http_split_request(port):
    with connect(port) as s:
        whole = REQUEST * 2
        # The first request cut in the middle of its blank line, the second in its request line.
        for part in (whole[:len(REQUEST) - 2], whole[len(REQUEST) - 2:len(REQUEST) + 5],
                     whole[len(REQUEST) + 5:]):
            s.sendall(part)
            time.sleep(0.05)
        assert recv_exact(s, 2 * len(RESPONSE)) == RESPONSE * 2
        expect_silence(s)


def http_connection_close(port):
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nconnection:  Close\r\n\r\n")
        assert recv_until_eof(s) == RESPONSE, "expected one response then EOF"


def http_pipelined_then_close(port):
    with connect(port) as s:
        s.sendall(REQUEST * 2 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert recv_until_eof(s) == RESPONSE * 3, "expected three responses then EOF"


def http_client_eof(port):
    with connect(port) as s:
        s.sendall(REQUEST)
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == RESPONSE, "expected one response then EOF"


def http_no_close_on_other_headers(port):
    with connect(port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nX-Connection: close\r\nConnection: keep-alive\r\n\r\n")
        assert recv_exact(s, len(RESPONSE)) == RESPONSE
        expect_silence(s)
        s.sendall(REQUEST)
        assert recv_exact(s, len(RESPONSE)) == RESPONSE


CHECKS = {
    "echo": [echo_small_messages, echo_many_connections, echo_split_and_odd_sizes,
             echo_large_payload, echo_half_close, echo_data_with_fin],
    "http": [http_single, http_keep_alive, http_pipelined_3, http_pipelined_1000,
             http_split_request, http_connection_close, http_pipelined_then_close,
             http_client_eof, http_no_close_on_other_headers],
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(sys.argv[2])
    failed = 0
    for check in CHECKS[sys.argv[1]]:
        try:
            check(port)
            print(f"    ok   {check.__name__}")
        except Exception as e:  # any failure of a check is reported, the rest still run
            failed += 1
            print(f"    FAIL {check.__name__}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
