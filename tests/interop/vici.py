"""A minimal client of strongSwan's VICI protocol (charon's control socket), standard library
only: Debian 12 packages no python3-vici.

    with ViciSession("/tmp/run/charon.vici") as v:
        v.request("version")                          # -> {"daemon": "charon", ...}
        v.request("initiate", {"child": "net", "timeout": "10000"})
        sas = v.streamed("list-sas", "list-sa", {})   # -> [event dicts]

Wire format (strongSwan src/libcharon/plugins/vici/README.md): every packet is a 32-bit
big-endian length and the packet; a packet is a type byte, for named types an 8-bit name
length and the name, then a message. A message is a sequence of elements: SECTION_START
(name), SECTION_END, KEY_VALUE (name, 16-bit length, value), LIST_START (name), LIST_ITEM
(16-bit length, value), LIST_END. Values are strings here (vici encodes numbers as text).

Decoded messages are dicts: sections are dicts, lists are lists of str, values str. One
command at a time per session (the protocol has no request ids); events that arrive
during a command belong to the registered stream.
"""

from __future__ import annotations

import socket
import struct

CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6
MAX_SEGMENT = 512 * 1024


class ViciError(RuntimeError):
    """The daemon refused a command, or the protocol went wrong."""


def _name(b: bytearray, name: str) -> None:
    raw = name.encode()
    if len(raw) > 255:
        raise ValueError(f"vici name too long: {name!r}")
    b.append(len(raw))
    b += raw


def _value(b: bytearray, value) -> None:
    if isinstance(value, bool):
        value = "yes" if value else "no"
    raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
    if len(raw) > 0xffff:
        raise ValueError("vici value longer than 65535 bytes")
    b += struct.pack("!H", len(raw))
    b += raw


def encode(msg: dict) -> bytes:
    """dict (values: str/int/bool/bytes, list, or dict for a section) -> message bytes."""
    b = bytearray()
    for k, v in msg.items():
        if isinstance(v, dict):
            b.append(SECTION_START)
            _name(b, k)
            b += encode(v)
            b.append(SECTION_END)
        elif isinstance(v, (list, tuple)):
            b.append(LIST_START)
            _name(b, k)
            for item in v:
                b.append(LIST_ITEM)
                _value(b, item)
            b.append(LIST_END)
        else:
            b.append(KEY_VALUE)
            _name(b, k)
            _value(b, v)
    return bytes(b)


def decode(data: bytes) -> dict:
    """Message bytes -> dict; raises ViciError on any malformed element."""
    root: dict = {}
    stack = [root]
    lst: list | None = None
    i, n = 0, len(data)

    def take(k: int) -> bytes:
        nonlocal i
        if i + k > n:
            raise ViciError("truncated vici message")
        out = data[i:i + k]
        i += k
        return out

    def name() -> str:
        return take(take(1)[0]).decode(errors="replace")

    def value() -> str:
        (ln,) = struct.unpack("!H", take(2))
        return take(ln).decode(errors="replace")

    while i < n:
        t = take(1)[0]
        if t == SECTION_START and lst is None:
            sec: dict = {}
            stack[-1][name()] = sec
            stack.append(sec)
        elif t == SECTION_END and lst is None:
            if len(stack) == 1:
                raise ViciError("unbalanced SECTION_END")
            stack.pop()
        elif t == KEY_VALUE and lst is None:
            k = name()
            stack[-1][k] = value()
        elif t == LIST_START and lst is None:
            lst = []
            stack[-1][name()] = lst
        elif t == LIST_ITEM and lst is not None:
            lst.append(value())
        elif t == LIST_END and lst is not None:
            lst = None
        else:
            raise ViciError(f"unexpected vici element type {t} at offset {i - 1}")
    if len(stack) != 1 or lst is not None:
        raise ViciError("unterminated section or list in vici message")
    return root


class ViciSession:
    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "ViciSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    # ------------------------------------------------------------------ packets
    def _send(self, ptype: int, name: str | None = None, msg: dict | None = None) -> None:
        b = bytearray([ptype])
        if name is not None:
            _name(b, name)
        if msg is not None:
            b += encode(msg)
        if len(b) > MAX_SEGMENT:
            raise ViciError("vici packet too large")
        self.sock.sendall(struct.pack("!I", len(b)) + b)

    def _recv_exact(self, k: int) -> bytes:
        out = bytearray()
        while len(out) < k:
            chunk = self.sock.recv(k - len(out))
            if not chunk:
                raise ViciError("vici socket closed by the daemon")
            out += chunk
        return bytes(out)

    def _recv(self) -> tuple[int, str | None, bytes]:
        (ln,) = struct.unpack("!I", self._recv_exact(4))
        if ln == 0 or ln > MAX_SEGMENT:
            raise ViciError(f"bad vici segment length {ln}")
        p = self._recv_exact(ln)
        t = p[0]
        if t in (CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT):
            if len(p) < 2 or len(p) < 2 + p[1]:
                raise ViciError("truncated vici packet name")
            return t, p[2:2 + p[1]].decode(errors="replace"), p[2 + p[1]:]
        return t, None, p[1:]

    def _event_ctl(self, ptype: int, event: str) -> None:
        self._send(ptype, event)
        while True:
            t, _, _ = self._recv()
            if t == EVENT_CONFIRM:
                return
            if t == EVENT_UNKNOWN:
                raise ViciError(f"vici: unknown event {event!r}")
            if t != EVENT:             # stray events of an earlier stream are skipped
                raise ViciError(f"vici: unexpected packet type {t} for event registration")

    # ------------------------------------------------------------------ commands
    def request(self, cmd: str, msg: dict | None = None, check: bool = True) -> dict:
        """One command; returns the response message. With ``check`` a response carrying
        ``success = no`` raises ViciError with its errmsg."""
        self._send(CMD_REQUEST, cmd, msg or {})
        while True:
            t, _, body = self._recv()
            if t == CMD_RESPONSE:
                res = decode(body)
                if check and res.get("success") == "no":
                    raise ViciError(f"vici {cmd} failed: {res.get('errmsg', '?')}")
                return res
            if t == CMD_UNKNOWN:
                raise ViciError(f"vici: unknown command {cmd!r}")
            if t != EVENT:
                raise ViciError(f"vici: unexpected packet type {t} in reply to {cmd}")

    def streamed(self, cmd: str, event: str, msg: dict | None = None,
                 check: bool = True) -> tuple[list[dict], dict]:
        """A command that streams ``event`` messages before its response (list-sas ->
        list-sa, initiate -> control-log, ...): returns (events, response)."""
        self._event_ctl(EVENT_REGISTER, event)
        events: list[dict] = []
        try:
            self._send(CMD_REQUEST, cmd, msg or {})
            while True:
                t, name, body = self._recv()
                if t == EVENT and name == event:
                    events.append(decode(body))
                elif t == CMD_RESPONSE:
                    res = decode(body)
                    break
                elif t == CMD_UNKNOWN:
                    raise ViciError(f"vici: unknown command {cmd!r}")
                elif t != EVENT:
                    raise ViciError(f"vici: unexpected packet type {t} in reply to {cmd}")
        finally:
            try:
                self._event_ctl(EVENT_UNREGISTER, event)
            except (OSError, ViciError):
                pass
        if check and res.get("success") == "no":
            log = "; ".join(e.get("msg", "") for e in events[-8:])
            raise ViciError(f"vici {cmd} failed: {res.get('errmsg', '?')}"
                            + (f" (log: {log})" if log else ""))
        return events, res

    # ------------------------------------------------------------------ event listening
    def listen(self, events: list[str]):
        """Register for ``events`` and yield (event name, message) as they arrive; use a
        session of its own (no commands on it meanwhile). Ends when the socket closes or
        times out (socket.timeout propagates: set the session timeout accordingly)."""
        for ev in events:
            self._event_ctl(EVENT_REGISTER, ev)
        while True:
            t, name, body = self._recv()
            if t == EVENT:
                yield name, decode(body)
