/* Gratuitous ARP over AF_PACKET. See garp.h. */
#include "ha/garp.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int garp_encode(struct writer *w, struct in_addr ip, const uint8_t mac[6])
{
	if (writer_room(w) < GARP_LEN)
		return -ENOSPC;
	writer_be16(w, ARPHRD_ETHER);    /* hardware type */
	writer_be16(w, ETH_P_IP);        /* protocol type */
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
	memset(to.sll_addr, 0xff, 6);    /* §4.6: "transmitted as a local broadcast" */
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}
