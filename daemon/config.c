/* Configuration files over GKeyFile with typed getters (see config.h). */
#include "daemon/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"

#define CFG_MAX_FILE (1024 * 1024)

static void prog_logger(struct logger *lg)
{
	const char *p = g_get_prgname();

	logger_init(lg, "%s", p ? p : "config");
}

/* One error line "FILE: [group] key: reason". */
static void __attribute__((format(printf, 4, 5)))
key_error(const struct cfg *c, const char *group, const char *key, const char *fmt, ...)
{
	struct logger lg;
	char *reason;
	va_list ap;

	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	prog_logger(&lg);
	LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, group, key, reason);
	g_free(reason);
}

static int read_file(const char *path, char **text)
{
	struct stat st;
	GString *s;
	char buf[4096];
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	s = g_string_new(NULL);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (s->len + (size_t)n > CFG_MAX_FILE) {
			rc = -EFBIG;
			break;
		}
		g_string_append_len(s, buf, n);
	}
	close(fd);
	if (rc < 0) {
		g_string_free(s, TRUE);
		return rc;
	}
	*text = g_string_free(s, FALSE);
	return 0;
}

/* GKeyFile's own syntax errors name no line (and are translated): find the first bad line
 * ourselves. Returns 0, or -EINVAL after logging "FILE:N: reason". */
static int check_syntax(const char *name, const char *text, const struct logger *lg)
{
	bool in_group = false;
	unsigned lineno = 0;
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char *l = g_strndup(line, n);
		const char *why = NULL;

		lineno++;
		g_strstrip(l);
		if (!*l || *l == '#') {
			/* blank or comment */
		} else if (*l == '[') {
			if (l[strlen(l) - 1] != ']' || strlen(l) < 3 || strpbrk(l + 1, "[") ||
			    strchr(l, ']') != l + strlen(l) - 1)
				why = "not a valid [group] line";
			in_group = true;
		} else if (*l == '=' || !strchr(l, '=')) {
			why = "not a \"key = value\" line, [group] or # comment";
		} else if (!in_group) {
			why = "key before the first [group]";
		}
		if (why) {
			LOG_ERROR(lg, "%s:%u: %s: \"%s\"", name, lineno, why, l);
			g_free(l);
			return -EINVAL;
		}
		g_free(l);
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int cfg_load_data(struct cfg *c, const char *name, const char *dir, const char *text)
{
	struct logger lg;
	GKeyFile *kf;
	GError *err = NULL;
	char *abs_dir;

	if (!c || !name || !text)
		return -EINVAL;
	prog_logger(&lg);
	if (check_syntax(name, text, &lg) < 0)
		return -EINVAL;
	kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &err)) {
		LOG_ERROR(&lg, "%s: cannot parse: %s", name, err->message);
		g_error_free(err);
		g_key_file_free(kf);
		return -EINVAL;
	}
	abs_dir = g_canonicalize_filename(dir ? dir : ".", NULL);
	c->kf = kf;
	c->path = g_strdup(name);
	c->dir = abs_dir;
	return 0;
}

int cfg_load(struct cfg *c, const char *path)
{
	struct logger lg;
	char *text = NULL, *canon, *dir;
	int rc;

	if (!c || !path)
		return -EINVAL;
	rc = read_file(path, &text);
	if (rc < 0) {
		prog_logger(&lg);
		LOG_ERROR(&lg, "cannot read configuration file %s: %s", path, g_strerror(-rc));
		return rc;
	}
	canon = g_canonicalize_filename(path, NULL);
	dir = g_path_get_dirname(canon);
	rc = cfg_load_data(c, path, dir, text);
	g_free(dir);
	g_free(canon);
	g_free(text);
	return rc;
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	if (c->kf)
		g_key_file_free(c->kf);
	g_free(c->path);
	g_free(c->dir);
	memset(c, 0, sizeof(*c));
}

bool cfg_has_group(const struct cfg *c, const char *group)
{
	return c && c->kf && g_key_file_has_group(c->kf, group);
}

bool cfg_has_key(const struct cfg *c, const char *group, const char *key)
{
	return c && c->kf && g_key_file_has_key(c->kf, group, key, NULL);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

int cfg_warn_unknown(const struct cfg *c, const char *group, const char *const *known)
{
	struct logger lg;
	char **keys;
	int n = 0;

	if (!c || !c->kf || !group)
		return 0;
	keys = g_key_file_get_keys(c->kf, group, NULL, NULL);
	if (!keys)
		return 0;
	prog_logger(&lg);
	for (char **k = keys; *k; k++) {
		if (in_list(*k, known))
			continue;
		LOG_WARNING(&lg, "%s: [%s] %s: unknown key (ignored)", c->path, group, *k);
		n++;
	}
	g_strfreev(keys);
	return n;
}

int cfg_warn_unknown_groups(const struct cfg *c, const char *const *known)
{
	struct logger lg;
	char **groups;
	int n = 0;

	if (!c || !c->kf)
		return 0;
	groups = g_key_file_get_groups(c->kf, NULL);
	prog_logger(&lg);
	for (char **g = groups; g && *g; g++) {
		if (in_list(*g, known))
			continue;
		LOG_WARNING(&lg, "%s: [%s]: unknown group (ignored)", c->path, *g);
		n++;
	}
	g_strfreev(groups);
	return n;
}

/* The raw value, trimmed: 0 and *val (g_free), 1 absent (optional), or a logged error. */
static int raw_value(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		     char **val)
{
	char *v;

	if (!c || !c->kf || !group || !key)
		return -EINVAL;
	v = g_key_file_get_value(c->kf, group, key, NULL);
	if (!v) {
		if (need == CFG_REQUIRED) {
			key_error(c, group, key, "missing (required)");
			return -ENOENT;
		}
		return 1;
	}
	g_strstrip(v);
	if (!*v) {
		key_error(c, group, key, "value is empty");
		g_free(v);
		return -EINVAL;
	}
	*val = v;
	return 0;
}

/* Value or default: 0 (value), 1 (default, or nothing when def is NULL: *val stays NULL). */
static int value_or_default(const struct cfg *c, const char *group, const char *key,
			    enum cfg_need need, const char *def, char **val)
{
	int rc = raw_value(c, group, key, need, val);

	if (rc == 1)
		*val = def ? g_strdup(def) : NULL;
	return rc;
}

int cfg_get_string(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		   const char *def, char **out)
{
	char *v = NULL;
	int rc;

	if (!out)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0)
		return rc;
	if (v)
		*out = v;
	return rc;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };

	for (const char *const *p = yes; *p; p++)
		if (g_ascii_strcasecmp(s, *p) == 0) {
			*out = true;
			return 0;
		}
	for (const char *const *p = no; *p; p++)
		if (g_ascii_strcasecmp(s, *p) == 0) {
			*out = false;
			return 0;
		}
	return -EINVAL;
}

int cfg_get_bool(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 bool def, bool *out)
{
	char *v = NULL;
	bool b;
	int rc;

	if (!out)
		return -EINVAL;
	rc = raw_value(c, group, key, need, &v);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*out = def;
		return 1;
	}
	rc = parse_bool(v, &b);
	if (rc < 0)
		key_error(c, group, key, "\"%s\" is not a boolean (true or false)", v);
	else
		*out = b;
	g_free(v);
	return rc;
}

int cfg_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int cfg_get_uint(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 uint32_t min, uint32_t max, uint32_t def, uint32_t *out)
{
	char *v = NULL;
	uint32_t n = 0;
	int rc;

	if (!out)
		return -EINVAL;
	rc = raw_value(c, group, key, need, &v);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*out = def;
		return 1;
	}
	rc = cfg_parse_u32(v, &n);
	if (rc == -EINVAL)
		key_error(c, group, key, "\"%s\" is not a decimal number", v);
	else if (rc == -ERANGE || n < min || n > max)
		key_error(c, group, key, "%s is out of range (%u..%u)", v, (unsigned)min,
			  (unsigned)max);
	else
		*out = n;
	g_free(v);
	return rc < 0 || n < min || n > max ? -EINVAL : 0;
}

int cfg_get_addr4(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		  const char *def, struct in_addr *out)
{
	struct in_addr a;
	char *v = NULL;
	int rc;

	if (!out)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0 || !v)
		return rc;
	if (addr4_parse(v, &a) < 0) {
		key_error(c, group, key, "\"%s\" is not an IPv4 address", v);
		rc = -EINVAL;
	} else {
		*out = a;
	}
	g_free(v);
	return rc;
}

int cfg_get_prefix4(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		    const char *def, struct in_addr *net, unsigned *plen)
{
	struct in_addr a;
	unsigned l;
	char *v = NULL;
	char buf[ADDR4_STRLEN];
	int rc, prc;

	if (!net || !plen)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0 || !v)
		return rc;
	prc = prefix4_parse(v, &a, &l);
	if (prc < 0) {
		key_error(c, group, key, "\"%s\" is not an IPv4 prefix (a.b.c.d/len)", v);
		rc = -EINVAL;
	} else if (prc > 0) {
		key_error(c, group, key, "%s has host bits set; the network is %s/%u", v,
			  addr4_str(prefix4_network(a, l), buf), l);
		rc = -EINVAL;
	} else {
		*net = a;
		*plen = l;
	}
	g_free(v);
	return rc;
}

int cfg_get_ifname(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		   const char *def, char out[IFNAMSIZ])
{
	char *v = NULL;
	int rc;

	if (!out)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0 || !v)
		return rc;
	if (strlen(v) >= IFNAMSIZ) {
		key_error(c, group, key, "\"%s\" is longer than %d characters", v, IFNAMSIZ - 1);
		rc = -EINVAL;
	} else if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || strpbrk(v, "/: \t")) {
		key_error(c, group, key, "\"%s\" is not a valid interface name", v);
		rc = -EINVAL;
	} else {
		memset(out, 0, IFNAMSIZ);
		memcpy(out, v, strlen(v));
	}
	g_free(v);
	return rc;
}

int cfg_get_string_list(const struct cfg *c, const char *group, const char *key,
			enum cfg_need need, const char *def, char ***out, size_t *n)
{
	char *v = NULL;
	char **items;
	size_t count = 0;
	int rc;

	if (!out)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0 || !v)
		return rc;
	items = g_strsplit(v, ",", -1);
	for (char **p = items; *p; p++, count++) {
		g_strstrip(*p);
		if (!**p) {
			key_error(c, group, key, "\"%s\" has an empty item", v);
			g_strfreev(items);
			g_free(v);
			return -EINVAL;
		}
	}
	g_free(v);
	*out = items;
	if (n)
		*n = count;
	return rc;
}

int cfg_get_path(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 const char *def, char **out)
{
	char *v = NULL;
	int rc;

	if (!out)
		return -EINVAL;
	rc = value_or_default(c, group, key, need, def, &v);
	if (rc < 0 || !v)
		return rc;
	*out = g_canonicalize_filename(v, c->dir);
	g_free(v);
	return rc;
}

int cfg_get_enum(const struct cfg *c, const char *group, const char *key, enum cfg_need need,
		 const char *const *choices, int def, int *out)
{
	char *v = NULL;
	GString *all;
	int rc;

	if (!out || !choices)
		return -EINVAL;
	rc = raw_value(c, group, key, need, &v);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*out = def;
		return 1;
	}
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], v) == 0) {
			*out = i;
			g_free(v);
			return 0;
		}
	}
	all = g_string_new(NULL);
	for (int i = 0; choices[i]; i++)
		g_string_append_printf(all, "%s%s", i ? ", " : "", choices[i]);
	key_error(c, group, key, "\"%s\" is not one of: %s", v, all->str);
	g_string_free(all, TRUE);
	g_free(v);
	return -EINVAL;
}
