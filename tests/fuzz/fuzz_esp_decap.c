/* Fuzz target: ESP decapsulation behind RFC 3948 classification (esp/udpencap.c, esp/esp.c,
 * esp/replay.c).
 *
 * The input is a UDP payload received on port 4500. It is classified first; an ESP packet
 * goes to one of two fixed inbound SAs by SPI:
 *	SPI 0x00001000  AES-GCM-16-128, ESN
 *	SPI 0x00002000  AES-CBC-128 + HMAC-SHA2-256-128, 32-bit sequence numbers
 * (keys below; the seed corpus was made by encapsulating with the same keys, so valid seeds
 * get through authentication and exercise the trailer checks). The inbound SAs are
 * re-created after every input that got past authentication, so each input meets the same
 * fresh replay window and a crash reproduces from the input alone.
 *
 * Invariants (any violation is a __builtin_trap()):
 *  - classification: keepalive is exactly 0xff; IKE is a zero marker with the message after
 *    it; ESP starts with its non-zero SPI and holds at least a header;
 *  - decapsulation returns one of the documented results for this SA (never "unknown SPI",
 *    "invalid argument" or an OpenSSL failure), leaves off/len alone on failure, and on
 *    success yields an inner packet inside the input, after the header, before the trailer;
 *  - an accepted inner packet round-trips: encapsulated and decapsulated again by a pair of
 *    SAs of the same algorithm it comes back identical;
 *  - the input itself, as an inner packet, round-trips through both algorithms.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp.h"
#include "esp/esp_sa.h"
#include "esp/udpencap.h"

#define SPI_GCM 0x00001000u
#define SPI_CBC 0x00002000u
#define MAX_IN 4096
#define HEAD ESP_HEADROOM_MAX

/* KEYMAT: AES-128 key | salt, and AES-128 key | HMAC-SHA-256 key. */
static const uint8_t km_gcm[20] = "fuzz-gcm-key-16!salt";
static const uint8_t km_cbc[48] = "fuzz-cbc-key-16!fuzz-hmac-sha256-key-32-octets!!";

static struct esp_sa *in_gcm, *in_cbc;          /* the fixed SAs, fresh per input */
static struct esp_sa *rt_out[2], *rt_in[2];     /* round-trip pairs, long-lived */
static uint8_t buf[MAX_IN + 256], buf2[MAX_IN + 256];

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct esp_sa *make(bool gcm, enum esp_dir dir, bool esn)
{
	struct esp_sa_config c = {
		.spi = gcm ? SPI_GCM : SPI_CBC,
		.dir = dir,
		.encr = gcm ? ESP_ENCR_AES_GCM_16 : ESP_ENCR_AES_CBC,
		.key_bits = 128,
		.integ = gcm ? ESP_INTEG_NONE : ESP_INTEG_HMAC_SHA2_256_128,
		.esn = esn,
		.keymat = gcm ? km_gcm : km_cbc,
		.keymat_len = gcm ? sizeof(km_gcm) : sizeof(km_cbc),
	};
	struct esp_sa *sa = NULL;

	check(esp_sa_new(&c, 0, &sa) == 0 && sa);
	return sa;
}

static void fixed_sas(void)
{
	if (!in_gcm)
		in_gcm = make(true, ESP_DIR_IN, true);
	if (!in_cbc)
		in_cbc = make(false, ESP_DIR_IN, false);
	/* Long-lived across inputs: ESN, so no campaign is long enough to approach the end of
	 * the sequence space (and its soft-expiry margin). */
	for (int i = 0; i < 2; i++) {
		if (!rt_out[i])
			rt_out[i] = make(i == 0, ESP_DIR_OUT, true);
		if (!rt_in[i])
			rt_in[i] = make(i == 0, ESP_DIR_IN, true);
	}
}

/* Encapsulate inner with the round-trip pair i and decapsulate it again. */
static void round_trip(int i, const uint8_t *inner, size_t len, uint8_t nh)
{
	struct esp_pkt p = { .buf = buf2, .cap = sizeof(buf2), .off = HEAD, .len = len };
	int rc;

	memcpy(&buf2[HEAD], inner, len);
	rc = esp_encap(rt_out[i], &p, nh, 0);
	check(rc == ESP_EV_NONE);
	check(p.len == esp_sa_encap_len(rt_out[i], len));
	rc = esp_decap(rt_in[i], &p, 0);
	if (nh == ESP_NH_NONE) {
		check(rc == -ENOMSG);
		return;
	}
	check(rc == ESP_EV_NONE && p.len == len && memcmp(&buf2[p.off], inner, len) == 0);
}

static bool allowed_decap_error(int rc)
{
	switch (-rc) {
	case EBADMSG: case EALREADY: case ESTALE: case EKEYREJECTED: case EILSEQ:
	case EPROTONOSUPPORT: case ENOMSG:
		return true;
	}
	return false;
}

/* Errors that can only come after the ICV verified: the window has moved. */
static bool after_auth(int rc)
{
	return rc >= 0 || rc == -EILSEQ || rc == -EPROTONOSUPPORT || rc == -ENOMSG;
}

static void fuzz_esp(const uint8_t *data, size_t size, uint32_t spi)
{
	struct esp_sa **sa = spi == SPI_GCM ? &in_gcm : spi == SPI_CBC ? &in_cbc : NULL;
	struct esp_pkt p = { .buf = buf, .cap = sizeof(buf), .off = 0, .len = size };
	size_t hdr;
	int rc;

	if (!sa || size > MAX_IN)
		return;
	hdr = esp_sa_headroom(*sa);
	memcpy(buf, data, size);
	rc = esp_decap(*sa, &p, 0);
	check(rc == ESP_EV_NONE || allowed_decap_error(rc));
	check(esp_drop_reason(rc) != ESP_DROP_INVALID && esp_drop_reason(rc) != ESP_DROP_CRYPTO);
	if (rc < 0) {
		check(p.off == 0 && p.len == size);
	} else {
		check(p.off == hdr);
		check(p.len + hdr + 2 + 16 <= size);
		round_trip(spi == SPI_GCM ? 0 : 1, &buf[p.off], p.len, ESP_NH_IPV4);
	}
	if (after_auth(rc)) {
		esp_sa_free(*sa);
		*sa = make(spi == SPI_GCM, ESP_DIR_IN, spi == SPI_GCM);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udpencap_msg m;
	enum udpencap_kind kind;

	fixed_sas();
	kind = udpencap_classify(data, size, &m);
	check(kind == m.kind);
	switch (kind) {
	case UDPENCAP_KEEPALIVE:
		check(size == 1 && data[0] == 0xff);
		break;
	case UDPENCAP_IKE:
		check(size > 4 && m.off == 4 && m.len == size - 4);
		check(data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 0);
		break;
	case UDPENCAP_ESP:
		check(size >= ESP_HDR_LEN && m.off == 0 && m.len == size && m.spi != 0);
		check(m.spi == ((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
				(uint32_t)data[2] << 8 | data[3]));
		fuzz_esp(data, size, m.spi);
		break;
	case UDPENCAP_INVALID:
		check(size < ESP_HDR_LEN);
		check(size <= 4 || data[0] || data[1] || data[2] || data[3]);
		check(size != 1 || data[0] != 0xff);
		break;
	}
	/* Whatever the bytes are, as an inner packet they survive both algorithms. */
	if (size > 0 && size <= MAX_IN) {
		round_trip(0, data, size, ESP_NH_IPV4);
		round_trip(1, data, size, size % 2 ? ESP_NH_IPV4 : ESP_NH_NONE);
	}
	return 0;
}
