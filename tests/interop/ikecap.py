"""Capture IKE traffic (UDP 500 and 4500) in a topology node with tshark and read it back
through Wireshark's own `isakmp` dissector: an independent check that what the peers
exchange is well-formed IKEv2 (RFC 7296), and which exchanges happened.

    cap = IkeCapture(t, "mn", "wlan0", rundir / "mn-ike.pcapng").start()
    ...                                       # tunnel set up, rekeyed, moved
    cap.stop()
    cap.exchanges()        # [(frame, src, dst, exchange type, initiator flag, response flag)]
    cap.malformed()        # tshark -V text of isakmp frames flagged malformed ("" = clean)

ESP in UDP 4500 (RFC 3948) is dissected as `esp`, not `isakmp`, so `-Y isakmp` keeps only
the IKE messages (including the NAT-T ones with the non-ESP marker).

With the key log a daemon writes (`keylog-file =`, Wireshark's ikev2_decryption_table
lines), tshark also decrypts the Encrypted and Authenticated payloads (RFC 7296 3.14):

    counts = cap.check_decrypted(gw.dir / "ikev2_decryption_table")
    # {"IKE_SA_INIT": 2, "IKE_AUTH": 2, "CREATE_CHILD_SA": 4, "INFORMATIONAL": 2,
    #  "messages": 10, "encrypted": 8, "decrypted": 8, "undecryptable": 0}
    cap.last_messages      # [IkeMessage]: header, ports, payloads, notifies (also the
                           # decrypted ones), payload types inside SK
    cap.check_tampered(keylog, "sk_ei")   # one key bit flipped: must fail (self-check)

check_decrypted raises CaptureError unless every captured frame is an IKEv2 message with its
exchange type, no frame carries a malformed or expert item (any severity, see EXPERT_OK),
and every message after IKE_SA_INIT has exactly one Encrypted payload that tshark decrypted
with its integrity shown "[correct]". The key table goes into a private Wireshark
configuration directory (XDG_CONFIG_HOME) next to the capture, so the user's profile plays
no part.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

TSHARK = shutil.which("tshark") or "/usr/bin/tshark"
# IKE on port 500, and on 4500 only with the non-ESP marker (four zero octets where ESP
# has its SPI, RFC 3948 2.2): a bulk transfer's ESP packets stay out of the file
IKE_ONLY = "udp port 500 or (udp port 4500 and udp[8:4] = 0)"
# RFC 7296 3.1 exchange types
EXCHANGE = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}


# Expert-info severities (epan/proto.h PI_CHAT .. PI_ERROR)
SEVERITY = {0x00200000: "chat", 0x00400000: "note", 0x00600000: "warning",
            0x00800000: "error"}
# Expert items that are not a defect of the message, as (severity, message regex); every
# other expert item of any severity fails check_decrypted. None needed so far: the isakmp
# dissector of Wireshark 4.0 raised no chat or note item on what charon, vpngw and mnd send.
EXPERT_OK: tuple[tuple[int, str], ...] = ()
# Encryption algorithm names of the key table that this tshark cannot use: Wireshark 4.0's
# isakmp dissector has no ChaCha20-Poly1305 (RFC 7634) and refuses the whole table when a
# line names it ("invalid value"). Lines with such a name are left out of the table (only
# after tshark refused them) and that SA's Encrypted payloads count as "undecryptable".
TSHARK_CANNOT_DECRYPT = ("CHACHA20-POLY1305 [RFC7634]",)
# RFC 7296 3.2 / RFC 7383 2.5: Encrypted and Authenticated, Encrypted and Authenticated
# Fragment
PT_SK, PT_SKF, PT_NOTIFY = 46, 53, 41
N_COOKIE = 16390


class CaptureError(AssertionError):
    pass


@dataclass
class IkeMessage:
    """One IKEv2 message as tshark's isakmp dissector shows it."""
    frame: int
    src: str
    dst: str
    sport: int
    dport: int
    exchange: str                      # EXCHANGE name, or the number as a string
    initiator: bool                    # I flag
    response: bool                     # R flag
    spi_i: str                         # hex, as in the key table
    spi_r: str
    msgid: int
    payloads: list[int]                # top-level payload types, in order
    notifies: list[tuple[int, str]]    # (type, data hex): top-level ones and decrypted ones
    inner: list[int] = field(default_factory=list)   # payload types inside SK, decrypted
    sk: int = 0                        # Encrypted (and Fragment) payloads
    decrypted: int = 0                 # of those, decrypted by tshark
    integrity: list[str] = field(default_factory=list)  # "correct", "incorrect ...", ...
    encr: str = ""                     # cipher name tshark shows on the Encrypted Data

    def __str__(self) -> str:
        return (f"#{self.frame} {self.src}:{self.sport} -> {self.dst}:{self.dport} "
                f"{self.exchange} {'response' if self.response else 'request'} "
                f"{'I' if self.initiator else 'R'} {self.spi_i}/{self.spi_r} "
                f"mid {self.msgid}")


def _field(el, name: str):
    for f in el.iter("field"):
        if f.get("name") == name:
            return f
    return None


def _children(el, name: str) -> list:
    return [f for f in el if f.get("name") == name]


def _notify(pl) -> tuple[int, str] | None:
    """(type, data) of a Notify payload from its raw bytes (RFC 7296 3.10): generic header
    (4), Protocol ID, SPI Size, Notify Message Type, SPI, data."""
    raw = bytes.fromhex(pl.get("value") or "")
    if len(raw) < 8:
        return None
    (ntype,) = struct.unpack("!H", raw[6:8])
    return ntype, raw[8 + raw[5]:].hex()


class IkeCapture:
    def __init__(self, topo, node: str, iface: str, path, bpf: str = IKE_ONLY,
                 snaplen: int = 0) -> None:
        self.topo, self.node, self.iface, self.path = topo, node, iface, str(path)
        self.bpf, self.snaplen = bpf, snaplen
        self.proc = None
        self.last_messages: list[IkeMessage] = []    # of the last check_decrypted
        self._ready = threading.Event()
        self._err: list[str] = []

    def start(self, timeout: float = 15.0) -> "IkeCapture":
        if not os.access(TSHARK, os.X_OK):
            raise CaptureError(f"tshark not found ({TSHARK}): run scripts/setup.sh")
        Path(self.path).unlink(missing_ok=True)
        argv = [TSHARK, "-n", "-q", "-i", self.iface, "-w", self.path, "-f", self.bpf]
        if self.snaplen:
            argv += ["-s", str(self.snaplen)]
        self.proc = self.topo.spawn(self.node, argv, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise CaptureError(f"tshark did not start on {self.node} {self.iface}: "
                               f"{''.join(self._err)[-1500:]}")
        return self

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self._err.append(line)
            if "Capturing on" in line:
                time.sleep(0.5)        # dumpcap's loop is live a moment after it says so
                self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT to tshark's process group (tshark and dumpcap) so the file is complete."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        time.sleep(0.3)
        try:
            os.killpg(p.pid, signal.SIGINT)
        except OSError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)

    def _read(self, display: str, extra: list[str]) -> str:
        if not os.path.exists(self.path):
            raise CaptureError(f"capture file {self.path} does not exist")
        argv = [TSHARK, "-n", "-r", self.path, "-Y", display] + extra
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise CaptureError(f"{' '.join(argv)} failed rc {res.returncode}: {res.stderr}")
        return res.stdout

    def exchanges(self) -> list[tuple[int, str, str, str, bool, bool]]:
        """Every IKEv2 message: (frame, src, dst, exchange name, I flag, R flag)."""
        out = self._read("isakmp", ["-T", "fields", "-E", "separator=\t", "-e", "frame.number",
                                    "-e", "ip.src", "-e", "ip.dst", "-e", "isakmp.exchangetype",
                                    "-e", "isakmp.flag_i", "-e", "isakmp.flag_r"])
        rows = []
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) < 6 or not f[3]:
                continue
            et = int(f[3].split(",")[0], 0)
            rows.append((int(f[0]), f[1], f[2], EXCHANGE.get(et, str(et)),
                         f[4] in ("1", "True"), f[5] in ("1", "True")))
        return rows

    def count(self, display: str) -> int:
        out = self._read(display, ["-T", "fields", "-e", "frame.number"])
        return len([l for l in out.splitlines() if l.strip()])

    def malformed(self) -> str:
        """Full decode of the IKE frames Wireshark flags as malformed or with an error-level
        expert item (the checks want this empty)."""
        return self._read("isakmp && (_ws.malformed || _ws.expert.severity >= 8388608)",
                          ["-V"]).strip()

    # --------------------------------------------------------------- decryption (keylog)

    def _wsconf(self, lines: list[str]) -> dict[str, str]:
        """A private Wireshark configuration with ``lines`` as the IKEv2 decryption table;
        the environment for tshark to use it."""
        conf = Path(self.path + ".wireshark")
        (conf / "wireshark").mkdir(parents=True, exist_ok=True)
        (conf / "wireshark" / "ikev2_decryption_table").write_text(
            "".join(l + "\n" for l in lines))
        return dict(os.environ, XDG_CONFIG_HOME=str(conf), HOME=str(conf))

    def _tshark_keyed(self, lines: list[str], extra: list[str]) -> subprocess.CompletedProcess:
        if not os.path.exists(self.path):
            raise CaptureError(f"capture file {self.path} does not exist")
        argv = [TSHARK, "-n", "-r", self.path] + extra
        res = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                             env=self._wsconf(lines))
        if res.returncode != 0:
            raise CaptureError(f"{' '.join(argv)} failed rc {res.returncode}: {res.stderr}")
        return res

    @staticmethod
    def _table_error(stderr: str) -> str:
        return "\n".join(l for l in stderr.splitlines() if "Error loading table" in l)

    def key_table(self, keylog) -> tuple[list[str], list[str]]:
        """The lines of ``keylog`` (every line: SAs rekeyed later have their own SPIs) that
        tshark accepts, and those left out because their cipher is one tshark cannot use
        (TSHARK_CANNOT_DECRYPT, and only if tshark refuses it). Any other refusal raises."""
        text = Path(keylog).read_text()
        lines = list(dict.fromkeys(l.strip() for l in text.splitlines() if l.strip()))
        if not lines:
            raise CaptureError(f"key log {keylog} is empty")
        res = self._tshark_keyed(lines, ["-c", "1", "-T", "fields", "-e", "frame.number"])
        err = self._table_error(res.stderr)
        if not err:
            return lines, []
        keep = [l for l in lines if not any(f'"{c}"' in l for c in TSHARK_CANNOT_DECRYPT)]
        left = [l for l in lines if l not in keep]
        if not left or not any(c in err for c in TSHARK_CANNOT_DECRYPT):
            raise CaptureError(f"tshark refuses the key table {keylog}: {err}")
        if keep:
            err2 = self._table_error(self._tshark_keyed(keep, ["-c", "1", "-T", "fields", "-e",
                                                               "frame.number"]).stderr)
            if err2:
                raise CaptureError(f"tshark refuses the key table {keylog}: {err2}")
        return keep, left

    def messages(self, keylog=None) -> tuple[list[IkeMessage], list[str]]:
        """Every frame of the capture through tshark's PDML (with the key table of
        ``keylog`` if given): the IKE messages, and the problems found (frames that are not
        IKEv2, malformed ones, expert items not in EXPERT_OK)."""
        return self._messages(self.key_table(keylog)[0] if keylog is not None else [])

    def _messages(self, lines: list[str]) -> tuple[list[IkeMessage], list[str]]:
        res = self._tshark_keyed(lines, ["-T", "pdml"])
        if lines and self._table_error(res.stderr):
            raise CaptureError(f"tshark refuses the key table: {res.stderr}")
        msgs: list[IkeMessage] = []
        problems: list[str] = []
        for pkt in ET.fromstring(res.stdout).iter("packet"):
            num = _field(pkt, "num")
            frame = int(num.get("show")) if num is not None else -1
            src, dst = (_field(pkt, "ip.src"), _field(pkt, "ip.dst"))
            src = src.get("show") if src is not None else "?"
            dst = dst.get("show") if dst is not None else "?"
            ports = [_field(pkt, "udp.srcport"), _field(pkt, "udp.dstport")]
            ports = tuple(int(p.get("show")) if p is not None else 0 for p in ports)
            for el in pkt.iter():
                if el.get("name") == "_ws.malformed" and el.tag == "proto":
                    problems.append(f"frame {frame}: malformed ({el.get('showname')})")
                    break
            for ex in pkt.iter():
                if ex.get("name") != "_ws.expert":
                    continue
                sev = _field(ex, "_ws.expert.severity")
                sev = int(sev.get("show")) if sev is not None else 0
                msg = _field(ex, "_ws.expert.message")
                msg = msg.get("show") if msg is not None else ex.get("showname", "")
                if not any(sev == s and re.search(rx, msg) for s, rx in EXPERT_OK):
                    problems.append(f"frame {frame}: expert {SEVERITY.get(sev, hex(sev))}: "
                                    f"{msg}")
            protos = [p for p in pkt if p.tag == "proto" and p.get("name") == "isakmp"]
            if len(protos) != 1:
                problems.append(f"frame {frame} {src} -> {dst}: {len(protos)} isakmp layers "
                                "(not one IKE message)")
                continue
            msgs.append(self._message(protos[0], frame, (src, ports[0]), (dst, ports[1]),
                                      problems))
        return msgs, problems

    @staticmethod
    def _message(isakmp, frame: int, src: tuple[str, int], dst: tuple[str, int],
                 problems: list[str]) -> IkeMessage:
        def show(name: str, default: str = "") -> str:
            f = _field(isakmp, name)
            return f.get("show") if f is not None else default

        ver = show("isakmp.version")
        if ver != "0x20":
            problems.append(f"frame {frame}: version {ver!r}, not IKEv2 (RFC 7296 3.1)")
        et = show("isakmp.exchangetype")
        m = IkeMessage(frame=frame, src=src[0], dst=dst[0], sport=src[1], dport=dst[1],
                       exchange=EXCHANGE.get(int(et), et) if et.isdigit() else "?",
                       initiator=show("isakmp.flag_i") in ("1", "True"),
                       response=show("isakmp.flag_r") in ("1", "True"),
                       spi_i=(_field(isakmp, "isakmp.ispi").get("value")
                              if _field(isakmp, "isakmp.ispi") is not None else ""),
                       spi_r=(_field(isakmp, "isakmp.rspi").get("value")
                              if _field(isakmp, "isakmp.rspi") is not None else ""),
                       msgid=int(show("isakmp.messageid", "-1"), 0),
                       payloads=[], notifies=[])
        for pl in _children(isakmp, "isakmp.typepayload"):
            pt = int(pl.get("show"))
            m.payloads.append(pt)
            if pt == PT_NOTIFY and (n := _notify(pl)):
                m.notifies.append(n)
            if pt not in (PT_SK, PT_SKF):
                continue
            m.sk += 1
            data = _field(pl, "isakmp.enc.data")
            if data is not None:
                mm = re.search(r"<(.*)>", data.get("showname", ""))
                m.encr = mm.group(1) if mm else ""
            icd = _field(pl, "isakmp.enc.icd")
            if icd is not None:
                mm = re.search(r"\[([^]]*)\]\s*$", icd.get("showname", ""))
                m.integrity.append(mm.group(1) if mm else "no verdict")
            dec = _field(pl, "isakmp.enc.decrypted")
            if dec is None:
                continue
            m.decrypted += 1
            for cont in _children(dec, "isakmp.enc.contained"):
                for ipl in _children(cont, "isakmp.typepayload"):
                    ipt = int(ipl.get("show"))
                    m.inner.append(ipt)
                    if ipt == PT_NOTIFY and (n := _notify(ipl)):
                        m.notifies.append(n)
        if m.exchange not in EXCHANGE.values():
            problems.append(f"{m}: exchange type {et!r} not decoded")
        return m

    def check_decrypted(self, keylog, allow_undecryptable: bool = False) -> dict[str, int]:
        """tshark with the key table of ``keylog`` must show every captured frame as an
        IKEv2 message with its exchange type, nothing malformed, no expert item (EXPERT_OK
        aside), and in every message after IKE_SA_INIT exactly one Encrypted payload,
        decrypted, its Integrity Checksum Data "[correct]" (RFC 7296 3.14; for the AEADs of
        RFC 5282 the ICV). IKE_SA_INIT messages must carry none (they are not protected).
        Messages of SAs whose cipher tshark cannot use (TSHARK_CANNOT_DECRYPT) are counted
        as "undecryptable" and fail unless ``allow_undecryptable``.

        Returns the number of messages per exchange type and "messages", "encrypted",
        "decrypted", "undecryptable". Raises CaptureError listing what is wrong."""
        keep, left = self.key_table(keylog)
        left_spis = {tuple(l.split(",")[:2]) for l in left}
        msgs, problems = self._messages(keep)
        self.last_messages = msgs
        counts = {name: 0 for name in EXCHANGE.values()}
        counts.update(messages=len(msgs), encrypted=0, decrypted=0, undecryptable=0)
        for m in msgs:
            counts[m.exchange] = counts.get(m.exchange, 0) + 1
            if m.exchange == "IKE_SA_INIT":
                if m.sk:
                    problems.append(f"{m}: Encrypted payload in IKE_SA_INIT")
                continue
            counts["encrypted"] += 1
            if m.sk != 1:
                problems.append(f"{m}: {m.sk} Encrypted payloads (RFC 7296 3.14: one, last)")
                continue
            if (m.spi_i, m.spi_r) in left_spis and not m.decrypted:
                counts["undecryptable"] += 1
                if not allow_undecryptable:
                    problems.append(f"{m}: cipher of this SA not supported by tshark")
                continue
            if m.decrypted != 1:
                problems.append(f"{m}: Encrypted payload not decrypted (no key line for "
                                f"{m.spi_i},{m.spi_r}?)")
            elif m.integrity != ["correct"]:
                problems.append(f"{m}: integrity {m.integrity}, not [correct]")
            elif not m.inner and m.exchange != "INFORMATIONAL":
                # only an INFORMATIONAL may be empty (liveness check, RFC 7296 1.4)
                problems.append(f"{m}: decrypted, but no payload inside")
            else:
                counts["decrypted"] += 1
        if not msgs:
            problems.append("no IKE message captured")
        if problems:
            raise CaptureError(f"tshark on {self.path} with keys {keylog}:\n  "
                               + "\n  ".join(problems[:60]))
        return counts

    def check_tampered(self, keylog, key: str) -> str:
        """check_decrypted with one bit of ``key`` flipped (tamper_keylog) must fail; returns
        its complaints, raises CaptureError if it passed."""
        bad = tamper_keylog(keylog, self.path + f".tampered-{key}", key)
        try:
            got = self.check_decrypted(bad)
        except CaptureError as e:
            return str(e)
        raise CaptureError(f"check_decrypted passed with {key} tampered in {bad}: {got}")


def summarize(counts: dict[str, int]) -> str:
    """check_decrypted's counts in one line for the result(...) lines."""
    if counts["undecryptable"]:
        sk = (f"{counts['undecryptable']} SK payloads decoded, not decrypted "
              "(ChaCha20-Poly1305: tshark 4.0 cannot)")
    else:
        sk = (f"{counts['decrypted']}/{counts['encrypted']} SK payloads decrypted, "
              "integrity correct")
    return ", ".join(f"{n} {counts[n]}" for n in EXCHANGE.values() if counts[n]) + f"; {sk}"


# key table fields (ike/keylog.h): SPIi, SPIr, SK_ei, SK_er, cipher, SK_ai, SK_ar, integrity
KEYLOG_FIELDS = ("spi_i", "spi_r", "sk_ei", "sk_er", "encr", "sk_ai", "sk_ar", "integ")


def tamper_keylog(keylog, out, key: str = "sk_ei") -> Path:
    """A copy of ``keylog`` with one bit flipped in field ``key`` (KEYLOG_FIELDS) of every
    line: check_decrypted must then fail (the self-check that it can)."""
    i = KEYLOG_FIELDS.index(key)
    lines = []
    for line in Path(keylog).read_text().splitlines():
        f = line.strip().split(",")
        if len(f) != len(KEYLOG_FIELDS) or not f[i]:
            raise ValueError(f"{keylog}: no {key} to tamper with in {line!r}")
        pos = len(f[i]) // 2 if i > 1 else 15        # an SPI: its last digit
        f[i] = f[i][:pos] + format(int(f[i][pos], 16) ^ 1, "x") + f[i][pos + 1:]
        lines.append(",".join(f))
    Path(out).write_text("".join(l + "\n" for l in lines))
    return Path(out)
