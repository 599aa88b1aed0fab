/* IKE_AUTH, both roles (RFC 7296 1.2, 2.15, 2.16, 2.9, 2.17, 2.19, 3.5-3.8, 3.15;
 * RFC 7427; RFC 4555 4.2.1):
 *
 *	HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [N(INITIAL_CONTACT),] [CP(CFG_REQUEST),]
 *	         [N(MOBIKE_SUPPORTED),] SAi2, TSi, TSr}  -->
 *	                         <--  HDR, SK {IDr, [CERT,] AUTH, [CP(CFG_REPLY),]
 *	                                       [N(MOBIKE_SUPPORTED),] SAr2, TSi, TSr}
 *	                         <--  HDR, SK {IDr, [CERT,] AUTH, N(child error)}   (2.21.2)
 *	                         <--  HDR, SK {N(AUTHENTICATION_FAILED)}
 *
 * The responder picks the peer configuration by IDi (remote_id type 0: any identity the
 * credentials prove; for PSK the secret that verifies the AUTH decides), verifies AUTH, and
 * then makes the first Child SA: ESP proposal, CP address from the pool (no address ->
 * INTERNAL_ADDRESS_FAILURE and no Child SA, 3.15.4), traffic selectors narrowed (2.9: TSi to
 * the assigned address when CP was used, TSr to local_ts; nothing left -> TS_UNACCEPTABLE).
 * A Child SA failure leaves the IKE SA up (2.21.2). USE_TRANSPORT_MODE is not echoed: the
 * Child SA is a tunnel (1.3.1: declining it means tunnel mode). With MOBIKE both sides may
 * add ADDITIONAL_IP4_ADDRESS for their other addresses (RFC 4555 3.4; mobike.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "common/names.h"
#include "ike/authn.h"
#include "ike/cp.h"
#include "ike/engine_priv.h"
#include "ike/proposal.h"
#include "ike/ts.h"

#define ID_BODY_MAX (4 + IKE_ID_MAX)

/* An ID payload body (3.5: type, three reserved octets, data): what AUTH covers (2.15). */
struct id_body {
	uint8_t b[ID_BODY_MAX];
	size_t len;
};

static int make_id(const struct ike_sa *sa, const struct ike_peer_cfg *p, struct id_body *out)
{
	const struct ike_identity *id = &p->local_id;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (id->type && id->len && id->len <= IKE_ID_MAX) {
		out->b[0] = id->type;
		memcpy(out->b + 4, id->data, id->len);
		out->len = 4 + id->len;
		return 0;
	}
	/* No identity configured: the certificate's subject, else our address (3.5). */
	if (p->local.auth == IKE_AUTHK_SIGNATURE && p->local.cert &&
	    ike_authn_cert_subject(p->local.cert, out->b + 4, IKE_ID_MAX, &n) == 0) {
		out->b[0] = IKE_ID_DER_ASN1_DN;
		out->len = 4 + n;
		return 0;
	}
	out->b[0] = IKE_ID_IPV4_ADDR;
	memcpy(out->b + 4, &sa->local.addr.s_addr, 4);
	out->len = 8;
	return 0;
}

static int add_id(struct ike_builder *b, uint8_t type, const struct id_body *id)
{
	struct ike_id v = { id->b[0], { id->b + 4, id->len - 4 } };

	return ike_id_encode(b, type, &v);
}

static bool id_equal(const struct ike_identity *want, const struct ike_id *got)
{
	return want->type == got->type && want->len == got->data.len &&
	       memcmp(want->data, got->data.data, want->len) == 0;
}

static void id_store(struct ike_identity *dst, const struct ike_id *id)
{
	memset(dst, 0, sizeof(*dst));
	dst->type = id->type;
	dst->len = (uint16_t)(id->data.len <= IKE_ID_MAX ? id->data.len : IKE_ID_MAX);
	memcpy(dst->data, id->data.data, dst->len);
}

static const char *id_text(const struct ike_id *id, char *buf, size_t size)
{
	char tmp[NAME_BUF_SIZE], a[INET_ADDRSTRLEN];

	if (id->type == IKE_ID_IPV4_ADDR && id->data.len == 4) {
		inet_ntop(AF_INET, id->data.data, a, sizeof(a));
		snprintf(buf, size, "%s", a);
	} else if (id->type == IKE_ID_FQDN || id->type == IKE_ID_RFC822_ADDR) {
		log_sanitize(buf, size, id->data.data, id->data.len);
	} else {
		snprintf(buf, size, "%s (%zu octets)",
			 name_or_number(&ikev2_id_type_names, id->type, tmp, sizeof(tmp)),
			 id->data.len);
	}
	return buf;
}

/* Our AUTH payload (2.15): we sign our IKE_SA_INIT message, the peer's nonce and our ID. */
static int add_auth(struct ike_sa *sa, struct ike_builder *b, const struct id_body *id)
{
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_authn_octets o;
	uint8_t data[IKE_AUTHN_SIG_MAX];
	size_t len = 0;
	uint8_t method;
	int err;

	err = ike_authn_octets(&o, sa->algs.prf, sa->initiator ? sa->keys.sk_pi : sa->keys.sk_pr,
			       sa->keys.sk_p_len, id->b, id->len,
			       sa->initiator ? sa->init_req : sa->init_resp,
			       sa->initiator ? sa->init_req_len : sa->init_resp_len,
			       sa->initiator ? sa->nr : sa->ni, sa->initiator ? sa->nr_len : sa->ni_len);
	if (err < 0)
		return err;
	if (p->local.auth == IKE_AUTHK_PSK) {
		if (!p->local.psk)
			return -EINVAL;
		method = IKE_AUTH_SHARED_KEY_MIC;
		err = ike_authn_psk(sa->algs.prf, p->local.psk, p->local.psk_len, &o, data);
		len = sa->algs.prf->len;
	} else {
		/* RFC 7427 3: only when both sent SIGNATURE_HASH_ALGORITHMS. */
		if (!sa->peer_sig_hashes)
			LOG_WARNING(&sa->log, "the peer did not send SIGNATURE_HASH_ALGORITHMS; "
				    "using RFC 7427 signatures anyway");
		method = IKE_AUTH_DIGITAL_SIGNATURE;
		err = ike_authn_sign(p->local.key, &o, data, sizeof(data), &len);
	}
	if (err == 0)
		err = ike_auth_encode(b, &(struct ike_auth){ method, { data, len } });
	OPENSSL_cleanse(data, sizeof(data));
	OPENSSL_cleanse(&o, sizeof(o));
	return err;
}

static int add_cert(struct ike_builder *b, const struct ike_peer_cfg *p)
{
	unsigned char *der = NULL;
	int n, err;

	if (p->local.auth != IKE_AUTHK_SIGNATURE || !p->local.cert)
		return 0;
	n = i2d_X509(p->local.cert, &der);
	if (n <= 0)
		return -EIO;
	err = ike_cert_encode(b, &(struct ike_cert){ IKE_CERT_X509_SIG, { der, (size_t)n } });
	OPENSSL_free(der);
	return err;
}

static int add_certreq(struct ike_builder *b, const struct ike_peer_cfg *p)
{
	uint8_t hashes[IKE_CERTREQ_HASH_LEN * 16];
	size_t len = 0;

	if (p->remote.auth != IKE_AUTHK_SIGNATURE || !p->remote.trust)
		return 0;
	if (ike_authn_certreq(p->remote.trust, hashes, sizeof(hashes), &len) < 0 || len == 0)
		return 0;
	return ike_certreq_encode(b, &(struct ike_cert){ IKE_CERT_X509_SIG, { hashes, len } });
}

/* The peer's certificates (3.6): the first X.509 one is the end entity, the others may help
 * build the chain. */
struct peer_certs {
	X509 *ee;
	STACK_OF(X509) *chain;
};

static void certs_free(struct peer_certs *c)
{
	X509_free(c->ee);
	sk_X509_pop_free(c->chain, X509_free);
	memset(c, 0, sizeof(*c));
}

static void certs_load(const struct ike_rx *rx, struct peer_certs *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_cert c;
		const unsigned char *p;
		X509 *x;

		if (rx->pl->p[i].type != IKE_PT_CERT || ike_cert_decode(&rx->pl->p[i], &c) < 0 ||
		    c.encoding != IKE_CERT_X509_SIG)
			continue;
		p = c.data.data;
		x = d2i_X509(NULL, &p, (long)c.data.len);
		if (!x)
			continue;
		if (!out->ee) {
			out->ee = x;
			continue;
		}
		if (!out->chain)
			out->chain = sk_X509_new_null();
		if (!out->chain || !sk_X509_push(out->chain, x))
			X509_free(x);
	}
}

/* Verify the peer's AUTH for configuration p (2.15; RFC 7427; certificates chained to
 * remote.trust and naming the ID). 0, or -EACCES with *why set. */
static int verify_peer(struct ike_sa *sa, const struct ike_peer_cfg *p, const struct ike_rx *rx,
		       const struct ike_payload_ref *idref, const struct ike_id *id,
		       const struct ike_auth *auth, struct peer_certs *certs, const char **why)
{
	struct ike_authn_octets o;
	const char *alg = NULL, *chain_why = NULL;
	int err;

	(void)rx;
	err = ike_authn_octets(&o, sa->algs.prf, sa->initiator ? sa->keys.sk_pr : sa->keys.sk_pi,
			       sa->keys.sk_p_len, idref->body, idref->body_len,
			       sa->initiator ? sa->init_resp : sa->init_req,
			       sa->initiator ? sa->init_resp_len : sa->init_req_len,
			       sa->initiator ? sa->ni : sa->nr, sa->initiator ? sa->ni_len : sa->nr_len);
	if (err < 0) {
		*why = "cannot compute the signed octets";
		return -EACCES;
	}
	if (p->remote.auth == IKE_AUTHK_PSK) {
		const uint8_t *psk = p->remote.psk ? p->remote.psk : p->local.psk;
		size_t psk_len = p->remote.psk ? p->remote.psk_len : p->local.psk_len;

		if (auth->method != IKE_AUTH_SHARED_KEY_MIC) {
			*why = "the peer must use a pre-shared key";
			return -EACCES;
		}
		if (!psk || ike_authn_psk_verify(sa->algs.prf, psk, psk_len, &o, auth->data.data,
						 auth->data.len) < 0) {
			*why = "pre-shared key AUTH does not verify";
			return -EACCES;
		}
		return 0;
	}
	if (auth->method != IKE_AUTH_DIGITAL_SIGNATURE) {
		*why = "the peer must use RFC 7427 digital signatures";
		return -EACCES;
	}
	if (!certs->ee) {
		*why = "no X.509 certificate from the peer";
		return -EACCES;
	}
	if (ike_authn_cert_verify(certs->ee, certs->chain, p->remote.trust, &chain_why) < 0) {
		*why = chain_why ? chain_why : "certificate not trusted";
		return -EACCES;
	}
	if (!ike_authn_cert_has_id(certs->ee, id->type, id->data.data, id->data.len)) {
		*why = "the certificate does not name the peer's ID";
		return -EACCES;
	}
	err = ike_authn_verify(certs->ee, auth->data.data, auth->data.len, &o, &alg);
	if (err < 0) {
		*why = err == -ENOTSUP ? "signature algorithm not supported" :
		       "signature does not verify";
		return -EACCES;
	}
	LOG_DEBUG(&sa->log, "peer signature verified (%s)", alg ? alg : "?");
	return 0;
}

/* --- initiator ------------------------------------------------------------------------------ */

struct sibling {
	const struct ike_sa *self;
	bool found;
};

static void find_sibling(struct ike_sa *other, void *arg)
{
	struct sibling *s = arg;

	if (other != s->self && other->initiator && other->peer == s->self->peer &&
	    other->state != IKE_SA_DEAD)
		s->found = true;
}

/* 2.21.2: "If the error occurs on the initiator, the notification MAY be returned in a
 * separate INFORMATIONAL exchange": tell the responder, whose SA is up, once (no
 * retransmission: we are gone either way). */
static void tell_auth_failed(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_out_msg *o = &sa->e->om;

	if (ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id) == 0 &&
	    ike_notify_add(&o->b, IKE_N_AUTHENTICATION_FAILED, NULL, 0) == 0 &&
	    ike_msg_end(sa, o) == 0) {
		sa->next_req_id++;
		sa->e->st.tx++;
		ike_act_send(rx->out, &sa->local, &sa->remote, o->buf, o->len);
	}
}

int ike_auth_start(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_out_msg *o = &e->om;
	struct ike_request *r = &sa->req;
	struct ike_sa_payload offer;
	struct ike_ts_list tsi, tsr;
	struct id_body idi, idr;
	uint8_t spi[4];
	uint32_t spi_in = 0;
	int err;

	ike_request_clear(r);
	if (p->local_ts.n)
		r->ts_local = p->local_ts;
	else
		ike_ts4_any(&r->ts_local);
	if (p->remote_ts.n)
		r->ts_remote = p->remote_ts;
	else
		ike_ts4_any(&r->ts_remote);
	ike_ts_to_wire(&r->ts_local, &tsi);
	ike_ts_to_wire(&r->ts_remote, &tsr);
	err = ike_engine_new_esp_spi(e, &spi_in);
	if (err == 0)
		err = ike_engine_child_index(e, sa, spi_in);
	if (err < 0)
		return err;
	r->new_spi_in = spi_in;
	spi[0] = (uint8_t)(spi_in >> 24);
	spi[1] = (uint8_t)(spi_in >> 16);
	spi[2] = (uint8_t)(spi_in >> 8);
	spi[3] = (uint8_t)spi_in;
	err = ike_proposal_offer(&p->esp, IKE_SUITE_ESP, false, spi, 4, &offer);
	if (err == 0)
		err = make_id(sa, p, &idi);
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_AUTH, false, sa->next_req_id);
	if (err == 0)
		err = add_id(&o->b, IKE_PT_IDI, &idi);
	if (err == 0)
		err = add_cert(&o->b, p);
	/* 3.10.1: "this is the only IKE SA currently active between the authenticated
	 * identities" lets the responder drop SAs left over from before our restart; not sent
	 * when we have another SA with this peer. */
	if (err == 0) {
		struct sibling sib = { sa, false };

		ike_engine_foreach(e, find_sibling, &sib);
		if (!sib.found)
			err = ike_notify_add(&o->b, IKE_N_INITIAL_CONTACT, NULL, 0);
	}
	if (err == 0)
		err = add_certreq(&o->b, p);
	if (err == 0 && p->remote_id.type && p->remote_id.len <= IKE_ID_MAX) {
		memset(&idr, 0, sizeof(idr));
		idr.b[0] = p->remote_id.type;
		memcpy(idr.b + 4, p->remote_id.data, p->remote_id.len);
		idr.len = 4 + p->remote_id.len;
		err = add_id(&o->b, IKE_PT_IDR, &idr);
	}
	if (err == 0)
		err = add_auth(sa, &o->b, &idi);
	if (err == 0 && p->request_address)
		err = ike_cp_add_request(&o->b);
	if (err == 0 && p->mobike)
		err = ike_notify_add(&o->b, IKE_N_MOBIKE_SUPPORTED, NULL, 0);
	/* RFC 4555 3.4: our other addresses, if we announce them. */
	if (err == 0 && p->mobike && e->cfg.announce_addresses)
		err = ike_mobike_add_addresses(sa, &o->b, sa->local.addr, false);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &offer);
	if (err == 0)
		err = ike_ts_encode(&o->b, IKE_PT_TSI, &tsi);
	if (err == 0)
		err = ike_ts_encode(&o->b, IKE_PT_TSR, &tsr);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0)
		err = ike_sa_send_request(sa, o, IKE_TASK_AUTH, now, out);
	if (err < 0) {
		ike_engine_child_unindex(e, sa, spi_in);
		r->new_spi_in = 0;
		return err;
	}
	return ike_sa_set_state(sa, IKE_SA_AUTH_SENT, "IKE_AUTH request sent");
}

/* The first Child SA from the responder's answer (initiator side). */
static void first_child_initiator(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	const struct ike_peer_cfg *p = sa->peer;
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rtsi = ike_rx_find(rx, IKE_PT_TSI);
	const struct ike_payload_ref *rtsr = ike_rx_find(rx, IKE_PT_TSR);
	struct ike_sa_payload choice;
	struct ike_ts_list tsi, tsr;
	struct ike_suite suite;
	struct ike_child *c;
	uint16_t errn = ike_rx_error_notify(rx);
	char name[NAME_BUF_SIZE];

	if (!rsa) {
		LOG_WARNING(&sa->log, "no Child SA: %s", errn ?
			    ike_notify_name(errn, name, sizeof(name)) : "the responder made none");
		return;
	}
	if (ike_sa_payload_decode(rsa, IKE_SA_CHOICE, &choice) < 0 ||
	    ike_proposal_accept(&p->esp, IKE_SUITE_ESP, false, &choice, &suite) < 0 ||
	    choice.p[0].spi_size != 4 || !rtsi || !rtsr || ike_ts_decode(rtsi, &tsi) < 0 ||
	    ike_ts_decode(rtsr, &tsr) < 0) {
		LOG_WARNING(&sa->log, "no Child SA: the responder's SA or selectors are not "
			    "ones we proposed");
		return;
	}
	c = ike_sa_child_new(sa);
	if (!c)
		return;
	c->spi_in = req->new_spi_in;
	c->spi_out = ike_proposal_spi32(&choice.p[0]);
	c->suite = suite;
	ike_ts_from_wire(&tsi, &c->ts_local);
	ike_ts_from_wire(&tsr, &c->ts_remote);
	if (!ike_ts_within(&c->ts_local, &req->ts_local) ||
	    !ike_ts_within(&c->ts_remote, &req->ts_remote)) {
		LOG_WARNING(&sa->log, "no Child SA: the responder widened our traffic selectors");
		memset(c, 0, sizeof(*c));
		return;
	}
	c->established = rx->now;
	if (ike_child_install(sa, c, true, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len, 0,
			      rx->out) < 0) {
		memset(c, 0, sizeof(*c));
		return;
	}
	req->new_spi_in = 0;          /* now the Child SA's: stays indexed */
}

int ike_auth_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	const struct ike_payload_ref *ridr = ike_rx_find(rx, IKE_PT_IDR);
	const struct ike_payload_ref *rauth = ike_rx_find(rx, IKE_PT_AUTH);
	const struct ike_payload_ref *rcp = ike_rx_find(rx, IKE_PT_CP);
	struct ike_id idr;
	struct ike_auth auth;
	struct peer_certs certs;
	const char *why = NULL;
	char reason[200], name[NAME_BUF_SIZE], idt[128];
	uint16_t errn;
	int err;

	if (sa->state != IKE_SA_AUTH_SENT)
		return -EAGAIN;
	if (!rauth || !ridr) {
		errn = ike_rx_error_notify(rx);
		if (errn == IKE_N_AUTHENTICATION_FAILED)
			e->st.auth_failures++;
		snprintf(reason, sizeof(reason), "IKE_AUTH refused: %s",
			 errn ? ike_notify_name(errn, name, sizeof(name)) : "no AUTH");
		LOG_WARNING(&sa->log, "%s", reason);
		ike_sa_kill(sa, reason, rx->out);
		return 0;
	}
	if (ike_id_decode(ridr, &idr) < 0 || ike_auth_decode(rauth, &auth) < 0) {
		ike_sa_kill(sa, "IKE_AUTH response with a malformed IDr or AUTH", rx->out);
		return 0;
	}
	if (p->remote_id.type && !id_equal(&p->remote_id, &idr)) {
		snprintf(reason, sizeof(reason), "the responder is %s, not the configured identity",
			 id_text(&idr, idt, sizeof(idt)));
		e->st.auth_failures++;
		LOG_WARNING(&sa->log, "%s", reason);
		tell_auth_failed(sa, rx);
		ike_sa_kill(sa, reason, rx->out);
		return 0;
	}
	certs_load(rx, &certs);
	err = verify_peer(sa, p, rx, ridr, &idr, &auth, &certs, &why);
	certs_free(&certs);
	if (err < 0) {
		snprintf(reason, sizeof(reason), "authentication of the responder %s failed: %s",
			 id_text(&idr, idt, sizeof(idt)), why);
		e->st.auth_failures++;
		LOG_WARNING(&sa->log, "%s", reason);
		tell_auth_failed(sa, rx);
		ike_sa_kill(sa, reason, rx->out);
		return 0;
	}
	id_store(&sa->peer_id, &idr);
	sa->mobike = p->mobike &&
		     ike_rx_notify(rx, IKE_N_MOBIKE_SUPPORTED, &(struct ike_notify){ 0 }) == 0;
	ike_mobike_auth_done(sa, rx);     /* RFC 4555 3.4: role, the peer's addresses */
	if (rcp) {
		struct ike_cp cp;

		if (ike_cp_decode(rcp, &cp) == 0 &&
		    ike_cp_read_reply(&cp, &sa->inner_addr, sa->dns, &sa->ndns) == 0) {
			char a[INET_ADDRSTRLEN];

			LOG_INFO(&sa->log, "inner address %s, %zu DNS servers",
				 inet_ntop(AF_INET, &sa->inner_addr, a, sizeof(a)), sa->ndns);
		}
	} else if (p->request_address) {
		LOG_WARNING(&sa->log, "asked for an inner address, got none");
	}
	ike_sa_established(sa, rx->now, rx->out);
	first_child_initiator(sa, rx, req);
	return 0;
}

/* --- responder ------------------------------------------------------------------------------ */

struct initial_contact {
	struct ike_sa *keep;
	struct ike_actions *out;
};

static void drop_old_sa(struct ike_sa *other, void *arg)
{
	struct initial_contact *ic = arg;
	const struct ike_sa *sa = ic->keep;

	if (other == sa || other->initiator ||
	    (other->state != IKE_SA_ESTABLISHED && other->state != IKE_SA_REKEYED) ||
	    other->peer_id.type != sa->peer_id.type || other->peer_id.len != sa->peer_id.len ||
	    memcmp(other->peer_id.data, sa->peer_id.data, sa->peer_id.len) != 0 ||
	    !ike_actions_room(ic->out, IKE_SA_MAX_CHILDREN + 2, 0))
		return;
	LOG_NOTICE(&other->log, "the peer says it has no other IKE SA (INITIAL_CONTACT): "
		   "removing this one");
	ike_sa_kill(other, "replaced: the peer connected again (INITIAL_CONTACT)", ic->out);
}

/* Select the peer configuration and verify AUTH: exact IDi matches first, then the
 * configurations that take any identity (2.15; remote_id type 0). */
static const struct ike_peer_cfg *authenticate(struct ike_sa *sa, const struct ike_rx *rx,
					       const struct ike_payload_ref *idref,
					       const struct ike_id *id, const struct ike_auth *auth,
					       const char **why)
{
	struct ike_engine *e = sa->e;
	struct peer_certs certs;
	const struct ike_peer_cfg *found = NULL;

	*why = "no peer configuration for this identity";
	certs_load(rx, &certs);
	for (int pass = 0; pass < 2 && !found; pass++) {
		for (size_t i = 0; i < e->cfg.npeers && !found; i++) {
			const struct ike_peer_cfg *p = &e->cfg.peers[i];
			const char *w = NULL;

			if (pass == 0 ? !(p->remote_id.type && id_equal(&p->remote_id, id)) :
			    p->remote_id.type != 0)
				continue;
			if (verify_peer(sa, p, rx, idref, id, auth, &certs, &w) == 0)
				found = p;
			else
				*why = w;
		}
	}
	certs_free(&certs);
	return found;
}

/* The first Child SA on the responder: CP, proposal, selectors. Returns the error notify to
 * send instead (0: made), the Child SA in *out. */
static uint16_t first_child_responder(struct ike_sa *sa, struct ike_rx *rx, struct ike_child **out,
				      struct ike_sa_payload *choice, bool *cp_reply)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rtsi = ike_rx_find(rx, IKE_PT_TSI);
	const struct ike_payload_ref *rtsr = ike_rx_find(rx, IKE_PT_TSR);
	const struct ike_payload_ref *rcp = ike_rx_find(rx, IKE_PT_CP);
	const struct ike_proposal *prop = NULL;
	struct ike_sa_payload offer;
	struct ike_ts_list tsi, tsr;
	struct ike_ts4_list want_i, want_r, allow_i, allow_r;
	struct ike_suite suite;
	struct ike_child *c;
	uint32_t spi_in;
	uint8_t spi[4];
	char a[INET_ADDRSTRLEN];

	*cp_reply = false;
	/* 3.15.4: an address that cannot be given means no Child SA. */
	if (rcp) {
		struct ike_cp cp;
		struct ike_cp_want want;

		if (ike_cp_decode(rcp, &cp) == 0 && ike_cp_read_request(&cp, &want) == 0 &&
		    want.addr && p->assign_address) {
			int rc = e->cfg.ops.pool_acquire ?
				 e->cfg.ops.pool_acquire(e->cfg.ops.user, p, &sa->peer_id,
							 &sa->inner_addr) : -ENOSPC;

			if (rc < 0) {
				e->st.pool_exhausted++;
				LOG_WARNING(&sa->log, "no inner address for the peer (%s): answering "
					    "INTERNAL_ADDRESS_FAILURE", strerror(-rc));
				return IKE_N_INTERNAL_ADDRESS_FAILURE;
			}
			sa->inner_leased = true;
			if (e->cfg.ops.dns_servers)
				sa->ndns = e->cfg.ops.dns_servers(e->cfg.ops.user, sa->dns, 2);
			if (sa->ndns > 2)
				sa->ndns = 2;
			if (!want.dns)
				sa->ndns = 0;
			*cp_reply = true;
			LOG_INFO(&sa->log, "inner address %s",
				 inet_ntop(AF_INET, &sa->inner_addr, a, sizeof(a)));
		}
	}
	if (!rsa)
		return 0;
	if (ike_sa_payload_decode(rsa, IKE_SA_OFFER, &offer) < 0 || !rtsi || !rtsr ||
	    ike_ts_decode(rtsi, &tsi) < 0 || ike_ts_decode(rtsr, &tsr) < 0)
		return IKE_N_INVALID_SYNTAX;
	if (ike_proposal_select(&p->esp, IKE_SUITE_ESP, false, &offer, &suite, &prop) < 0 ||
	    prop->spi_size != 4) {
		e->st.no_proposal++;
		LOG_WARNING(&sa->log, "no ESP proposal in common: answering NO_PROPOSAL_CHOSEN");
		return IKE_N_NO_PROPOSAL_CHOSEN;
	}
	/* 2.9: narrow. TSi is the peer's side: its inner address if CP gave one. */
	ike_ts_from_wire(&tsi, &want_i);
	ike_ts_from_wire(&tsr, &want_r);
	if (*cp_reply)
		ike_ts4_host(&allow_i, sa->inner_addr);
	else if (p->remote_ts.n)
		allow_i = p->remote_ts;
	else
		ike_ts4_any(&allow_i);
	if (p->local_ts.n)
		allow_r = p->local_ts;
	else
		ike_ts4_any(&allow_r);
	c = ike_sa_child_new(sa);
	if (!c)
		return IKE_N_NO_ADDITIONAL_SAS;
	if (ike_ts_narrow(&want_i, &allow_i, &c->ts_remote) < 0 ||
	    ike_ts_narrow(&want_r, &allow_r, &c->ts_local) < 0) {
		memset(c, 0, sizeof(*c));
		LOG_WARNING(&sa->log, "traffic selectors do not fit ours: answering "
			    "TS_UNACCEPTABLE");
		return IKE_N_TS_UNACCEPTABLE;
	}
	if (ike_engine_new_esp_spi(e, &spi_in) < 0 || ike_engine_child_index(e, sa, spi_in) < 0) {
		memset(c, 0, sizeof(*c));
		return IKE_N_NO_ADDITIONAL_SAS;
	}
	c->state = IKE_CHILD_INSTALLED;
	c->spi_in = spi_in;
	c->spi_out = ike_proposal_spi32(prop);
	c->suite = suite;
	c->established = rx->now;
	spi[0] = (uint8_t)(spi_in >> 24);
	spi[1] = (uint8_t)(spi_in >> 16);
	spi[2] = (uint8_t)(spi_in >> 8);
	spi[3] = (uint8_t)spi_in;
	if (ike_proposal_choice(&suite, IKE_SUITE_ESP, false, prop->num, spi, 4, choice) < 0) {
		ike_sa_child_remove(sa, c, false, rx->out);
		return IKE_N_NO_PROPOSAL_CHOSEN;
	}
	*out = c;
	return 0;
}

static void auth_failed(struct ike_sa *sa, struct ike_rx *rx, const char *who, const char *why)
{
	struct ike_engine *e = sa->e;

	e->st.auth_failures++;
	LOG_WARNING(&sa->log, "authentication of %s failed: %s: answering AUTHENTICATION_FAILED",
		    who, why);
	/* 2.21.2: the error goes in the (encrypted) response; the SA is gone after it. */
	ike_sa_send_notify_response(sa, rx, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
	ike_sa_kill(sa, "authentication failed", rx->out);
}

int ike_auth_request(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_engine *e = sa->e;
	const struct ike_payload_ref *ridi = ike_rx_find(rx, IKE_PT_IDI);
	const struct ike_payload_ref *rauth = ike_rx_find(rx, IKE_PT_AUTH);
	struct ike_out_msg *o = &e->om;
	const struct ike_peer_cfg *p;
	struct ike_id idi;
	struct ike_auth auth;
	struct ike_sa_payload choice;
	struct ike_child *c = NULL;
	struct id_body idr;
	const char *why = NULL;
	char idt[128];
	bool cp_reply = false;
	uint16_t child_err;
	int err;

	if (sa->state != IKE_SA_INIT_DONE) {
		/* Only the first IKE_AUTH is one; EAP rounds are not supported. */
		ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_SYNTAX, NULL, 0);
		return 0;
	}
	/* Our IKE_SA_INIT answer to this request: a round trip plus the initiator's work. */
	if (sa->init_answered_at && rx->now > sa->init_answered_at && !sa->rtt)
		sa->rtt = rx->now - sa->init_answered_at;
	if (!ridi || ike_id_decode(ridi, &idi) < 0) {
		auth_failed(sa, rx, "the peer", "no usable IDi");
		return 0;
	}
	id_text(&idi, idt, sizeof(idt));
	if (!rauth || ike_auth_decode(rauth, &auth) < 0) {
		/* 2.16: no AUTH asks for EAP, which we do not do. */
		auth_failed(sa, rx, idt, "no AUTH payload (EAP is not supported)");
		return 0;
	}
	p = authenticate(sa, rx, ridi, &idi, &auth, &why);
	if (!p) {
		auth_failed(sa, rx, idt, why);
		return 0;
	}
	sa->peer = p;
	id_store(&sa->peer_id, &idi);
	LOG_INFO(&sa->log, "peer %s authenticated (%s, %s)", idt, p->name ? p->name : "?",
		 auth.method == IKE_AUTH_SHARED_KEY_MIC ? "pre-shared key" : "signature");
	if (ike_rx_notify(rx, IKE_N_INITIAL_CONTACT, &(struct ike_notify){ 0 }) == 0)
		ike_engine_foreach(e, drop_old_sa, &(struct initial_contact){ sa, rx->out });
	sa->mobike = p->mobike &&
		     ike_rx_notify(rx, IKE_N_MOBIKE_SUPPORTED, &(struct ike_notify){ 0 }) == 0;
	ike_mobike_auth_done(sa, rx);     /* RFC 4555 3.4: role, the peer's addresses */
	if (ike_rx_notify(rx, IKE_N_USE_TRANSPORT_MODE, &(struct ike_notify){ 0 }) == 0)
		LOG_INFO(&sa->log, "the peer asks for transport mode: declined, tunnel mode");

	child_err = first_child_responder(sa, rx, &c, &choice, &cp_reply);
	err = make_id(sa, p, &idr);
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_AUTH, true, rx->m->hdr.msg_id);
	if (err == 0)
		err = add_id(&o->b, IKE_PT_IDR, &idr);
	if (err == 0)
		err = add_cert(&o->b, p);
	if (err == 0)
		err = add_auth(sa, &o->b, &idr);
	if (err == 0 && cp_reply)
		err = ike_cp_add_reply(&o->b, sa->inner_addr, sa->dns, sa->ndns);
	if (err == 0 && sa->mobike)
		err = ike_notify_add(&o->b, IKE_N_MOBIKE_SUPPORTED, NULL, 0);
	if (err == 0 && sa->mobike && e->cfg.announce_addresses)
		err = ike_mobike_add_addresses(sa, &o->b, sa->local.addr, false);
	if (err == 0 && child_err)
		err = ike_notify_add(&o->b, child_err, NULL, 0);
	if (err == 0 && c) {
		struct ike_ts_list tsi, tsr;

		ike_ts_to_wire(&c->ts_remote, &tsi);
		ike_ts_to_wire(&c->ts_local, &tsr);
		err = ike_sa_payload_encode(&o->b, &choice);
		if (err == 0)
			err = ike_ts_encode(&o->b, IKE_PT_TSI, &tsi);
		if (err == 0)
			err = ike_ts_encode(&o->b, IKE_PT_TSR, &tsr);
	}
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err < 0) {
		LOG_ERROR(&sa->log, "cannot answer IKE_AUTH: %s", strerror(-err));
		ike_sa_kill(sa, "cannot answer IKE_AUTH", rx->out);
		return err;
	}
	/* Actions: SA_UP, CHILD_UP, then the response that lets the peer use it (2.8). */
	ike_sa_established(sa, rx->now, rx->out);
	if (c && ike_child_install(sa, c, false, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len,
				   0, rx->out) < 0)
		ike_sa_child_remove(sa, c, false, rx->out);
	return ike_sa_send_response(sa, o, rx);
}
