#!/usr/bin/python3
"""Cross-check the IKEv2 encoder against an independent decoder: Wireshark's isakmp dissector.

Usage: tshark_check.py TEST_MESSAGES [WORKDIR]

Runs `TEST_MESSAGES --dump DIR`, which writes IKE messages built with ike/msg.c and the payload
encoders (one file per message, see `messages` in ike/test_messages.c), wraps each in
IPv4/UDP port 500 (RFC 7296 3.1) in a pcap file (linktype 228, LINKTYPE_IPV4), and runs tshark:
  - `tshark -r FILE -Y '_ws.expert || _ws.malformed'` must print nothing: no frame carries a
    malformed or expert-info item;
  - `tshark -r FILE -V` must show, for each message, the payloads and values listed in EXPECT.
Prints TAP. Exits 77 (meson: skipped) when tshark is not installed.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

# Per message: strings that tshark -V must show in that frame's decode. They name what the
# C code put there (payload types, notify types, transform IDs, lengths), as Wireshark
# prints it.
EXPECT = {
    "01-sa-init-request": [
        "Exchange type: IKE_SA_INIT (34)",
        "Payload: Security Association (33)",
        "Proposal number: 1", "Proposal number: 2",
        "Transform ID (ENCR): AES-GCM with a 16 octet ICV (20)",
        "Transform ID (ENCR): ENCR_AES_CBC (12)",
        "Transform ID (PRF): PRF_HMAC_SHA2_256 (5)",
        "Transform ID (D-H): 256-bit random ECP group (19)",
        "Key Length: 256", "Key Length: 128",
        "Payload: Key Exchange (34)",
        "DH Group #: 256-bit random ECP group (19)",
        "Transform ID (INTEG): AUTH_HMAC_SHA2_256_128 (12)",
        "Payload: Nonce (40)",
        "Notify Message Type: NAT_DETECTION_SOURCE_IP (16388)",
        "Notify Message Type: NAT_DETECTION_DESTINATION_IP (16389)",
        "Notify Message Type: IKEV2_FRAGMENTATION_SUPPORTED (16430)",
        "Notify Message Type: SIGNATURE_HASH_ALGORITHMS (16431)",
        "Supported Signature Hash Algorithm: SHA2-256 (2)",
        "Supported Signature Hash Algorithm: SHA2-512 (4)",
        "Notify Message Type: REDIRECT_SUPPORTED (16406)",
        "Payload: Vendor ID (43)",
    ],
    "02-sa-init-response": [
        "Exchange type: IKE_SA_INIT (34)",
        ".... 0... = Initiator: Responder",
        "..1. .... = Response: Response",
        "Payload: Security Association (33)",
        "Payload: Certificate Request (38)",
        "Certificate Type: X.509 Certificate - Signature (4)",
        "Notify Message Type: NAT_DETECTION_SOURCE_IP (16388)",
    ],
    "03-sa-init-cookie": [
        "Notify Message Type: COOKIE (16390)",
    ],
    "04-sa-init-invalid-ke": [
        "Notify Message Type: INVALID_KE_PAYLOAD (17)",
        "Accepted DH group number: Curve25519 (31)",
    ],
    "05-auth-request": [
        "Exchange type: IKE_AUTH (35)",
        "Payload: Encrypted and Authenticated (46)",
        "Next payload: Identification - Initiator (35)",
    ],
    "06-auth-response": [
        "Exchange type: IKE_AUTH (35)",
        "Payload: Encrypted and Authenticated (46)",
        "Next payload: Identification - Responder (36)",
    ],
    "07-info-mobike-update": [
        "Exchange type: INFORMATIONAL (37)",
        "Next payload: Notify (41)",
    ],
    "08-info-delete": [
        "Exchange type: INFORMATIONAL (37)",
        "Next payload: Delete (42)",
    ],
    "09-child-rekey": [
        "Exchange type: CREATE_CHILD_SA (36)",
        "Next payload: Notify (41)",
    ],
    "10-auth-fragment": [
        "Payload: Encrypted and Authenticated Fragment (53)",
        "Fragment Number: 1",
        "Total Fragments: 2",
    ],
    "11-payload-zoo": [
        "Protocol ID: ESP (3)",
        "SPI: 01020304",
        "Transform ID (ENCR): ENCR_CHACHA20_POLY1305 (28)",
        "Transform ID (ESN): Extended Sequence Numbers (1)",
        "DH Group #: 2048 bit MODP group (14)",
        "ID type: IPV4_ADDR (1)",
        "Identification Data:192.0.2.7",
        "ID type: DER_ASN1_DN (9)",
        "id-at-commonName=vpn",
        "Certificate Encoding: Hash and URL of X.509 certificate (12)",
        "URL: http://example.com/ca.der/",
        "Payload: Certificate Request (38)",
        "Authentication Method: Digital Signature (14)",
        "OID: 1.2.840.113549.1.1.11 (sha256WithRSAEncryption)",
        "ASN.1 Length: 15",
        "Notify Message Type: REKEY_SA (16393)",
        "Notify Message Type: NO_NATS_ALLOWED (16402)",
        "Payload: Delete (42)",
        "Protocol ID: IKE (1)",
        "Payload: Traffic Selector - Initiator (44)",
        "Number of Traffic Selectors: 2",
        "Traffic Selector Type: TS_IPV4_ADDR_RANGE (7)",
        "Start Port: 80", "End Port: 443",
        "Starting Addr: 10.0.0.0", "Ending Addr: 10.0.0.255",
        "Payload: Traffic Selector - Responder (45)",
        "Traffic Selector Type: TS_IPV6_ADDR_RANGE (8)",
        "Starting Addr: 2001:db8::",
        "Ending Addr: 2001:db8:0:ff::",
        "Payload: Configuration (47)",
        "Type: CFG_REPLY (2)",
        "INTERNAL_IP4_ADDRESS (1)",
        "INTERNAL IP4 ADDRESS: 10.8.0.2",
        "INTERNAL_IP4_NETMASK (2)",
        "INTERNAL_IP4_DNS (3)",
        "INTERNAL IP4 SUBNET (IP): 10.8.0.0",
        "INTERNAL IP4 SUBNET (NETMASK): 255.255.0.0",
        "Payload: Extensible Authentication (48)",
        "Code: Response (2)",
        "Identity: mn",
        "Payload: Identification - Initiator (35)",
        "Payload: Identification - Responder (36)",
        "Payload: Certificate (37)",
        "Payload: Authentication (39)",
        "Payload: Vendor ID (43)",
        "Payload: Notify (41) - REKEY_SA",
        "Protocol ID: TCP (6)",
        "Start Port: 65535", "End Port: 0",
    ],
}

# Messages whose only payload is SK or SKF.
SK_ONLY = {"05-auth-request", "06-auth-response", "07-info-mobike-update", "08-info-delete",
           "09-child-rekey", "10-auth-fragment"}

SRC = bytes([192, 0, 2, 1])
DST = bytes([198, 51, 100, 1])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(payload, ident):
    """An IPv4 datagram carrying payload in UDP 500 -> 500, both checksums computed."""
    udp_len = 8 + len(payload)
    pseudo = SRC + DST + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", 500, 500, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident, 0, 64, 17, 0, SRC, DST)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def tshark(*args):
    r = subprocess.run(["tshark", "-n", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError("tshark %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("tshark"):
        print("1..0 # SKIP tshark not installed")
        return 77
    exe = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="ike-tshark-")
    msgdir = os.path.join(work, "msgs")
    os.makedirs(msgdir, exist_ok=True)
    for old in os.listdir(msgdir):
        os.unlink(os.path.join(msgdir, old))
    subprocess.run([exe, "--dump", msgdir], check=True)
    names = sorted(n[:-4] for n in os.listdir(msgdir) if n.endswith(".bin"))

    n = 0
    failed = 0

    def check(ok, what):
        nonlocal n, failed
        n += 1
        if not ok:
            failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", n, what))

    check(sorted(EXPECT) == names, "dumped messages are the expected set: %s" % names)
    frames = []
    for i, name in enumerate(names):
        with open(os.path.join(msgdir, name + ".bin"), "rb") as f:
            frames.append(ipv4_udp(f.read(), i + 1))
    pcap = os.path.join(work, "ike.pcap")
    write_pcap(pcap, frames)

    flagged = tshark("-r", pcap, "-Y", "_ws.expert || _ws.malformed", "-V")
    check(flagged.strip() == "", "no frame with malformed or expert-info items")
    if flagged.strip():
        for line in flagged.splitlines():
            print("# " + line)

    full = tshark("-r", pcap, "-V")
    # Split the decode into frames ("Frame N: ..." starts each one).
    per_frame = {}
    current = None
    for line in full.splitlines():
        if line.startswith("Frame "):
            current = int(line.split()[1].rstrip(":")) - 1
            per_frame[current] = []
        if current is not None:
            per_frame[current].append(line.strip())
    for i, name in enumerate(names):
        text = "\n".join(per_frame.get(i, []))
        check("Internet Security Association and Key Management Protocol" in text,
              "%s: decoded as ISAKMP" % name)
        check("Version: 2.0" in text, "%s: version 2.0" % name)
        size = len(frames[i]) - 28
        # The ISAKMP Length line itself (the UDP one says 8 more).
        check("Length: %d" % size in per_frame.get(i, []), "%s: IKE Length %d" % (name, size))
        if name in SK_ONLY:
            # The Encrypted payload is the only one: its length is all after the header.
            check("Payload length: %d" % (size - 28) in text,
                  "%s: SK payload length %d" % (name, size - 28))
        for want in EXPECT.get(name, []):
            ok = want in text
            check(ok, "%s: shows '%s'" % (name, want))
            if not ok:
                for line in per_frame.get(i, []):
                    print("# " + line)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
