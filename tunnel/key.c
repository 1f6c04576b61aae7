/* WireGuard keys as text. The base64 coding is branch-free and table-free, so
 * the time it takes does not depend on the private key it handles, and the
 * decoder accepts exactly one spelling of each key (canonical padding bits),
 * so a key compares equal to itself as text too. */
#include "tunnel/key.h"
#include "tunnel/crypto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key file larger than this cannot be one key and some whitespace worth
 * reading; the limit also bounds the buffer that must be wiped. */
#define KEY_FILE_MAX 256

/* 0..63 to its base64 character, computed rather than looked up. Each
 * ((k - v) >> 8) is all ones once v passes k, shifting the run of letters. */
static char b64_char(int v)
{
	return (char)('A' + v + (((25 - v) >> 8) & 6) - (((51 - v) >> 8) & 75) -
	              (((61 - v) >> 8) & 15) + (((62 - v) >> 8) & 3));
}

/* A base64 character to 0..63, or -1. Each range test is all ones when
 * lo <= c <= hi, and then adds the offset that maps c onto its value + 1. */
static int b64_value(unsigned char ch)
{
	int c = ch, v = -1;

	v += ((('A' - 1 - c) & (c - ('Z' + 1))) >> 8) & (c - 64);
	v += ((('a' - 1 - c) & (c - ('z' + 1))) >> 8) & (c - 70);
	v += ((('0' - 1 - c) & (c - ('9' + 1))) >> 8) & (c + 5);
	v += ((('+' - 1 - c) & (c - ('+' + 1))) >> 8) & 63;
	v += ((('/' - 1 - c) & (c - ('/' + 1))) >> 8) & 64;
	return v;
}

void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN])
{
	unsigned int i;

	for (i = 0; i < KEY_LEN / 3; i++) {
		out[i * 4 + 0] = b64_char((key[i * 3 + 0] >> 2) & 63);
		out[i * 4 + 1] = b64_char(((key[i * 3 + 0] << 4) | (key[i * 3 + 1] >> 4)) & 63);
		out[i * 4 + 2] = b64_char(((key[i * 3 + 1] << 2) | (key[i * 3 + 2] >> 6)) & 63);
		out[i * 4 + 3] = b64_char(key[i * 3 + 2] & 63);
	}
	out[i * 4 + 0] = b64_char((key[i * 3 + 0] >> 2) & 63);
	out[i * 4 + 1] = b64_char(((key[i * 3 + 0] << 4) | (key[i * 3 + 1] >> 4)) & 63);
	out[i * 4 + 2] = b64_char((key[i * 3 + 1] << 2) & 63);
	out[i * 4 + 3] = '=';
	out[KEY_B64_LEN] = '\0';
}

int key_from_base64(uint8_t key[KEY_LEN], const char *b64)
{
	uint8_t tmp[KEY_LEN];
	unsigned int i, val;
	int bad = 0, ret = -EINVAL;

	if (!b64 || strnlen(b64, KEY_B64_LEN + 1) != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		goto out;

	for (i = 0; i < KEY_LEN / 3; i++) {
		const unsigned char *q = (const unsigned char *)b64 + i * 4;
		int a = b64_value(q[0]), b = b64_value(q[1]), c = b64_value(q[2]),
		    d = b64_value(q[3]);

		bad |= a | b | c | d; /* negative if any was not base64 */
		val = (unsigned int)a << 18 | (unsigned int)b << 12 | (unsigned int)c << 6 |
		      (unsigned int)d;
		tmp[i * 3 + 0] = (uint8_t)(val >> 16);
		tmp[i * 3 + 1] = (uint8_t)(val >> 8);
		tmp[i * 3 + 2] = (uint8_t)val;
	}
	{
		const unsigned char *q = (const unsigned char *)b64 + i * 4;
		int a = b64_value(q[0]), b = b64_value(q[1]), c = b64_value(q[2]);

		/* The last character carries 4 key bits and 2 padding bits, which
		 * must be zero or the same key would have four spellings. */
		bad |= a | b | c | -(c & 3);
		val = (unsigned int)a << 18 | (unsigned int)b << 12 | (unsigned int)c << 6;
		tmp[i * 3 + 0] = (uint8_t)(val >> 16);
		tmp[i * 3 + 1] = (uint8_t)(val >> 8);
	}
	if (bad < 0)
		goto out;
	memcpy(key, tmp, KEY_LEN);
	ret = 0;
out:
	crypto_wipe(tmp, sizeof(tmp));
	return ret;
}

int key_read_file(uint8_t key[KEY_LEN], const char *path, mode_t *mode)
{
	char buf[KEY_FILE_MAX + 1];
	size_t len = 0;
	struct stat st;
	ssize_t n;
	int fd, ret;

	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer. O_NOCTTY: a terminal named by mistake must not become ours. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (mode)
		*mode = st.st_mode & 07777;
	if (!S_ISREG(st.st_mode)) {
		/* A FIFO or a device would block or never end: only regular files. */
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -ENODEV;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1) {
			ret = -EINVAL; /* too long to be a key */
			goto out;
		}
	}
	while (len && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = '\0';
	/* A NUL among the 44 characters makes key_from_base64 see a short key. */
	ret = len == KEY_B64_LEN ? key_from_base64(key, buf) : -EINVAL;
out:
	crypto_wipe(buf, sizeof(buf));
	close(fd);
	return ret;
}

/* Like wg, warn (but go on) when a secret is about to land in a file that
 * others can read. */
static void warn_world_readable(FILE *out)
{
	struct stat st;

	if (fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n",
		      stderr);
}

/* Prints key as base64 and a newline; 0, or 1 with a message. */
static int print_key(FILE *out, const char *cmd, const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];
	int ret = 0;

	key_to_base64(b64, key);
	if (fprintf(out, "%s\n", b64) < 0 || fflush(out) != 0) {
		fprintf(stderr, "%s: cannot write the key: %s\n", cmd, strerror(errno));
		ret = 1;
	}
	crypto_wipe(b64, sizeof(b64));
	return ret;
}

int key_cmd_genkey(FILE *out)
{
	uint8_t key[KEY_LEN];
	int ret;

	warn_world_readable(out);
	if (crypto_x25519_genkey(key) < 0) {
		fputs("genkey: cannot read random bytes\n", stderr);
		return 1;
	}
	ret = print_key(out, "genkey", key);
	crypto_wipe(key, sizeof(key));
	return ret;
}

int key_cmd_genpsk(FILE *out)
{
	uint8_t key[KEY_LEN];
	int ret;

	warn_world_readable(out);
	if (crypto_random(key, sizeof(key)) < 0) {
		fputs("genpsk: cannot read random bytes\n", stderr);
		return 1;
	}
	ret = print_key(out, "genpsk", key);
	crypto_wipe(key, sizeof(key));
	return ret;
}

int key_cmd_pubkey(FILE *in, FILE *out)
{
	char b64[KEY_B64_LEN + 1] = {0};
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	int c, ret = 1;

	/* As wg pubkey: exactly 44 characters, then only whitespace (a newline
	 * from echo or a key file) or NULs up to the end of the stream. */
	if (fread(b64, 1, KEY_B64_LEN, in) != KEY_B64_LEN) {
		fputs("pubkey: invalid private key: not the correct length or format\n", stderr);
		goto out;
	}
	while ((c = getc(in)) != EOF) {
		if (c && !isspace(c)) {
			fputs("pubkey: invalid private key: trailing characters after the key\n",
			      stderr);
			goto out;
		}
	}
	if (key_from_base64(priv, b64) < 0) {
		fputs("pubkey: invalid private key: not the correct length or format\n", stderr);
		goto out;
	}
	if (crypto_x25519_pubkey(pub, priv) < 0) {
		fputs("pubkey: cannot compute the public key\n", stderr);
		goto out;
	}
	ret = print_key(out, "pubkey", pub);
out:
	crypto_wipe(b64, sizeof(b64));
	crypto_wipe(priv, sizeof(priv));
	return ret;
}
