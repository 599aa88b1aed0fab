#!/usr/bin/python3
"""Cross-check whole IKEv2 exchanges of ike/engine.c against Wireshark's isakmp dissector,
with decryption.

Usage: tshark_decrypt.py TEST_ENGINE_DUMP [WORKDIR]

Runs `TEST_ENGINE_DUMP DIR` (ike/test_engine_dump.c), which writes the datagrams two engines
exchanged (wire.txt) and their KEYLOG lines (keys.txt, Wireshark's ikev2_decryption_table
format, ike/keylog.h). Wraps the datagrams in IPv4/UDP (port 4500 with the four-octet non-ESP
marker, RFC 3948 2.2) in a pcap, puts keys.txt as the ikev2_decryption_table UAT file into a
private Wireshark configuration directory (XDG_CONFIG_HOME), and requires of tshark:
  - no frame with a malformed or expert-info item (-Y '_ws.expert || _ws.malformed');
  - every message decodes as IKEv2 with its exchange type;
  - every Encrypted payload is decrypted ("Decrypted Data" with the inner payloads) and its
    integrity shown as correct ("[correct]" on the Integrity Checksum Data);
  - the inner payloads expected for each kind of message (IDi/AUTH/SA/TS in IKE_AUTH, Nonce
    and KE in CREATE_CHILD_SA, Delete in INFORMATIONAL ...);
  - MOBIKE (RFC 4555): every notify type the engine sends named by tshark; each
    UPDATE_SA_ADDRESSES request with both NAT_DETECTION_* and a COOKIE2 that its response
    echoes (3.5, 3.7); NO_NATS_ALLOWED naming the datagram's own addresses and ports exactly
    when the response is not UNEXPECTED_NAT_DETECTED (3.9).
Prints TAP. Exits 77 (meson: skipped) when tshark is not installed.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def ipv4_udp(src, sport, dst, dport, payload, ident):
    """An IPv4 datagram carrying payload in UDP, both checksums computed."""
    udp_len = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident & 0xFFFF, 0, 64, 17, 0,
                      src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)


EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("tshark"):
        print("1..0 # SKIP tshark not installed")
        return 77
    exe = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="ike-tshark-engine-")
    dump = os.path.join(work, "dump")
    conf = os.path.join(work, "config")
    os.makedirs(dump, exist_ok=True)
    os.makedirs(os.path.join(conf, "wireshark"), exist_ok=True)
    subprocess.run([exe, dump], check=True)

    n = 0
    failed = 0

    def check(ok, what, detail=None):
        nonlocal n, failed
        n += 1
        if not ok:
            failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
        if not ok and detail:
            for line in detail:
                print("# " + line)

    msgs = []
    with open(os.path.join(dump, "wire.txt")) as f:
        for line in f:
            src, sport, dst, dport, data = line.split()
            msgs.append((src, int(sport), dst, int(dport), bytes.fromhex(data)))
    with open(os.path.join(dump, "keys.txt")) as f:
        keys = [l.strip() for l in f if l.strip()]
    check(len(msgs) >= 20, "%d datagrams dumped" % len(msgs))
    check(len(keys) >= 3, "%d key log lines" % len(keys))
    # The UAT file, exactly the KEYLOG lines (ike/keylog.h).
    with open(os.path.join(conf, "wireshark", "ikev2_decryption_table"), "w") as f:
        for k in keys:
            f.write(k + "\n")

    frames = []
    for i, (src, sport, dst, dport, data) in enumerate(msgs):
        payload = (b"\0\0\0\0" + data) if 4500 in (sport, dport) else data
        frames.append(ipv4_udp(ip4(src), sport, ip4(dst), dport, payload, i + 1))
    pcap = os.path.join(work, "engine.pcap")
    write_pcap(pcap, frames)

    env = dict(os.environ, XDG_CONFIG_HOME=conf, HOME=work)

    def tshark(*args):
        r = subprocess.run(["tshark", "-n", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, check=False)
        if r.returncode != 0:
            raise RuntimeError("tshark %s failed: %s" % (" ".join(args), r.stderr))
        return r.stdout

    flagged = tshark("-r", pcap, "-Y", "_ws.expert || _ws.malformed", "-V")
    check(flagged.strip() == "", "no frame with malformed or expert-info items",
          flagged.splitlines()[:80])

    full = tshark("-r", pcap, "-V")
    per_frame = {}
    current = None
    for line in full.splitlines():
        if line.startswith("Frame "):
            current = int(line.split()[1].rstrip(":")) - 1
            per_frame[current] = []
        if current is not None:
            per_frame[current].append(line.strip())

    encrypted = 0
    for i, (src, sport, dst, dport, data) in enumerate(msgs):
        lines = per_frame.get(i, [])
        text = "\n".join(lines)
        exch = data[18]
        resp = bool(data[19] & 0x20)
        name = "%d %s %s %s:%d->%s:%d" % (i + 1, EXCHANGES.get(exch, str(exch)),
                                           "response" if resp else "request", src, sport,
                                           dst, dport)
        check("Exchange type: %s (%d)" % (EXCHANGES.get(exch, "?"), exch) in text,
              "%s: decoded as IKEv2" % name, lines)
        if exch == 34:
            continue
        encrypted += 1
        check("Decrypted Data" in text, "%s: SK decrypted" % name, lines)
        icd = [l for l in lines if l.startswith("Integrity Checksum Data")]
        check(len(icd) == 1 and "[correct]" in icd[0], "%s: integrity correct" % name, lines)
        want = []
        if exch == 35 and not resp:
            want = ["Payload: Identification - Initiator (35)", "Payload: Authentication (39)",
                    "Payload: Configuration (47)", "Payload: Security Association (33)",
                    "Payload: Traffic Selector - Initiator (44)",
                    "Payload: Traffic Selector - Responder (45)",
                    "Notify Message Type: INITIAL_CONTACT (16384)"]
        elif exch == 35:
            want = ["Payload: Identification - Responder (36)", "Payload: Authentication (39)",
                    "Type: CFG_REPLY (2)", "INTERNAL IP4 ADDRESS: 198.18.100.10",
                    "Payload: Traffic Selector - Initiator (44)"]
        elif exch == 36:
            want = ["Payload: Security Association (33)", "Payload: Nonce (40)"]
            # KE: always in an IKE SA rekey (1.3.2), and with PFS in the first run.
            if "Protocol ID: IKE (1)" in text or i < 16:
                want.append("Payload: Key Exchange (34)")
        for w in want:
            check(w in text, "%s: shows '%s'" % (name, w), lines)
    check(encrypted >= 15, "%d encrypted messages checked" % encrypted)
    # The kinds of INFORMATIONAL we sent: Child SA delete, IKE SA delete, liveness check.
    check("Protocol ID: ESP (3)" in full and "Protocol ID: IKE (1)" in full,
          "Delete payloads for ESP and IKE decoded")
    check("Notify Message Type: REKEY_SA (16393)" in full, "REKEY_SA decoded")
    check(full.count("Payload: Key Exchange (34)") >= 8, "KE payloads decoded")

    # MOBIKE (RFC 4555 4): the notify types, named.
    for t in ["MOBIKE_SUPPORTED (16396)", "ADDITIONAL_IP4_ADDRESS (16397)",
              "NO_ADDITIONAL_ADDRESSES (16399)", "UPDATE_SA_ADDRESSES (16400)",
              "COOKIE2 (16401)", "NO_NATS_ALLOWED (16402)", "UNACCEPTABLE_ADDRESSES (40)",
              "UNEXPECTED_NAT_DETECTED (41)"]:
        check("Notify Message Type: " + t in full, "MOBIKE: %s decoded" % t)

    def notify_data(lines, name):
        """The Notification DATA (hex) of each notify of that type in a frame."""
        out = []
        for k, l in enumerate(lines):
            if l.startswith("Notify Message Type: " + name + " ("):
                for m in lines[k + 1:k + 4]:
                    if m.startswith("Notification DATA: "):
                        out.append(m.split(": ", 1)[1])
                        break
        return out

    def response_to(i):
        """Index of the response to request frame i (same SPIs and Message ID)."""
        d = msgs[i][4]
        for j in range(i + 1, len(msgs)):
            e = msgs[j][4]
            if e[:16] == d[:16] and e[20:24] == d[20:24] and e[19] & 0x20:
                return j
        return None

    updates = 0
    for i, (src, sport, dst, dport, data) in enumerate(msgs):
        lines = per_frame.get(i, [])
        if data[18] != 37 or data[19] & 0x20 or not notify_data(lines, "UPDATE_SA_ADDRESSES"):
            continue
        updates += 1
        name = "frame %d UPDATE_SA_ADDRESSES %s:%d->%s:%d" % (i + 1, src, sport, dst, dport)
        cookie = notify_data(lines, "COOKIE2")
        check(len(notify_data(lines, "NAT_DETECTION_SOURCE_IP")) == 1 and
              len(notify_data(lines, "NAT_DETECTION_DESTINATION_IP")) == 1 and len(cookie) == 1,
              "%s: NAT_DETECTION_* and COOKIE2" % name, lines)
        j = response_to(i)
        rlines = per_frame.get(j, []) if j is not None else []
        check(j is not None and notify_data(rlines, "COOKIE2") == cookie,
              "%s: the response echoes COOKIE2" % name, rlines)
        nn = notify_data(lines, "NO_NATS_ALLOWED")
        if nn:
            want = ip4(src).hex() + ip4(dst).hex() + "%04x%04x" % (sport, dport)
            refused = "UNEXPECTED_NAT_DETECTED (41)" in "\n".join(rlines)
            check((nn[0] == want) != refused,
                  "%s: NO_NATS_ALLOWED %s %s the IP header, response %s" %
                  (name, nn[0], "matches" if nn[0] == want else "does not match",
                   "UNEXPECTED_NAT_DETECTED" if refused else "not UNEXPECTED_NAT_DETECTED"),
                  rlines)
    check(updates >= 4, "%d UPDATE_SA_ADDRESSES requests checked" % updates)
    # 3.7: the return routability checks: COOKIE2 alone, echoed.
    rr = 0
    for i, (src, sport, dst, dport, data) in enumerate(msgs):
        lines = per_frame.get(i, [])
        if data[18] != 37 or data[19] & 0x20 or notify_data(lines, "UPDATE_SA_ADDRESSES"):
            continue
        cookie = notify_data(lines, "COOKIE2")
        if not cookie:
            continue
        rr += 1
        j = response_to(i)
        rlines = per_frame.get(j, []) if j is not None else []
        check(j is not None and notify_data(rlines, "COOKIE2") == cookie and
              (src, sport) == (msgs[j][2], msgs[j][3]),
              "frame %d COOKIE2 check %s:%d->%s:%d: echoed from the address checked" %
              (i + 1, src, sport, dst, dport), rlines)
    check(rr >= 1, "%d return routability checks" % rr)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
