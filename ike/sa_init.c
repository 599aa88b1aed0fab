/* IKE_SA_INIT, both roles (RFC 7296 1.2, 2.6, 2.7, 2.10, 2.14, 2.23; RFC 7427 4).
 *
 *	Initiator                         Responder
 *	HDR, [N(COOKIE),] SA, KE, Ni,
 *	  N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
 *	  [N(SIGNATURE_HASH_ALGORITHMS)]  -->
 *	                             <--  HDR, SA, KE, Nr, N(NAT_DETECTION_*), [CERTREQ],
 *	                                  [N(SIGNATURE_HASH_ALGORITHMS)]
 *	                             <--  HDR, N(COOKIE)                       (2.6, under load)
 *	                             <--  HDR, N(INVALID_KE_PAYLOAD)           (1.2, other group)
 *	                             <--  HDR, N(NO_PROPOSAL_CHOSEN)           (2.7)
 *
 * The responder keeps no state for the three error answers. It makes the SA (half-open) only
 * for a request it accepts, and answers a retransmission of that request with the same
 * response (engine.c). The initiator retries with the cookie (first payload, 2.6) or the
 * group the responder wants (once per group, 1.2), then moves to port 4500 when a NAT was
 * detected or MOBIKE is on (2.23; RFC 4555 2.2) and starts IKE_AUTH.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/names.h"
#include "ike/authn.h"
#include "ike/cookie.h"
#include "ike/dh.h"
#include "ike/engine_priv.h"
#include "ike/keys.h"
#include "ike/natd.h"
#include "ike/proposal.h"
#include "ike/rules.h"

/* RFC 7427 4 / 7: the hashes we sign and verify with. */
static const uint16_t our_hashes[] = { IKE_HASH_SHA2_256, IKE_HASH_SHA2_384, IKE_HASH_SHA2_512 };

static void be64(uint64_t v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static bool uses_certs(const struct ike_peer_cfg *p)
{
	return p->local.auth == IKE_AUTHK_SIGNATURE || p->remote.auth == IKE_AUTHK_SIGNATURE;
}

/* SKEYSEED and SK_* of a new IKE SA (2.14) from g^ir and the nonces. */
static int derive_keys(struct ike_sa *sa, const struct ike_suite *suite, const uint8_t *g_ir,
		       size_t g_len)
{
	struct ike_algs algs;
	struct ike_sa_keys keys;
	uint8_t skeyseed[IKE_PRF_MAX_LEN], si[8], sr[8];
	int err = ike_suite_resolve(suite, IKE_SUITE_IKE, &algs);

	if (err < 0)
		return err;
	be64(sa->spi_i, si);
	be64(sa->spi_r, sr);
	err = ike_skeyseed(algs.prf, (struct ike_bytes){ sa->ni, sa->ni_len },
			   (struct ike_bytes){ sa->nr, sa->nr_len },
			   (struct ike_bytes){ g_ir, g_len }, skeyseed);
	if (err == 0)
		err = ike_sa_keys_derive(&algs, skeyseed, algs.prf->len,
					 (struct ike_bytes){ sa->ni, sa->ni_len },
					 (struct ike_bytes){ sa->nr, sa->nr_len }, si, sr, &keys);
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	if (err < 0)
		return err;
	err = ike_sa_set_keys(sa, suite, &algs, &keys);
	ike_sa_keys_wipe(&keys);
	return err;
}

/* g^ir from our DH and the peer's KE data (RFC 6989 checks first). */
static int shared_secret(struct ike_dh *dh, const struct ike_ke *ke, uint8_t *out,
			 size_t *out_len)
{
	int err = ike_dh_check_peer(ke->group, ke->data.data, ke->data.len);

	if (err < 0)
		return err;
	return ike_dh_compute(dh, ke->data.data, ke->data.len, out, IKE_DH_MAX_SHARED_LEN,
			      out_len);
}

static int add_ke(struct ike_builder *b, struct ike_dh *dh)
{
	uint8_t pub[IKE_DH_MAX_PUBLIC_LEN];
	struct writer w;
	struct ike_ke ke;

	writer_init(&w, pub, sizeof(pub));
	if (ike_dh_write_public(dh, &w) < 0)
		return -ENOSPC;
	ke.group = ike_dh_group(dh)->id;
	ke.data = (struct ike_blob){ pub, writer_len(&w) };
	return ike_ke_encode(b, &ke);
}

/* --- initiator ------------------------------------------------------------------------------ */

int ike_sa_init_start(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_out_msg *o = &e->om;
	struct ike_sa_payload offer;
	int err;

	if (!p || p->ike.n == 0)
		return -EINVAL;
	if (!sa->dh) {
		err = ike_dh_new(p->ike.suite[0].dh, &sa->dh);
		if (err < 0)
			return err;
		sa->ke_groups_tried[0] = p->ike.suite[0].dh;
		sa->n_ke_tried = 1;
	}
	if (sa->ni_len == 0 && (err = ike_engine_nonce(e, sa->ni, &sa->ni_len)) < 0)
		return err;
	err = ike_proposal_offer(&p->ike, IKE_SUITE_IKE, true, NULL, 0, &offer);
	if (err < 0)
		return err;
	/* The retry after COOKIE or INVALID_KE_PAYLOAD is message 0 again (2.6, 1.2). */
	sa->next_req_id = 0;
	err = ike_msg_begin(sa, o, IKE_EXCH_SA_INIT, false, 0);
	/* 2.6: the cookie is the first payload, everything else unchanged. */
	if (err == 0 && sa->cookie_len)
		err = ike_notify_add(&o->b, IKE_N_COOKIE, sa->cookie, sa->cookie_len);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &offer);
	if (err == 0)
		err = add_ke(&o->b, sa->dh);
	if (err == 0)
		err = ike_nonce_encode(&o->b, sa->ni, sa->ni_len);
	if (err == 0)
		err = ike_natd_add(&o->b, sa->spi_i, 0, &sa->local, &sa->remote);
	if (err == 0 && uses_certs(p))
		err = ike_notify_add_hash_algs(&o->b, our_hashes,
					       sizeof(our_hashes) / sizeof(our_hashes[0]));
	if (err == 0)
		err = ike_vendor_encode(&o->b, IKE_MM_VENDOR_ID, IKE_MM_VENDOR_ID_LEN);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0)
		err = ike_sa_copy_msg(&sa->init_req, &sa->init_req_len, o->buf, o->len);
	if (err < 0)
		return err;
	ike_request_clear(&sa->req);
	err = ike_sa_send_request(sa, o, IKE_TASK_SA_INIT, now, out);
	if (err < 0)
		return err;
	if (sa->state == IKE_SA_NEW)
		ike_sa_set_state(sa, IKE_SA_INIT_SENT, "IKE_SA_INIT request sent");
	return 0;
}

/* The error answers of 1.2 and 2.6: retry, or give up. */
static int init_error(struct ike_sa *sa, struct ike_rx *rx)
{
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_notify n;
	struct ike_blob cookie;
	uint16_t group, err_type;
	char name[NAME_BUF_SIZE], reason[128];

	if (ike_rx_notify(rx, IKE_N_COOKIE, &n) == 0 && ike_notify_cookie(&n, &cookie) == 0) {
		if (++sa->cookie_tries > IKE_MAX_COOKIE_TRIES) {
			ike_sa_kill(sa, "the responder keeps asking for cookies", rx->out);
			return 0;
		}
		LOG_INFO(&sa->log, "responder asks for a cookie (%zu octets): retrying", cookie.len);
		memcpy(sa->cookie, cookie.data, cookie.len);
		sa->cookie_len = cookie.len;
		if (ike_sa_init_start(sa, rx->now, rx->out) < 0)
			ike_sa_kill(sa, "cannot retry IKE_SA_INIT", rx->out);
		return 0;
	}
	if (ike_rx_notify(rx, IKE_N_INVALID_KE_PAYLOAD, &n) == 0 &&
	    ike_notify_invalid_ke(&n, &group) == 0) {
		bool tried = false;

		for (size_t i = 0; i < sa->n_ke_tried; i++)
			tried = tried || sa->ke_groups_tried[i] == group;
		if (tried || !ike_proposal_has_group(&p->ike, group) ||
		    sa->n_ke_tried >= sizeof(sa->ke_groups_tried) / sizeof(sa->ke_groups_tried[0])) {
			snprintf(reason, sizeof(reason), "the responder wants DH group %u, which %s",
				 group, tried ? "we tried already" : "we do not offer");
			ike_sa_kill(sa, reason, rx->out);
			return 0;
		}
		LOG_INFO(&sa->log, "responder wants DH group %s: retrying",
			 ike_transform_name(IKE_TRANSFORM_DH, group));
		ike_dh_free(sa->dh);
		sa->dh = NULL;
		sa->ke_groups_tried[sa->n_ke_tried++] = group;
		if (ike_dh_new(group, &sa->dh) < 0 || ike_sa_init_start(sa, rx->now, rx->out) < 0)
			ike_sa_kill(sa, "cannot retry IKE_SA_INIT", rx->out);
		return 0;
	}
	err_type = ike_rx_error_notify(rx);
	if (err_type == IKE_N_NO_PROPOSAL_CHOSEN)
		sa->e->st.no_proposal++;
	snprintf(reason, sizeof(reason), "IKE_SA_INIT refused: %s",
		 err_type ? ike_notify_name(err_type, name, sizeof(name)) : "no answer we understand");
	LOG_WARNING(&sa->log, "%s", reason);
	ike_sa_kill(sa, reason, rx->out);
	return 0;
}

int ike_sa_init_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	const struct ike_peer_cfg *p = sa->peer;
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rke = ike_rx_find(rx, IKE_PT_KE);
	const struct ike_payload_ref *rn = ike_rx_find(rx, IKE_PT_NONCE);
	struct ike_sa_payload choice;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_blob nonce;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN];
	size_t g_len = 0;
	int err;

	(void)req;
	if (!rsa) {
		/* 1.2, 2.6: COOKIE / INVALID_KE_PAYLOAD / an error. */
		return init_error(sa, rx);
	}
	if (rx->m->hdr.spi_r == 0 || !rke || !rn ||
	    ike_sa_payload_decode(rsa, IKE_SA_CHOICE, &choice) < 0 ||
	    ike_ke_decode(rke, &ke) < 0 || ike_nonce_decode(rn, &nonce) < 0) {
		ike_drop(sa->e, sa, &rx->from, &sa->e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT response without a usable SA, KE, Nonce or SPIr");
		return -EAGAIN;
	}
	if (ike_proposal_accept(&p->ike, IKE_SUITE_IKE, true, &choice, &suite) < 0) {
		ike_sa_kill(sa, "the responder chose an IKE proposal we did not offer", rx->out);
		return 0;
	}
	if (ke.group != suite.dh || ike_dh_group(sa->dh)->id != suite.dh) {
		ike_sa_kill(sa, "the responder's KE group is not the chosen one", rx->out);
		return 0;
	}
	err = shared_secret(sa->dh, &ke, g_ir, &g_len);
	if (err < 0) {
		/* RFC 6989 2.5: a bad public value; an attacker may have sent it. */
		ike_drop(sa->e, sa, &rx->from, &sa->e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT response with an invalid KE value");
		return -EAGAIN;
	}
	sa->spi_r = rx->m->hdr.spi_r;
	memcpy(sa->nr, nonce.data, nonce.len);
	sa->nr_len = nonce.len;
	err = derive_keys(sa, &suite, g_ir, g_len);
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	if (err == 0)
		err = ike_natd_detect(rx->pl, sa->spi_i, sa->spi_r, &rx->from, &rx->to, &sa->nat_local,
				      &sa->nat_remote, NULL, NULL);
	if (err == 0)
		err = ike_sa_copy_msg(&sa->init_resp, &sa->init_resp_len, rx->data, rx->len);
	if (err < 0) {
		ike_sa_kill(sa, "cannot make the IKE SA keys", rx->out);
		return 0;
	}
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	sa->peer_certreq = ike_rx_find(rx, IKE_PT_CERTREQ) != NULL;
	sa->peer_sig_hashes = ike_rx_notify(rx, IKE_N_SIGNATURE_HASH_ALGORITHMS,
					    &(struct ike_notify){ 0 }) == 0;
	sa->peer_mm = ike_rx_has_our_vendor_id(rx);
	ike_sa_update_logger(sa);
	LOG_INFO(&sa->log, "IKE_SA_INIT done: %s/%u %s %s%s%s", sa->algs.encr->name,
		 (unsigned)sa->algs.encr_key_len * 8, sa->algs.prf->name, sa->algs.dh->name,
		 sa->nat_local ? ", NAT in front of us" : "",
		 sa->nat_remote ? ", NAT in front of the peer" : "");
	ike_act_keylog(rx->out, sa);
	/* 2.23: after a NAT is found IKE moves to port 4500 (and stays there with MOBIKE,
	 * RFC 4555 2.2, so that a later move needs no switch). */
	if (sa->nat_local || sa->nat_remote || p->mobike) {
		sa->natt = true;
		sa->local.port = IKE_NATT_PORT;
		sa->remote.port = IKE_NATT_PORT;
	}
	err = ike_auth_start(sa, rx->now, rx->out);
	if (err < 0) {
		LOG_ERROR(&sa->log, "cannot start IKE_AUTH: %s", strerror(-err));
		ike_sa_kill(sa, "cannot start IKE_AUTH", rx->out);
	}
	return 0;
}

/* --- responder ------------------------------------------------------------------------------ */

/* An answer without an SA (2.6, 1.2, 2.7): HDR(SPIi, 0), N(type, data). */
static void stateless_reply(struct ike_engine *e, const struct ike_rx *rx, uint16_t type,
			    const void *data, size_t len)
{
	struct ike_out_msg *o = &e->om;
	struct ike_header h;
	int err;

	memset(&h, 0, sizeof(h));
	h.spi_i = rx->m->hdr.spi_i;
	h.exchange = IKE_EXCH_SA_INIT;
	h.flags = IKE_FLAG_R;
	writer_init(&o->w, o->buf, sizeof(o->buf));
	err = ike_build_start(&o->b, &o->w, &h);
	if (err == 0)
		err = type == IKE_N_INVALID_KE_PAYLOAD && len == 2 ?
		      ike_notify_add_u16(&o->b, type, *(const uint16_t *)data) :
		      ike_notify_add(&o->b, type, data, len);
	if (err == 0)
		err = ike_build_finish(&o->b, &o->len);
	if (err == 0) {
		e->st.tx++;
		ike_act_send(rx->out, &rx->to, &rx->from, o->buf, o->len);
	}
}

/* Every IKE suite of every peer, first come first (the peer is not known before IKE_AUTH;
 * 2.7 "the responder's choice"). */
static void all_ike_suites(const struct ike_engine *e, struct ike_proposals *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < e->cfg.npeers; i++) {
		const struct ike_proposals *p = &e->cfg.peers[i].ike;

		for (size_t j = 0; j < p->n && j < IKE_CFG_MAX_SUITES; j++) {
			bool dup = false;

			for (size_t k = 0; k < out->n; k++)
				dup = dup || memcmp(&out->suite[k], &p->suite[j],
						    sizeof(p->suite[j])) == 0;
			if (!dup && out->n < IKE_CFG_MAX_SUITES)
				out->suite[out->n++] = p->suite[j];
		}
	}
}

static bool any_certs(const struct ike_engine *e)
{
	for (size_t i = 0; i < e->cfg.npeers; i++)
		if (uses_certs(&e->cfg.peers[i]))
			return true;
	return false;
}

/* CERTREQ data (3.7): the trust anchors of every peer that must show a certificate. */
static size_t certreq_data(const struct ike_engine *e, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < e->cfg.npeers; i++) {
		const struct ike_credentials *c = &e->cfg.peers[i].remote;
		size_t len = 0;

		if (c->auth != IKE_AUTHK_SIGNATURE || !c->trust)
			continue;
		if (ike_authn_certreq(c->trust, out + n, cap - n, &len) == 0)
			n += len;
	}
	/* The same CA for several peers: keep one copy of each hash. */
	for (size_t i = 0; i + IKE_CERTREQ_HASH_LEN <= n; i += IKE_CERTREQ_HASH_LEN) {
		for (size_t j = i + IKE_CERTREQ_HASH_LEN; j + IKE_CERTREQ_HASH_LEN <= n;) {
			if (memcmp(out + i, out + j, IKE_CERTREQ_HASH_LEN) == 0) {
				memmove(out + j, out + j + IKE_CERTREQ_HASH_LEN,
					n - j - IKE_CERTREQ_HASH_LEN);
				n -= IKE_CERTREQ_HASH_LEN;
			} else {
				j += IKE_CERTREQ_HASH_LEN;
			}
		}
	}
	return n;
}

/* 2.6: is the request's cookie right, or do we have to ask for one? */
static bool cookie_ok(struct ike_engine *e, const struct ike_rx *rx, const struct ike_blob *ni)
{
	struct ike_notify n;
	struct ike_blob c;

	if (e->nhalf_open < e->cfg.cookie_threshold)
		return true;
	if (ike_rx_notify(rx, IKE_N_COOKIE, &n) < 0 || ike_notify_cookie(&n, &c) < 0)
		return false;
	return ike_cookie_check(&e->cookie, c.data, c.len, ni->data, ni->len, rx->from.addr,
				rx->m->hdr.spi_i);
}

int ike_sa_init_request(struct ike_engine *e, struct ike_rx *rx)
{
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rke = ike_rx_find(rx, IKE_PT_KE);
	const struct ike_payload_ref *rn = ike_rx_find(rx, IKE_PT_NONCE);
	struct ike_rule_result res;
	struct ike_sa_payload offer, choice;
	struct ike_proposals ours;
	const struct ike_proposal *prop = NULL;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_blob nonce;
	struct ike_dh *dh = NULL;
	struct ike_out_msg *o = &e->om;
	struct ike_sa *sa;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN];
	uint8_t creq[IKE_CERTREQ_HASH_LEN * 16];
	size_t g_len = 0, creq_len;
	char why[160];
	int err;

	if (ike_rules_check(rx->m, NULL, &res) < 0) {
		ike_drop(e, NULL, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING, "%s",
			 ike_rule_describe(&res, why, sizeof(why)));
		return 0;
	}
	if (!rsa || !rke || !rn || ike_sa_payload_decode(rsa, IKE_SA_OFFER, &offer) < 0 ||
	    ike_ke_decode(rke, &ke) < 0 || ike_nonce_decode(rn, &nonce) < 0) {
		ike_drop(e, NULL, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT request with a malformed SA, KE or Nonce");
		return 0;
	}
	/* 2.6: under load, only initiators that can receive at their address get state. */
	if (!cookie_ok(e, rx, &nonce)) {
		uint8_t cookie[IKE_COOKIE_LEN], secret[IKE_COOKIE_SECRET];

		if (ike_cookie_due(&e->cookie, rx->now)) {
			if (ike_engine_random(e, secret, sizeof(secret)) < 0)
				return 0;
			ike_cookie_rotate(&e->cookie, secret, rx->now);
			OPENSSL_cleanse(secret, sizeof(secret));
		}
		if (ike_cookie_make(&e->cookie, nonce.data, nonce.len, rx->from.addr,
				    rx->m->hdr.spi_i, cookie) == 0) {
			e->st.cookies_sent++;
			LOG_DEBUG(&e->log, "%zu half-open SAs: asking for a cookie", e->nhalf_open);
			stateless_reply(e, rx, IKE_N_COOKIE, cookie, sizeof(cookie));
		}
		return 0;
	}
	if (e->nhalf_open >= e->cfg.half_open_max || e->nsas >= e->cfg.max_sas) {
		ike_drop(e, NULL, &rx->from, NULL, LOG_LEVEL_INFO,
			 "IKE_SA_INIT: %zu half-open and %zu SAs in all, the limit", e->nhalf_open,
			 e->nsas);
		return 0;
	}
	all_ike_suites(e, &ours);
	if (ike_proposal_select(&ours, IKE_SUITE_IKE, true, &offer, &suite, &prop) < 0) {
		e->st.no_proposal++;
		ike_drop(e, NULL, &rx->from, NULL, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT: no proposal in common; answering NO_PROPOSAL_CHOSEN");
		stateless_reply(e, rx, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return 0;
	}
	if (ke.group != suite.dh) {
		/* 1.2, 2.7: tell the initiator which group the chosen proposal has. */
		uint16_t g = suite.dh;

		LOG_INFO(&e->log, "IKE_SA_INIT from %s: KE group %u, we chose %u: answering "
			 "INVALID_KE_PAYLOAD", inet_ntoa(rx->from.addr), ke.group, g);
		stateless_reply(e, rx, IKE_N_INVALID_KE_PAYLOAD, &g, 2);
		return 0;
	}
	err = ike_dh_new(suite.dh, &dh);
	if (err == 0)
		err = shared_secret(dh, &ke, g_ir, &g_len);
	if (err < 0) {
		ike_dh_free(dh);
		ike_drop(e, NULL, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT: %s", err == -EINVAL ? "invalid KE value (RFC 6989)" :
			 "DH failed");
		return 0;
	}
	sa = ike_engine_sa_new(e, rx->now);
	if (!sa) {
		ike_dh_free(dh);
		OPENSSL_cleanse(g_ir, sizeof(g_ir));
		return -ENOMEM;
	}
	sa->initiator = false;
	sa->spi_i = rx->m->hdr.spi_i;
	sa->local = rx->to;
	sa->remote = rx->from;
	memcpy(sa->ni, nonce.data, nonce.len);
	sa->ni_len = nonce.len;
	err = ike_engine_new_ike_spi(e, &sa->spi_r);
	if (err == 0)
		err = ike_engine_index_own(e, sa);
	if (err == 0)
		err = ike_engine_nonce(e, sa->nr, &sa->nr_len);
	if (err == 0)
		err = derive_keys(sa, &suite, g_ir, g_len);
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	if (err == 0)
		err = ike_natd_detect(rx->pl, sa->spi_i, 0, &rx->from, &rx->to, &sa->nat_local,
				      &sa->nat_remote, NULL, NULL);
	ike_sa_update_logger(sa);
	sa->peer_sig_hashes = ike_rx_notify(rx, IKE_N_SIGNATURE_HASH_ALGORITHMS,
					    &(struct ike_notify){ 0 }) == 0;
	sa->peer_mm = ike_rx_has_our_vendor_id(rx);
	/* The response: SA, KE, Nr, NAT-D, [CERTREQ], [SIGNATURE_HASH_ALGORITHMS], V(ours). */
	if (err == 0) {
		uint8_t spi_none[1];

		err = ike_proposal_choice(&suite, IKE_SUITE_IKE, true, prop->num, spi_none, 0,
					  &choice);
	}
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_SA_INIT, true, 0);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &choice);
	if (err == 0)
		err = add_ke(&o->b, dh);
	if (err == 0)
		err = ike_nonce_encode(&o->b, sa->nr, sa->nr_len);
	if (err == 0 && ike_rx_find(rx, IKE_PT_NOTIFY) &&
	    ike_rx_notify(rx, IKE_N_NAT_DETECTION_SOURCE_IP, &(struct ike_notify){ 0 }) == 0)
		err = ike_natd_add(&o->b, sa->spi_i, sa->spi_r, &rx->to, &rx->from);
	if (err == 0 && (creq_len = certreq_data(e, creq, sizeof(creq))) > 0)
		err = ike_certreq_encode(&o->b, &(struct ike_cert){ IKE_CERT_X509_SIG,
								    { creq, creq_len } });
	if (err == 0 && sa->peer_sig_hashes && any_certs(e))
		err = ike_notify_add_hash_algs(&o->b, our_hashes,
					       sizeof(our_hashes) / sizeof(our_hashes[0]));
	if (err == 0)
		err = ike_vendor_encode(&o->b, IKE_MM_VENDOR_ID, IKE_MM_VENDOR_ID_LEN);
	if (err == 0)
		err = ike_msg_end(sa, o);
	ike_dh_free(dh);
	if (err == 0)
		err = ike_sa_copy_msg(&sa->init_req, &sa->init_req_len, rx->data, rx->len);
	if (err == 0)
		err = ike_sa_copy_msg(&sa->init_resp, &sa->init_resp_len, o->buf, o->len);
	if (err < 0) {
		LOG_ERROR(&sa->log, "cannot answer IKE_SA_INIT: %s", strerror(-err));
		ike_engine_sa_discard(sa);
		return err;
	}
	ike_sa_set_state(sa, IKE_SA_INIT_DONE, "IKE_SA_INIT answered");
	ike_engine_half_open_add(e, sa);
	LOG_DEBUG(&sa->log, "IKE_SA_INIT from %s: %s/%u %s %s%s%s", inet_ntoa(rx->from.addr),
		  sa->algs.encr->name, (unsigned)sa->algs.encr_key_len * 8, sa->algs.prf->name,
		  sa->algs.dh->name, sa->nat_local ? ", NAT in front of us" : "",
		  sa->nat_remote ? ", NAT in front of the peer" : "");
	ike_act_keylog(rx->out, sa);
	sa->init_answered_at = rx->now;
	err = ike_sa_send_response(sa, o, rx);
	ike_sa_schedule(sa);
	return err;
}
