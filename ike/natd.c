/* NAT detection hashes (RFC 7296 2.23). See natd.h. */
#include "ike/natd.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int ike_natd_hash(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		  uint8_t hash[IKE_NAT_DETECTION_LEN])
{
	uint8_t in[8 + 8 + 4 + 2];
	unsigned int len = 0;
	uint8_t md[EVP_MAX_MD_SIZE];

	for (int i = 0; i < 8; i++) {
		in[i] = (uint8_t)(spi_i >> (56 - 8 * i));
		in[8 + i] = (uint8_t)(spi_r >> (56 - 8 * i));
	}
	/* ep->addr is already in network order; the port is host order. */
	memcpy(in + 16, &ep->addr.s_addr, 4);
	in[20] = (uint8_t)(ep->port >> 8);
	in[21] = (uint8_t)ep->port;
	if (!EVP_Digest(in, sizeof(in), md, &len, EVP_sha1(), NULL) ||
	    len != IKE_NAT_DETECTION_LEN)
		return -EIO;
	memcpy(hash, md, IKE_NAT_DETECTION_LEN);
	return 0;
}

bool ike_natd_match(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		    const uint8_t hash[IKE_NAT_DETECTION_LEN])
{
	uint8_t mine[IKE_NAT_DETECTION_LEN];

	if (ike_natd_hash(spi_i, spi_r, ep, mine) < 0)
		return false;
	return CRYPTO_memcmp(mine, hash, IKE_NAT_DETECTION_LEN) == 0;
}

int ike_natd_add(struct ike_builder *b, uint64_t spi_i, uint64_t spi_r,
		 const struct ike_endpoint *src, const struct ike_endpoint *dst)
{
	uint8_t h[IKE_NAT_DETECTION_LEN];
	int err = ike_natd_hash(spi_i, spi_r, src, h);

	if (err == 0)
		err = ike_notify_add(b, IKE_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	if (err == 0)
		err = ike_natd_hash(spi_i, spi_r, dst, h);
	if (err == 0)
		err = ike_notify_add(b, IKE_N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
	return err;
}

int ike_natd_detect(const struct ike_chain *pl, uint64_t spi_i, uint64_t spi_r,
		    const struct ike_endpoint *from, const struct ike_endpoint *to,
		    bool *nat_local, bool *nat_remote, bool *present,
		    uint8_t dst_hash[IKE_NAT_DETECTION_LEN])
{
	bool have_src = false, src_ok = false, have_dst = false, dst_ok = false;

	for (size_t i = 0; i < pl->count; i++) {
		struct ike_notify n;
		uint8_t h[IKE_NAT_DETECTION_LEN];

		if (pl->p[i].type != IKE_PT_NOTIFY)
			continue;
		if (ike_notify_decode(&pl->p[i], &n) < 0)
			return -EBADMSG;
		if (ike_notify_nat_detection(&n, h) < 0)
			continue;
		if (n.type == IKE_N_NAT_DETECTION_SOURCE_IP) {
			have_src = true;
			src_ok = src_ok || ike_natd_match(spi_i, spi_r, from, h);
		} else {
			if (!have_dst && dst_hash)
				memcpy(dst_hash, h, IKE_NAT_DETECTION_LEN);
			have_dst = true;
			dst_ok = dst_ok || ike_natd_match(spi_i, spi_r, to, h);
		}
	}
	*nat_remote = have_src && !src_ok;
	*nat_local = have_dst && !dst_ok;
	if (present)
		*present = have_src || have_dst;
	return 0;
}
