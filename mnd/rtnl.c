/* Rules and a route query over rtnetlink (see rtnl.h). The messages are the kernel's own
 * in-memory layout (host byte order, struct fib_rule_hdr / rtmsg, NLA attributes), not
 * wire data. */
#include "mnd/rtnl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Both struct fib_rule_hdr and struct rtmsg are 12 bytes, so the attributes start at the
 * same place for both requests. */
struct rtnl_req {
	struct nlmsghdr nh;
	union {
		struct fib_rule_hdr frh;
		struct rtmsg rtm;
	} u;
	uint8_t attrs[64];
};

static void put_attr(struct rtnl_req *r, size_t *off, unsigned short type, const void *data,
		     unsigned short len)
{
	struct rtattr rta;

	rta.rta_type = type;
	rta.rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(r->attrs + *off, &rta, sizeof(rta));
	memcpy(r->attrs + *off + RTA_LENGTH(0), data, len);
	*off += RTA_SPACE(len);
}

static uint32_t next_seq(void)
{
	static uint32_t seq;

	return ++seq;
}

/* Send req, wait for the answer with its sequence number. An NLMSG_ERROR gives its error
 * (0 for an ACK); any other answer gives its type (> 0) with the message in *reply. */
static int transact(struct rtnl_req *req, struct nlmsghdr *reply, size_t reply_cap)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nh;
		uint8_t buf[512];
	} ans;
	struct nlmsgerr err;
	ssize_t n;
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		n = recv(fd, &ans, sizeof(ans), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if ((size_t)n < sizeof(ans.nh) || ans.nh.nlmsg_seq != req->nh.nlmsg_seq ||
		    ans.nh.nlmsg_len > (size_t)n)
			continue;
		if (ans.nh.nlmsg_type != NLMSG_ERROR) {
			if (!reply || ans.nh.nlmsg_len > reply_cap) {
				rc = -EPROTO;
				goto out;
			}
			memcpy(reply, &ans, ans.nh.nlmsg_len);
			rc = ans.nh.nlmsg_type;
			goto out;
		}
		if (ans.nh.nlmsg_len < NLMSG_LENGTH(sizeof(err))) {
			rc = -EPROTO;
			goto out;
		}
		memcpy(&err, NLMSG_DATA(&ans.nh), sizeof(err));
		rc = err.error; /* 0 = ACK, else -errno */
		goto out;
	}
out:
	close(fd);
	return rc;
}

static int rule_request(struct in_addr src, unsigned table, unsigned priority, bool add)
{
	struct rtnl_req req;
	size_t off = 0;
	uint32_t t = table, p = priority;

	if (table == 0)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.u.frh.family = AF_INET;
	req.u.frh.src_len = 32;
	req.u.frh.action = FR_ACT_TO_TBL;
	req.u.frh.table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	put_attr(&req, &off, FRA_SRC, &src.s_addr, 4);
	put_attr(&req, &off, FRA_TABLE, &t, sizeof(t));
	put_attr(&req, &off, FRA_PRIORITY, &p, sizeof(p));
	req.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(req.u)) + off);
	req.nh.nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (add)
		req.nh.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	req.nh.nlmsg_seq = next_seq();
	return transact(&req, NULL, 0);
}

int mnd_rule4_add(struct in_addr src, unsigned table, unsigned priority)
{
	return rule_request(src, table, priority, true);
}

int mnd_rule4_del(struct in_addr src, unsigned table, unsigned priority)
{
	return rule_request(src, table, priority, false);
}

int mnd_route_reaches(int ifindex, struct in_addr dst)
{
	union {
		struct nlmsghdr nh;
		uint8_t buf[512];
	} ans;
	struct rtnl_req req;
	struct rtmsg rtm;
	size_t off = 0;
	uint32_t oif = (uint32_t)ifindex;
	int rc;

	if (ifindex <= 0)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.u.rtm.rtm_family = AF_INET;
	req.u.rtm.rtm_dst_len = 32;
	req.u.rtm.rtm_flags = RTM_F_FIB_MATCH;
	put_attr(&req, &off, RTA_DST, &dst.s_addr, 4);
	put_attr(&req, &off, RTA_OIF, &oif, sizeof(oif));
	req.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(req.u)) + off);
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = next_seq();
	rc = transact(&req, &ans.nh, sizeof(ans));
	if (rc == -ENETUNREACH || rc == -EHOSTUNREACH || rc == -ESRCH || rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (rc != RTM_NEWROUTE || ans.nh.nlmsg_len < NLMSG_LENGTH(sizeof(rtm)))
		return -EPROTO;
	memcpy(&rtm, NLMSG_DATA(&ans.nh), sizeof(rtm));
	return rtm.rtm_type == RTN_UNICAST ? 1 : 0;
}
