/* Thin IPv4 socket helpers for the control plane (UDP 434, 500, 4500) and the user-space data
 * path (UDP encapsulation, raw IP-in-IP).
 *
 * Rules:
 *  - Every socket is non-blocking and close-on-exec.
 *  - Nothing here logs: failures are a negative errno and the caller logs one line.
 *  - Output parameters are left untouched on failure.
 *  - A datagram that did not fit the caller's buffer is reported (-EMSGSIZE, or
 *    sock_batch_slot.truncated) and must be dropped, never parsed: its tail is gone.
 *  - Needs _GNU_SOURCE (struct mmsghdr, struct in_pktinfo); the build defines it.
 */
#ifndef MM_COMMON_SOCK_H
#define MM_COMMON_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* --- opening ------------------------------------------------------------------------- */

/* Option flags for sock_udp4_open() and sock_raw4_open(). */
#define SOCK_F_REUSEADDR (1u << 0) /* SO_REUSEADDR: restart while old sockets linger */
#define SOCK_F_PKTINFO   (1u << 1) /* IP_PKTINFO: learn local/destination address + ifindex */
#define SOCK_F_FREEBIND  (1u << 2) /* IP_FREEBIND: bind an address not (yet) configured */
#define SOCK_F_NO_PMTUD  (1u << 3) /* IP_PMTUDISC_DONT: DF clear, the kernel fragments
                                    * (tunnel outer packets: let the path fragment rather
                                    * than drop on a black-holed ICMP) */
#define SOCK_F_BROADCAST (1u << 4) /* SO_BROADCAST: may send to broadcast addresses */
#define SOCK_F_HDRINCL   (1u << 5) /* raw only: IP_HDRINCL, the caller writes the IP header */

/* A UDP socket, bound to bind_addr when it is not NULL (port 0 = ephemeral; address
 * INADDR_ANY = all local addresses). Accepts SOCK_F_REUSEADDR, PKTINFO, FREEBIND, NO_PMTUD,
 * BROADCAST. Returns the fd or -errno (-EINVAL for an unknown flag or a non-AF_INET
 * bind_addr). */
int sock_udp4_open(const struct sockaddr_in *bind_addr, unsigned flags);

/* A raw IPv4 socket for `protocol` (e.g. IPPROTO_IPIP = 4). Receive always returns the whole
 * IPv4 packet, header included; send takes the payload only, unless SOCK_F_HDRINCL (or
 * protocol IPPROTO_RAW) in which case the caller writes the IPv4 header too. Accepts
 * SOCK_F_PKTINFO, NO_PMTUD, BROADCAST, HDRINCL. Needs CAP_NET_RAW. Returns fd or -errno. */
int sock_raw4_open(int protocol, unsigned flags);

/* SO_BINDTODEVICE: the socket only receives from, and only sends through, ifname; this is
 * what keeps IKE and MIPv4 control traffic on the physical interface and out of a tunnel
 * whatever the routing table says. ifname NULL or "" removes the binding. Works on UDP and
 * raw sockets. -ENODEV for an unknown interface, -EINVAL for a name too long. */
int sock_bind_device(int fd, const char *ifname);

/* Socket buffer sizes in bytes (0 leaves one alone). Data-path sockets take bursts (a
 * recvmmsg batch, a handover replay) that the default ~208 KiB would drop. Uses the FORCE
 * variants (CAP_NET_ADMIN: above net.core.[rw]mem_max) and falls back to the plain options,
 * which the kernel caps. Returns 0 or -errno of the plain option. */
int sock_set_buffers(int fd, int rcvbuf, int sndbuf);
#define SOCK_DATAPATH_BUF (4 * 1024 * 1024)

/* The address and port the socket is bound to (after an ephemeral bind: the port chosen). */
int sock_local4(int fd, struct sockaddr_in *out);

/* --- single datagrams ---------------------------------------------------------------- */

/* Where a received datagram came from and how it arrived. With SOCK_F_PKTINFO unset, only
 * peer is filled (dst, local zero; ifindex 0). */
struct sock_dgram_meta {
	struct sockaddr_in peer; /* sender (port 0 on raw sockets) */
	struct in_addr dst;      /* destination in the IP header: may be broadcast/multicast */
	struct in_addr local;    /* the local address a reply should come from (ipi_spec_dst) */
	int ifindex;             /* interface it arrived on */
};

/* Receive one datagram into buf. Returns its length (0 is a valid empty datagram), -EAGAIN
 * when nothing is pending, -EMSGSIZE when it was longer than cap (or the ancillary data did
 * not fit): that datagram has been consumed and must be dropped. meta may be NULL. */
ssize_t sock_recv4(int fd, void *buf, size_t cap, struct sock_dgram_meta *meta);

/* Send one datagram to `to` (NULL on a connected socket). from (NULL = kernel's choice) picks the source address, which
 * must be local (else -ENETUNREACH; -EINVAL on older kernels); ifindex (0 = routing decides)
 * the outgoing interface. Both go in one IP_PKTINFO control message. Returns len or -errno
 * (-EAGAIN: socket buffer full). ifindex < 0 is -EINVAL. */
ssize_t sock_send4(int fd, const void *buf, size_t len, const struct sockaddr_in *to,
		   const struct in_addr *from, int ifindex);

/* --- batches (recvmmsg / sendmmsg) --------------------------------------------------- */

#define SOCK_BATCH_MAX 64

/* Room for one IP_PKTINFO control message, plus slack so a socket option we did not ask for
 * cannot truncate it away. */
#define SOCK_CMSG_SPACE (CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int)) * 2)

struct sock_batch_slot {
	uint8_t *data;               /* recv: this slot's part of the caller's bufs;
	                              * send: the bytes to send (may point anywhere) */
	size_t len;                  /* recv: datagram length; send: bytes to send */
	bool truncated;              /* recv: longer than bufsize: drop it */
	struct sock_dgram_meta meta; /* recv: as sock_recv4(); send: peer = destination,
	                              * local = source (INADDR_ANY: kernel's choice),
	                              * ifindex (0: routing decides); dst is ignored */
};

/* All the kernel-facing arrays live inside, so a batch allocates nothing per packet or per
 * call. About 14 KiB: embed it in a long-lived object rather than on a small stack. */
struct sock_batch {
	unsigned nslots;  /* slots in use, 1..SOCK_BATCH_MAX */
	unsigned count;   /* recv: slots filled by the last call; send: slots to send */
	size_t bufsize;   /* bytes per slot in bufs */
	uint8_t *bufs;    /* caller's storage, nslots * bufsize bytes */
	struct sock_batch_slot slot[SOCK_BATCH_MAX];

	/* private */
	struct mmsghdr msg_[SOCK_BATCH_MAX];
	struct iovec iov_[SOCK_BATCH_MAX];
	struct sockaddr_in addr_[SOCK_BATCH_MAX];
	union {
		struct cmsghdr align;
		uint8_t buf[SOCK_CMSG_SPACE];
	} cmsg_[SOCK_BATCH_MAX];
};

/* Bind a batch to the caller's bufs (nslots * bufsize bytes, kept alive by the caller):
 * slot i receives into bufs + i * bufsize. -EINVAL if nslots is 0 or > SOCK_BATCH_MAX, bufsize
 * is 0, or bufs is NULL. */
int sock_batch_init(struct sock_batch *b, void *bufs, unsigned nslots, size_t bufsize);

/* Receive up to nslots datagrams in one system call; fills slot[0..count) and count. Returns
 * count (>= 1), -EAGAIN when nothing is pending, or -errno. Each slot's data is reset to its
 * own buffer first, so a send batch may be built in the same slots after a receive. */
int sock_recv4_batch(int fd, struct sock_batch *b);

/* Send slot[first..count) in one system call. Returns how many were sent (>= 1); the caller
 * resumes at first + that. Returns -errno when slot[first] itself could not be sent: -EAGAIN
 * means the socket buffer is full (wait for POLLOUT or drop); any other error belongs to
 * slot[first] alone, so skip that slot. -EINVAL if first >= count or count > nslots. */
int sock_send4_batch(int fd, struct sock_batch *b, unsigned first);

/* --- addresses ----------------------------------------------------------------------- */

#define ADDR4_STRLEN 16 /* "255.255.255.255" + NUL */

/* Strict dotted quad: exactly four decimal fields 0..255, digits only, no sign, no
 * whitespace, no leading zero ("01.2.3.4" is rejected: inet_aton would read it as octal,
 * so it means different things to different tools). Returns 0 or -EINVAL. */
int addr4_parse(const char *s, struct in_addr *out);

/* "a.b.c.d/len", len 0..32 in decimal without leading zeros; the "/len" is required.
 * Returns 0 when the address has no bits set beyond len, 1 when it has (an interface
 * address such as "198.18.5.1/24"): *net is then the address as written, and a caller that
 * wants a route or a network applies prefix4_network(). -EINVAL for anything else. A caller
 * that treats any non-zero return as an error gets strict network parsing. */
int prefix4_parse(const char *s, struct in_addr *net, unsigned *plen);

/* Netmask for plen (0..32; larger values give /32). */
struct in_addr prefix4_mask(unsigned plen);
/* a with the host bits cleared. */
struct in_addr prefix4_network(struct in_addr a, unsigned plen);
/* True when a lies in net/plen (host bits of net are ignored). False for plen > 32. */
bool prefix4_contains(struct in_addr net, unsigned plen, struct in_addr a);

/* Dotted quad of a into buf; returns buf, so it can be used directly in a format argument. */
const char *addr4_str(struct in_addr a, char buf[static ADDR4_STRLEN]);

#endif
