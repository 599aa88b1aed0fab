/* Helpers shared by the payload tests (test_payload.c, test_sa.c, test_notify.c): payload
 * references over hand-made bodies, and the encode -> stage 1 -> stage 2 round trip. */
#ifndef MM_IKE_TEST_PAYLOAD_UTIL_H
#define MM_IKE_TEST_PAYLOAD_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/payload.h"

static uint8_t filler[1024];

static inline void filler_init(void)
{
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = (uint8_t)(0x41 + i % 26);
}

static inline struct ike_payload_ref ref(uint8_t type, const uint8_t *body, size_t len)
{
	return (struct ike_payload_ref){ .type = type, .body = body, .body_len = len };
}

/* A reference over what a writer holds. */
static inline struct ike_payload_ref wref(uint8_t type, const struct writer *w)
{
	return ref(type, w->data, writer_len(w));
}

/* Encode v as a bare chain, parse it back with stage 1 and decode it with stage 2: the value
 * must be equal and re-encoding must give the same octets. */
static inline bool round_trip(const struct ike_payload_value *v, bool response)
{
	static uint8_t buf[70000], buf2[70000];
	struct writer w;
	struct ike_builder b;
	struct ike_chain c;
	struct ike_payload_value back;
	size_t len, len2;

	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	if (ike_payload_encode(&b, v) != 0 || ike_build_finish(&b, &len) != 0)
		return false;
	if (ike_chain_parse(buf, len, ike_build_chain_first(&b), 0, true, &c, NULL) != 0 ||
	    c.count != 1 || ike_payload_decode(&c.p[0], response, &back) != 0 ||
	    !ike_payload_equal(v, &back))
		return false;
	writer_init(&w, buf2, sizeof(buf2));
	ike_build_start_chain(&b, &w);
	if (ike_payload_encode(&b, &back) != 0 || ike_build_finish(&b, &len2) != 0)
		return false;
	return len == len2 && memcmp(buf, buf2, len) == 0;
}

/* Encode v's body only (the octets after the generic header) into out. */
static inline size_t body_of(const struct ike_payload_value *v, uint8_t *out, size_t cap)
{
	static uint8_t buf[70000];
	struct writer w;
	struct ike_builder b;
	size_t len;

	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	if (ike_payload_encode(&b, v) != 0 || ike_build_finish(&b, &len) != 0 || len - 4 > cap)
		return 0;
	memcpy(out, buf + 4, len - 4);
	return len - 4;
}

#endif
