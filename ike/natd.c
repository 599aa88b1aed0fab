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
