#!/usr/bin/env python3
# A hostile OpenFlow 1.3 controller for Switchboard's tests: it connects to a switch's passive
# listener, completes HELLO, then sends malformed and unsupported messages one at a time (lengths
# that lie, unknown types, a bad OXM, a flow-mod to a table that does not exist, packet-outs with
# garbage actions), each followed by an ECHO_REQUEST: the switch must answer with an ERROR and
# keep the connection (the echo comes back). Then a burst of flow-mods on the same connection,
# a barrier, an aggregate-stats request, two connections that end badly (a header shorter
# than a header, a length that promises more than is sent), and a crowd of connections at once
# (past the listener's cap).
#   hostile_controller.py HOST PORT [--burst N] [--burst-port P]
# Prints one JSON object per line: {"case": ..., "error": [type, code]} or {"case": ..., ...}.
# Exits non-zero when the connection is lost before the end.

import json
import socket
import struct
import sys
import threading
import time

OFP_VERSION = 4
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY, FEATURES_REQUEST = 0, 1, 2, 3, 5
PACKET_OUT, FLOW_MOD, MULTIPART_REQUEST, MULTIPART_REPLY = 13, 14, 18, 19
BARRIER_REQUEST, BARRIER_REPLY = 20, 21


def header(kind, length, xid, version=OFP_VERSION):
    return struct.pack('!BBHI', version, kind, length, xid)


def message(kind, body, xid):
    return header(kind, 8 + len(body), xid) + body


def oxm(field, value):
    return struct.pack('!HBB', 0x8000, field << 1, len(value)) + value


def match(*fields, length=None):
    body = b''.join(fields)
    n = 4 + len(body) if length is None else length
    raw = struct.pack('!HH', 1, n) + body
    return raw + b'\0' * ((8 - len(raw) % 8) % 8)


def output(port, length=16):
    return struct.pack('!HHIH6x', 0, length, port, 0xffff)


def apply_actions(actions):
    return struct.pack('!HH4x', 4, 8 + len(actions)) + actions


def flow_mod(m, instructions, table=0, priority=100, command=0):
    fixed = struct.pack('!QQBBHHHIIIH2x', 0, 0, table, command, 0, 0, priority, 0xffffffff,
                        0xffffffff, 0xffffffff, 0)
    return fixed + m + instructions


def packet_out(actions, data, in_port=0xfffffffd, actions_len=None):
    n = len(actions) if actions_len is None else actions_len
    return struct.pack('!IIH6x', 0xffffffff, in_port, n) + actions + data


FRAME = bytes.fromhex('ffffffffffff02000000aa010806') + bytes(46)


class Connection:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buffer = b''

    def send(self, data):
        self.sock.sendall(data)

    def read(self, timeout=30):
        """The next whole message: (type, xid, body), or None when the switch closed."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 8:
                _, kind, length, xid = struct.unpack('!BBHI', self.buffer[:8])
                if length >= 8 and len(self.buffer) >= length:
                    body = self.buffer[8:length]
                    self.buffer = self.buffer[length:]
                    return kind, xid, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no message within %s s' % timeout)
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk

    def hello(self):
        self.send(message(HELLO, b'', 1))
        reply = self.read()
        if reply is None or reply[0] != HELLO:
            raise RuntimeError('no HELLO from the switch: %r' % (reply,))


def report(**fields):
    print(json.dumps(fields), flush=True)


def probe(conn, name, data, xid):
    """Sends `data` (one message, xid `xid`) then an echo; reports the error it got."""
    echo_xid = xid + 1
    conn.send(data + message(ECHO_REQUEST, b'probe', echo_xid))
    error = None
    while True:
        got = conn.read()
        if got is None:
            report(case=name, error=error, closed=True)
            sys.exit(2)
        kind, got_xid, body = got
        if kind == ERROR and got_xid == xid:
            error = list(struct.unpack('!HH', body[:4]))
        elif kind == ECHO_REPLY and got_xid == echo_xid:
            report(case=name, error=error, echoed=body == b'probe')
            return


def cases():
    fm = lambda *a, **k: flow_mod(*a, **k)
    good_match = match(oxm(0, struct.pack('!I', 1)))
    good_apply = apply_actions(output(2))
    return [
        ('unknown message type', header(99, 8, 100)),
        ('header length longer than a fixed body', header(FEATURES_REQUEST, 16, 102) + bytes(8)),
        ('version 3 on an open connection', header(ECHO_REQUEST, 8, 104, version=3)),
        ('match length past the message', message(FLOW_MOD, fm(match(length=200), good_apply), 106)),
        ('OXM with a bad length', message(FLOW_MOD, fm(match(oxm(0, b'\0\0\1')), good_apply), 108)),
        ('OXM of an unknown field', message(FLOW_MOD, fm(match(oxm(60, b'\0\0\0\1')), good_apply), 110)),
        ('action length past its instruction', message(FLOW_MOD, fm(good_match, apply_actions(output(2, length=24))), 112)),
        ('unknown instruction', message(FLOW_MOD, fm(good_match, struct.pack('!HH4x', 77, 8)), 114)),
        ('flow-mod to table 200', message(FLOW_MOD, fm(good_match, good_apply, table=200), 116)),
        ('flow-mod output to port 999', message(FLOW_MOD, fm(good_match, apply_actions(output(999))), 118)),
        ('flow-mod with command 9', message(FLOW_MOD, fm(good_match, good_apply, command=9), 120)),
        ('packet-out with an unknown action type', message(PACKET_OUT, packet_out(struct.pack('!HH4x', 0x7777, 8), FRAME), 122)),
        ('packet-out with an action of length 0', message(PACKET_OUT, packet_out(struct.pack('!HH4x', 0, 0), FRAME), 124)),
        ('packet-out actions_len past the message', message(PACKET_OUT, packet_out(output(2), FRAME, actions_len=4000), 126)),
        ('packet-out to port 999', message(PACKET_OUT, packet_out(output(999), FRAME), 128)),
        ('packet-out without a frame', message(PACKET_OUT, packet_out(output(2), b''), 130)),
        ('multipart of unknown type 77', message(MULTIPART_REQUEST, struct.pack('!HH4x', 77, 0), 132)),
    ]


def burst(conn, count, out_port):
    """`count` flow-mods (half in table 0, half in table 1) written as fast as the socket takes
    them, read concurrently; then a barrier. Reports errors and seconds."""
    errors = []
    done = threading.Event()
    barrier_xid = 0x7fff0000

    def reader():
        while True:
            got = conn.read(timeout=300)
            if got is None:
                break
            kind, xid, body = got
            if kind == ERROR:
                errors.append(list(struct.unpack('!HH', body[:4])))
            elif kind == BARRIER_REPLY and xid == barrier_xid:
                break
        done.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    start = time.monotonic()
    chunk = []
    for i in range(count):
        m = match(oxm(5, b'\x08\x00'), oxm(12, struct.pack('!I', 0xac100000 + i)))
        chunk.append(message(FLOW_MOD, flow_mod(m, apply_actions(output(out_port)), table=i % 2, priority=1), 0x10000 + i))
        if len(chunk) == 512:
            conn.send(b''.join(chunk))
            chunk = []
    conn.send(b''.join(chunk) + message(BARRIER_REQUEST, b'', barrier_xid))
    sent = time.monotonic() - start
    finished = done.wait(300)
    report(case='burst', flow_mods=count, errors=len(errors), first_errors=errors[:3], barrier=finished,
           seconds_to_send=round(sent, 2), seconds=round(time.monotonic() - start, 2))
    if not finished:
        sys.exit(2)


def aggregate(conn):
    """The switch's flow count over every table (AGGREGATE multipart)."""
    body = struct.pack('!HH4x', 2, 0) + struct.pack('!B3xII4xQQ', 0xff, 0xffffffff, 0xffffffff, 0, 0) + match()
    conn.send(message(MULTIPART_REQUEST, body, 500))
    while True:
        got = conn.read()
        if got is None:
            sys.exit(2)
        kind, xid, body = got
        if kind == MULTIPART_REPLY and xid == 500:
            packets, octets, flows = struct.unpack('!QQI', body[8:28])
            report(case='aggregate', flows=flows, packets=packets)
            return


def bad_endings(host, port):
    """A header whose length is below 8 (the stream cannot be framed: the switch closes this
    connection), and a length promising more than is ever sent (then we close)."""
    conn = Connection(host, port)
    conn.hello()
    conn.send(header(ECHO_REQUEST, 4, 600))
    closed = False
    error = None
    try:
        while True:
            got = conn.read(timeout=10)
            if got is None:
                closed = True
                break
            if got[0] == ERROR:
                error = list(struct.unpack('!HH', got[2][:4]))
    except (TimeoutError, OSError):
        pass
    report(case='header length 4', error=error, closed=closed)
    conn = Connection(host, port)
    conn.hello()
    conn.send(header(FLOW_MOD, 65535, 601) + bytes(100))
    conn.sock.close()
    report(case='length promising 65535 bytes, then gone')


def crowd(host, port, count=24):
    """`count` connections at once, each sending HELLO: how many the switch serves (HELLO back)
    and how many it closes; then, with them gone, whether a new one is served."""
    conns, served, closed = [], 0, 0
    for _ in range(count):
        c = Connection(host, port)
        c.send(message(HELLO, b'', 1))
        conns.append(c)
    for c in conns:
        try:
            got = c.read(timeout=10)
        except (TimeoutError, OSError):
            got = None
        if got is not None and got[0] == HELLO:
            served += 1
        else:
            closed += 1
    for c in conns:
        c.sock.close()
    time.sleep(0.5)
    fresh = Connection(host, port)
    fresh.hello()
    fresh.sock.close()
    report(case='crowd', connections=count, served=served, closed=closed, afterwards=True)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    count, out_port = 100000, 3
    args = sys.argv[3:]
    while args:
        if args[0] == '--burst':
            count = int(args[1])
        elif args[0] == '--burst-port':
            out_port = int(args[1])
        args = args[2:]
    conn = Connection(host, port)
    conn.hello()
    for name, data in cases():
        probe(conn, name, data, struct.unpack('!I', data[4:8])[0])
    burst(conn, count, out_port)
    aggregate(conn)
    probe(conn, 'unknown message type after the burst', header(98, 8, 700), 700)
    bad_endings(host, port)
    crowd(host, port)


if __name__ == '__main__':
    main()
