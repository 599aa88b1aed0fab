/* Daemon configuration files: INI syntax (GKeyFile), typed getters with ONE clear error line.
 *
 *	struct cfg c;
 *	if (cfg_load(&c, path) < 0) return 1;                  // error already logged
 *	cfg_warn_unknown(&c, "home-agent", known_keys);        // typos are not silent
 *	rc = cfg_get_addr4(&c, "home-agent", "address", CFG_REQUIRED, NULL, &addr);
 *	rc = cfg_get_uint(&c, "home-agent", "max-lifetime", CFG_OPTIONAL, 1, 65535, 600, &v);
 *	cfg_free(&c);
 *
 * Every getter returns 0 when the key was present and valid, 1 when it was absent and the
 * default (if any) was stored, or a negative errno after logging exactly one error line
 *	FILE: [group] key: reason        e.g.  mnd.conf: [mobile-node] home-agent: "1.2.3" is
 *	                                       not an IPv4 address
 * (-ENOENT: a required key is missing; -EINVAL: the value is bad). FILE is the path as given
 * to cfg_load. On error and when absent without a default, *out is untouched. Values are
 * trimmed of surrounding white space; an empty value is an error ("value is empty").
 *
 * Lines go through common/log.h with the program name (g_get_prgname(), set by
 * daemon_parse_args) as the logger prefix.
 */
#ifndef MM_DAEMON_CONFIG_H
#define MM_DAEMON_CONFIG_H

#include <glib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg {
	GKeyFile *kf;
	char *path;      /* as given to cfg_load, for messages */
	char *dir;       /* directory of the file, for relative paths in cfg_get_path */
};

enum cfg_need {
	CFG_OPTIONAL = 0, /* absent: store the default (if the getter has one) and return 1 */
	CFG_REQUIRED = 1, /* absent: "FILE: [group] key: missing (required)", -ENOENT */
};

/* Read and parse path. Errors (logged, *c untouched): -ENOENT "cannot read FILE: No such
 * file or directory", -EACCES etc. for unreadable files, -EINVAL for a syntax error
 * ("FILE:3: not a \"key = value\" line, [group] or # comment: \"foo\""). */
int cfg_load(struct cfg *c, const char *path);
/* Parse text instead of a file; name is used in messages and relative paths resolve against
 * dir (NULL: the current directory). For tests and for built-in defaults. */
int cfg_load_data(struct cfg *c, const char *name, const char *dir, const char *text);
void cfg_free(struct cfg *c);

bool cfg_has_group(const struct cfg *c, const char *group);
bool cfg_has_key(const struct cfg *c, const char *group, const char *key);

/* Log one warning per key of group that is not in known[] (NULL-terminated):
 * "FILE: [group] lifetme: unknown key (ignored)". Returns how many there were. */
int cfg_warn_unknown(const struct cfg *c, const char *group, const char *const *known);
/* The same for groups: "FILE: [grup]: unknown group (ignored)". */
int cfg_warn_unknown_groups(const struct cfg *c, const char *const *known);

/* String value (g_free it). def may be NULL (then an absent optional key leaves *out alone). */
int cfg_get_string(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		   const char *def, char **out);
/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
int cfg_get_bool(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 bool def, bool *out);
/* Decimal digits only (no sign, no 0x), min <= value <= max:
 * "lifetime: 70000 is out of range (1..65535)". */
int cfg_get_uint(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 uint32_t min, uint32_t max, uint32_t def, uint32_t *out);
/* Strict dotted quad (addr4_parse). def is a dotted quad or NULL. */
int cfg_get_addr4(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		  const char *def, struct in_addr *out);
/* "a.b.c.d/len" naming a network: host bits set is an error ("198.18.1.1/24 has host bits
 * set; the network is 198.18.1.0/24"). def is such a string or NULL. */
int cfg_get_prefix4(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		    const char *def, struct in_addr *net, unsigned *plen);
/* Interface name: 1..15 bytes, no '/', white space or ':', not "." or "..". */
int cfg_get_ifname(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		   const char *def, char out[IFNAMSIZ]);
/* Comma-separated list, items trimmed, empty items are an error. *out is a NULL-terminated
 * vector (g_strfreev), *n its length (n may be NULL). def is a comma-separated string or NULL. */
int cfg_get_string_list(const struct cfg *c, const char *group, const char *key,
			enum cfg_need need, const char *def, char ***out, size_t *n);
/* A file path (g_free it): relative paths are taken relative to the configuration file's
 * directory and returned absolute. def is used as written (absolute or relative to the file). */
int cfg_get_path(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 const char *def, char **out);
/* One of choices[] (NULL-terminated, matched case-sensitively); *out is its index:
 * "udp-tunnel: \"maybe\" is not one of: auto, force, off". def is an index. */
int cfg_get_enum(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 const char *const *choices, int def, int *out);

/* Strict unsigned decimal: digits only (no sign, space or prefix); 0, -EINVAL, or -ERANGE
 * beyond UINT32_MAX. *out untouched on failure. Shared with the key-table parser. */
int cfg_parse_u32(const char *s, uint32_t *out);

#endif
