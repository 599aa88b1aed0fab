/* Gratuitous ARP over an AF_PACKET datagram socket (the kernel adds the Ethernet header).
 * See garp.h. */
#include "common/garp.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int garp_encode(struct writer *w, struct in_addr ip, const uint8_t mac[6])
{
	if (writer_room(w) < GARP_LEN)
		return -ENOSPC;
	/* RFC 826 layout. A gratuitous ARP (RFC 5944 §4.6) has sender protocol address =
	 * target protocol address = the address to update; the target hardware address is
	 * unused in a Request (zero). */
	writer_be16(w, ARPHRD_ETHER);    /* hardware type: Ethernet */
	writer_be16(w, ETH_P_IP);        /* protocol type: IPv4 */
	writer_u8(w, 6);                 /* hardware address length */
	writer_u8(w, 4);                 /* protocol address length */
	writer_be16(w, ARPOP_REQUEST);   /* §4.6: "MAY use either an ARP Request or ... Reply" */
	writer_bytes(w, mac, 6);         /* sender hardware address: where ip now lives */
	writer_be32(w, ntohl(ip.s_addr));/* sender protocol address */
	writer_zeros(w, 6);              /* target hardware address: unused in a Request */
	writer_be32(w, ntohl(ip.s_addr));/* target protocol address = sender's */
	return writer_ok(w) ? GARP_LEN : -ENOSPC;
}

int garp_open(int ifindex)
{
	struct sockaddr_ll sll;
	int fd;

	if (ifindex <= 0)
		return -EINVAL;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Protocol 0: send only, never receive (no copy of every ARP on the link). */
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int garp_send(int fd, int ifindex, struct in_addr ip, const uint8_t mac[6])
{
	uint8_t pkt[GARP_LEN];
	struct sockaddr_ll to;
	struct writer w;

	writer_init(&w, pkt, sizeof(pkt));
	if (garp_encode(&w, ip, mac) < 0)
		return -ENOSPC;
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_ARP);
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6);    /* §4.6: "MUST be transmitted as a local broadcast" */
	if (sendto(fd, pkt, writer_len(&w), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

int garp_announce(const char *ifname, struct in_addr ip)
{
	struct ifreq ifr;
	uint8_t mac[6];
	size_t n;
	int fd, rc, ifindex;

	if (!ifname)
		return -EINVAL;
	n = strlen(ifname);
	if (n == 0 || n >= IFNAMSIZ)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, n);
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ifindex = ifr.ifr_ifindex;   /* ifr is a union: the next ioctl overwrites it */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	close(fd);
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -EOPNOTSUPP;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);

	fd = garp_open(ifindex);
	if (fd < 0)
		return fd;
	rc = garp_send(fd, ifindex, ip, mac);
	close(fd);
	return rc;
}
