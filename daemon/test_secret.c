/* Unit tests for daemon/secret.{h,c}: real files under a mkdtemp directory, every error
 * message captured and checked. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/secret.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/mm-secret-XXXXXX";
static char path[256];

/* Write text to dir/name with mode; path gets the full name. */
static const char *put(const char *name, const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* Expect secret_load_hex to fail with rc and one log line containing want (with FILE
 * replaced by the path). */
static void hex_fails(const char *file, size_t cap, int rc, const char *want)
{
	uint8_t key[64];
	size_t len = 77;
	const char *log;
	char *w;
	GString *g = g_string_new(want);

	g_string_replace(g, "FILE", file, 0);
	w = g_string_free(g, FALSE);
	memset(key, 0xee, sizeof(key));
	capture_start();
	CHECK_EQ_U64(secret_load_hex(file, key, cap, SECRET_MIN_KEY_LEN, &len), (uint64_t)rc);
	log = capture_end();
	CHECK_ONE_LINE(log, w);
	CHECK(strncmp(log, "<3>", 3) == 0);
	CHECK_EQ_U64(len, 77);
	CHECK_EQ_U64(key[0], 0xee);
	g_free(w);
}

static void test_hex(void)
{
	static const uint8_t want[16] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	};
	uint8_t key[64];
	size_t len = 0;
	char link[300], file[256];

	put("mn.key", "00112233445566778899aabbccddeeff\n", 0600);
	CHECK_EQ_U64(secret_load_hex(path, key, sizeof(key), 16, &len), 0);
	CHECK_EQ_U64(len, 16);
	CHECK_MEM(key, want, 16);
	put("mn2.key", "# the MN-HA key\n\n  00112233445566778899AABBCCDDEEFF  \r\n\n", 0400);
	len = 0;
	CHECK_EQ_U64(secret_load_hex(path, key, sizeof(key), 16, &len), 0);
	CHECK_EQ_U64(len, 16);
	CHECK_MEM(key, want, 16);
	/* a symlink to a good file is followed (the target's mode counts) */
	snprintf(file, sizeof(file), "%s/mn.key", dir);
	snprintf(link, sizeof(link), "%s/link.key", dir);
	CHECK(symlink(file, link) == 0);
	CHECK_EQ_U64(secret_load_hex(link, key, sizeof(key), 16, &len), 0);

	put("group.key", "00112233445566778899aabbccddeeff\n", 0640);
	hex_fails(path, 64, -EPERM, "key file FILE is accessible by group or others (mode 0640): "
		  "chmod 600 FILE\n");
	put("world.key", "00112233445566778899aabbccddeeff\n", 0604);
	hex_fails(path, 64, -EPERM, "(mode 0604): chmod 600 FILE\n");
	put("exec.key", "00112233445566778899aabbccddeeff\n", 0601);
	hex_fails(path, 64, -EPERM, "chmod 600 FILE\n");
	hex_fails(dir, 64, -EPERM, "key file FILE is not a regular file\n");
	/* larger than SECRET_MAX_FILE (sparse: nothing is written): refused before reading */
	put("huge.key", "", 0600);
	CHECK(truncate(path, (off_t)SECRET_MAX_FILE + 1) == 0);
	hex_fails(path, 64, -EFBIG, "key file FILE is too large (67108865 bytes; at most "
		  "67108864)\n");
	snprintf(file, sizeof(file), "%s/absent.key", dir);
	hex_fails(file, 64, -ENOENT, "cannot open key file FILE: No such file or directory\n");

	put("short.key", "0011223344556677\n", 0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is 8 bytes; at least 16 are required\n");
	put("long.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\n",
	    0600);
	hex_fails(path, 32, -EINVAL, "key in FILE is 33 bytes; at most 32 fit\n");
	put("bad.key", "00112233445566778899aabbccddeezz\n", 0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is not valid hex (an even number of 0-9a-f "
		  "digits)\n");
	put("odd.key", "00112233445566778899aabbccddeeff0\n", 0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is not valid hex");
	put("0x.key", "0x00112233445566778899aabbccddeeff\n", 0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is not valid hex");
	put("two.key", "00112233445566778899aabbccddeeff\n00112233445566778899aabbccddeeff\n",
	    0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is not valid hex (expected one line of hex "
		  "digits)\n");
	put("spaced.key", "0011223344556677 8899aabbccddeeff\n", 0600);
	hex_fails(path, 64, -EINVAL, "key in FILE is not valid hex");
	put("empty.key", "", 0600);
	hex_fails(path, 64, -EINVAL, "FILE holds no key\n");
	put("comment.key", "# nothing here\n\n", 0600);
	hex_fails(path, 64, -EINVAL, "FILE holds no key\n");
	CHECK_EQ_U64(secret_load_hex(NULL, key, 64, 16, &len), (uint64_t)-EINVAL);
}

struct collected {
	int n;
	struct in_addr home[8];
	uint32_t spi[8];
	uint8_t key[8][64];
	size_t key_len[8];
	unsigned line[8];
	int fail_at;
};

static int collect(void *user, struct in_addr home, uint32_t spi, const uint8_t *key,
		   size_t key_len, unsigned line)
{
	struct collected *c = user;

	if (c->n == c->fail_at)
		return -ECANCELED;
	c->home[c->n] = home;
	c->spi[c->n] = spi;
	memcpy(c->key[c->n], key, key_len);
	c->key_len[c->n] = key_len;
	c->line[c->n] = line;
	c->n++;
	return 0;
}

static void table_fails(const char *text, int rc, const char *want)
{
	struct collected col = { .fail_at = -1 };
	const char *log;
	char *w;
	GString *g = g_string_new(want);

	put("ha.keys", text, 0600);
	g_string_replace(g, "FILE", path, 0);
	w = g_string_free(g, FALSE);
	capture_start();
	CHECK_EQ_U64(secret_load_keys_table(path, collect, &col), (uint64_t)rc);
	log = capture_end();
	CHECK_ONE_LINE(log, w);
	CHECK_EQ_U64(col.n, 0);   /* a bad line means no callback at all */
	g_free(w);
}

static void test_table(void)
{
	struct collected col = { .fail_at = -1 };
	struct in_addr a;
	const char *log;
	static const char good[] =
		"# HOME-ADDRESS SPI HEXKEY\n"
		"198.18.1.100 1000 00112233445566778899aabbccddeeff\n"
		"\n"
		"198.18.1.100\t1001\t00112233445566778899aabbccddeeff0011  # roll-over\n"
		"   198.18.1.101 256 "
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"
		"198.18.1.102 4294967295 ffffffffffffffffffffffffffffffff";

	put("ha.keys", good, 0600);
	CHECK_EQ_U64(secret_load_keys_table(path, collect, &col), 4);
	CHECK_EQ_U64(col.n, 4);
	inet_pton(AF_INET, "198.18.1.100", &a);
	CHECK_EQ_U64(col.home[0].s_addr, a.s_addr);
	CHECK_EQ_U64(col.spi[0], 1000);
	CHECK_EQ_U64(col.key_len[0], 16);
	CHECK_EQ_U64(col.key[0][15], 0xff);
	CHECK_EQ_U64(col.line[0], 2);
	CHECK_EQ_U64(col.spi[1], 1001);
	CHECK_EQ_U64(col.key_len[1], 18);
	CHECK_EQ_U64(col.line[1], 4);
	CHECK_EQ_U64(col.key_len[2], 64);
	CHECK_EQ_U64(col.key[2][63], 0x3f);
	CHECK_EQ_U64(col.spi[3], 4294967295u);
	CHECK_EQ_U64(col.line[3], 6);

	/* An empty table is not an error here (the daemon decides) */
	put("empty.keys", "# none yet\n", 0600);
	CHECK_EQ_U64(secret_load_keys_table(path, collect, &col), 0);

	/* A callback error stops loading and is returned */
	col.n = 0;
	col.fail_at = 1;
	put("ha.keys", good, 0600);
	CHECK_EQ_U64(secret_load_keys_table(path, collect, &col), (uint64_t)-ECANCELED);
	CHECK_EQ_U64(col.n, 1);

	table_fails("198.18.1.100 1000\n", -EINVAL,
		    "FILE:1: expected HOME-ADDRESS SPI HEXKEY, found 2 fields\n");
	table_fails("# x\n198.18.1.100 1000 00112233445566778899aabbccddeeff extra\n", -EINVAL,
		    "FILE:2: expected HOME-ADDRESS SPI HEXKEY, found 4 fields\n");
	table_fails("198.18.1 1000 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:1: \"198.18.1\" is not an IPv4 address\n");
	table_fails("\n\n198.18.1.100 12 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:3: SPI 12 is reserved (must be >= 256)\n");
	table_fails("198.18.1.100 0x100 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:1: SPI \"0x100\" is not a decimal number\n");
	table_fails("198.18.1.100 4294967296 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:1: SPI 4294967296 is out of range (256..4294967295)\n");
	table_fails("198.18.1.100 1000 00112233445566778899aabbccddeeZZ\n", -EINVAL,
		    "FILE:1: key is not valid hex (an even number of 0-9a-f digits)\n");
	table_fails("198.18.1.100 1000 0011223344556677\n", -EINVAL,
		    "FILE:1: key is 8 bytes; at least 16 are required\n");
	table_fails("198.18.1.100 1000 "
		    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40\n",
		    -EINVAL, "FILE:1: key is 65 bytes; at most 64 fit\n");
	table_fails("198.18.1.100 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.101 1000 00112233445566778899aabbccddeeff\n"
		    "# again\n"
		    "198.18.1.100 1000 ffeeddccbbaa99887766554433221100\n", -EINVAL,
		    "FILE:4: 198.18.1.100 SPI 1000 is already defined on line 1\n");
	/* The first repeated line in file order is named even when another pair sorts first. */
	table_fails("198.18.1.100 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.200 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.200 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.50 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.100 1000 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:3: 198.18.1.200 SPI 1000 is already defined on line 2\n");
	table_fails("198.18.1.100 7000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.100 7000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.100 7001 00112233445566778899aabbccddeeff\n"
		    "198.18.1.100 7000 00112233445566778899aabbccddeeff\n", -EINVAL,
		    "FILE:2: 198.18.1.100 SPI 7000 is already defined on line 1\n");
	/* Same SPI, other home address; same home address, other SPI: both fine. */
	{
		struct collected pairs = { .fail_at = -1 };

		put("pairs.keys", "198.18.1.100 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.101 1000 00112233445566778899aabbccddeeff\n"
		    "198.18.1.100 1001 00112233445566778899aabbccddeeff\n", 0600);
		CHECK_EQ_U64(secret_load_keys_table(path, collect, &pairs), 3);
		CHECK_EQ_U64(pairs.line[2], 3);
	}

	put("open.keys", good, 0644);
	capture_start();
	CHECK_EQ_U64(secret_load_keys_table(path, collect, &col), (uint64_t)-EPERM);
	log = capture_end();
	CHECK_ONE_LINE(log, "chmod 600 ");
	CHECK_EQ_U64(secret_load_keys_table(path, NULL, &col), (uint64_t)-EINVAL);
}

static void cleanup(void)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		char *p = g_build_filename(dir, name, NULL);

		unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	rmdir(dir);
}

int main(void)
{
	g_set_prgname("test");
	CHECK(mkdtemp(dir) != NULL);
	test_hex();
	test_table();
	cleanup();
	CHECK(access(dir, F_OK) < 0);
	capture_free();
	return tap_done();
}
