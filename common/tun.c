/* TUN devices: see tun.h. No logging here. */
#include "common/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Copy ifname into ifr; -EINVAL when it does not fit (the kernel would truncate silently and
 * act on another interface). */
static int ifreq_name(struct ifreq *ifr, const char *ifname)
{
	size_t len = ifname ? strlen(ifname) : 0;

	if (len >= IFNAMSIZ)
		return -EINVAL;
	memset(ifr, 0, sizeof(*ifr));
	if (len)
		memcpy(ifr->ifr_name, ifname, len);
	return 0;
}

int tun_open(const char *name, char out_name[IFNAMSIZ], unsigned flags)
{
	struct ifreq ifr;
	int rc = ifreq_name(&ifr, name);

	if (rc)
		return rc;
	if (flags & ~(TUN_OPEN_MULTI_QUEUE | TUN_OPEN_TAP))
		return -EINVAL;
	ifr.ifr_flags = ((flags & TUN_OPEN_TAP) ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
	if (flags & TUN_OPEN_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;

	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (out_name) {
		memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
		out_name[IFNAMSIZ - 1] = '\0';
	}
	return fd;
}

/* Interface ioctls need some socket; a throwaway AF_INET datagram socket is the cheapest. */
static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int tun_set_mtu(const char *ifname, int mtu)
{
	struct ifreq ifr;
	int rc = ifreq_name(&ifr, ifname);

	if (rc)
		return rc;
	if (!ifname || !ifname[0] || mtu <= 0)
		return -EINVAL;
	ifr.ifr_mtu = mtu;
	return ifreq_ioctl(SIOCSIFMTU, &ifr);
}

int tun_set_up(const char *ifname)
{
	struct ifreq ifr;
	int rc = ifreq_name(&ifr, ifname);

	if (rc)
		return rc;
	if (!ifname || !ifname[0])
		return -EINVAL;
	/* Read-modify-write: SIOCSIFFLAGS sets every flag, so start from the current ones. */
	rc = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc)
		return rc;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}
