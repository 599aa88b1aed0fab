/* Gratuitous ARP over an AF_PACKET datagram socket (the kernel adds the Ethernet header).
 * See garp.h. */
#include "mnd/garp.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int garp_encode(struct writer *w, const uint8_t mac[6], struct in_addr addr)
{
	static const uint8_t zero[6];

	if (writer_room(w) < GARP_LEN)
		return -ENOSPC;
	/* RFC 826: hardware type Ethernet, protocol IPv4, lengths 6 and 4, op Request. A
	 * gratuitous Request (RFC 5944 §4.6) has sender = target protocol address = the
	 * address to update; the target hardware address is unused (zero). */
	writer_be16(w, ARPHRD_ETHER);
	writer_be16(w, ETH_P_IP);
	writer_u8(w, 6);
	writer_u8(w, 4);
	writer_be16(w, ARPOP_REQUEST);
	writer_bytes(w, mac, 6);
	writer_bytes(w, &addr.s_addr, 4);
	writer_bytes(w, zero, 6);
	writer_bytes(w, &addr.s_addr, 4);
	return writer_ok(w) ? GARP_LEN : -ENOSPC;
}

int garp_send(const char *ifname, struct in_addr addr)
{
	struct sockaddr_ll to;
	struct ifreq ifr;
	uint8_t frame[GARP_LEN];
	uint8_t mac[6];
	struct writer w;
	int fd, rc = 0;

	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_ARP);
	to.sll_ifindex = ifr.ifr_ifindex;
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6); /* §4.6: "MUST be transmitted as a local broadcast" */
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	writer_init(&w, frame, sizeof(frame));
	rc = garp_encode(&w, mac, addr);
	if (rc < 0)
		goto out;
	if (sendto(fd, frame, writer_len(&w), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		rc = -errno;
	else
		rc = 0;
out:
	close(fd);
	return rc;
}
