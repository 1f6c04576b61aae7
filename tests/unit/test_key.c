/* Key text: base64 round trips and strictness, key files, and the
 * genkey/genpsk/pubkey commands against pairs made by `wg genkey | wg pubkey`. */
#include "tests/unit/check.h"
#include "tunnel/crypto.h"
#include "tunnel/key.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Made with wg genkey | tee priv | wg pubkey. */
static const char wg_priv[] = "iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1Y=";
static const char wg_pub[] = "WmZR14d7e86UMBe+Km3fwemrW6siBe2Q2k0OrJUBHjQ=";
/* A private key with the clamped bits set wrong; wg pubkey clamps it. */
static const char wg_unclamped[] = "d/+bvmuYyiTUPdJZFHlhRMwRSyteQ9rn6Bl/3SyKPI4=";
static const char wg_unclamped_pub[] = "j2JAsDEsTOOESmFJWbnPzX9ADL6WmmZZDZYAXqningE=";

static void test_base64(void)
{
	uint8_t key[KEY_LEN], back[KEY_LEN];
	char b64[KEY_B64_LEN + 1], bad[KEY_B64_LEN + 2];
	int i, n;

	CHECK_INT(key_from_base64(key, wg_priv), 0);
	key_to_base64(b64, key);
	CHECK_STR(b64, wg_priv);

	/* Every byte value in every position survives the round trip. */
	for (n = 0; n < 256; n += 32) {
		for (i = 0; i < KEY_LEN; i++)
			key[i] = (uint8_t)(n + i * 7);
		key_to_base64(b64, key);
		CHECK_INT(strlen(b64), KEY_B64_LEN);
		CHECK_INT(b64[KEY_B64_LEN - 1], '=');
		CHECK_INT(key_from_base64(back, b64), 0);
		CHECK_MEM(back, key, KEY_LEN);
	}
	memset(key, 0, sizeof(key));
	key_to_base64(b64, key);
	CHECK_STR(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	memset(key, 0xff, sizeof(key));
	key_to_base64(b64, key);
	CHECK_STR(b64, "//////////////////////////////////////////8=");

	/* Wrong lengths. */
	CHECK_INT(key_from_base64(key, ""), -EINVAL);
	CHECK_INT(key_from_base64(key, "iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1Y"), -EINVAL);
	CHECK_INT(key_from_base64(key, "iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1Y=="), -EINVAL);
	CHECK_INT(key_from_base64(key, "iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1YA"), -EINVAL);
	CHECK_INT(key_from_base64(key, "iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1Y=\n"), -EINVAL);
	CHECK_INT(key_from_base64(key, " iC0vXlHyQvHv+wwVOnjvEJglK+vQpOwB7ZHzTiLjU1Y="), -EINVAL);

	/* A bad character in each position, and URL-safe base64. */
	for (i = 0; i < KEY_B64_LEN - 1; i++) {
		static const char junk[] = "-_ .=\n*\x80";

		strcpy(bad, wg_priv);
		bad[i] = junk[i % (sizeof(junk) - 1)];
		CHECK_INT(key_from_base64(key, bad), -EINVAL);
	}
	/* Non-canonical: the 2 padding bits of the last character must be 0
	 * ('Y' is 24; 'Z', 'a', 'b' spell the same key with padding bits set). */
	strcpy(bad, wg_priv);
	CHECK_INT(bad[42], 'Y');
	bad[42] = 'Z';
	CHECK_INT(key_from_base64(key, bad), -EINVAL);
	bad[42] = 'b';
	CHECK_INT(key_from_base64(key, bad), -EINVAL);
	strcpy(bad, "//////////////////////////////////////////8=");
	CHECK_INT(key_from_base64(key, bad), 0);
	bad[42] = '9';
	CHECK_INT(key_from_base64(key, bad), -EINVAL);
}

static void test_pubkey_matches_wg(void)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	CHECK_INT(key_from_base64(priv, wg_priv), 0);
	CHECK_INT(crypto_x25519_pubkey(pub, priv), 0);
	key_to_base64(b64, pub);
	CHECK_STR(b64, wg_pub);

	CHECK_INT(key_from_base64(priv, wg_unclamped), 0);
	CHECK_INT(crypto_x25519_pubkey(pub, priv), 0);
	key_to_base64(b64, pub);
	CHECK_STR(b64, wg_unclamped_pub);
}

/* Runs key_cmd_pubkey on input; returns its status, output in out. */
static int run_pubkey(const char *input, size_t len, char *out, size_t cap)
{
	FILE *in = fmemopen((void *)input, len, "r");
	FILE *o = fmemopen(out, cap, "w");
	int ret;

	memset(out, 0, cap);
	if (!in || !o)
		return -1;
	ret = key_cmd_pubkey(in, o);
	fclose(in);
	fclose(o);
	return ret;
}

static void test_cmd_pubkey(void)
{
	char out[128], want[64], in[128];

	snprintf(want, sizeof(want), "%s\n", wg_pub);
	CHECK_INT(run_pubkey(wg_priv, strlen(wg_priv), out, sizeof(out)), 0);
	CHECK_STR(out, want);
	snprintf(in, sizeof(in), "%s\n", wg_priv);
	CHECK_INT(run_pubkey(in, strlen(in), out, sizeof(out)), 0);
	CHECK_STR(out, want);
	snprintf(in, sizeof(in), "%s \r\n\n", wg_priv);
	CHECK_INT(run_pubkey(in, strlen(in), out, sizeof(out)), 0);
	CHECK_STR(out, want);

	fputs("(the next three error messages are expected)\n", stderr);
	CHECK_INT(run_pubkey("bad\n", 4, out, sizeof(out)), 1);
	CHECK_STR(out, "");
	snprintf(in, sizeof(in), "%s\nx\n", wg_priv);
	CHECK_INT(run_pubkey(in, strlen(in), out, sizeof(out)), 1);
	CHECK_STR(out, "");
	snprintf(in, sizeof(in), " %s", wg_priv); /* leading space, as wg: refused */
	CHECK_INT(run_pubkey(in, strlen(in), out, sizeof(out)), 1);
}

static void test_cmd_genkey(void)
{
	char out[128], pubout[128];
	uint8_t key[KEY_LEN], other[KEY_LEN];
	FILE *o;

	o = fmemopen(out, sizeof(out), "w");
	CHECK_INT(key_cmd_genkey(o), 0);
	fclose(o);
	CHECK_INT(strlen(out), KEY_B64_LEN + 1);
	CHECK_INT(out[KEY_B64_LEN], '\n');
	out[KEY_B64_LEN] = '\0';
	CHECK_INT(key_from_base64(key, out), 0);
	CHECK_INT(key[0] & 7, 0); /* clamped, as wg genkey's */
	CHECK_INT(key[31] & 0xc0, 0x40);
	out[KEY_B64_LEN] = '\n';
	CHECK_INT(run_pubkey(out, strlen(out), pubout, sizeof(pubout)), 0);
	CHECK_INT(strlen(pubout), KEY_B64_LEN + 1);

	o = fmemopen(out, sizeof(out), "w");
	CHECK_INT(key_cmd_genpsk(o), 0);
	fclose(o);
	CHECK_INT(strlen(out), KEY_B64_LEN + 1);
	out[KEY_B64_LEN] = '\0';
	CHECK_INT(key_from_base64(other, out), 0);
	CHECK(!crypto_equal(key, other, KEY_LEN));
}

/* Writes len bytes of text to a new temporary file; its path goes to path. */
static int write_temp(char *path, const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/test_key.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_text(uint8_t key[KEY_LEN], const char *text, size_t len)
{
	char path[64];
	int ret;

	if (write_temp(path, text, len) < 0)
		return -1000;
	ret = key_read_file(key, path, NULL);
	unlink(path);
	return ret;
}

static void test_read_file(void)
{
	uint8_t key[KEY_LEN], want[KEY_LEN];
	char text[512];

	CHECK_INT(key_from_base64(want, wg_priv), 0);

	snprintf(text, sizeof(text), "%s", wg_priv);
	CHECK_INT(read_text(key, text, strlen(text)), 0);
	CHECK_MEM(key, want, KEY_LEN);
	snprintf(text, sizeof(text), "%s\n", wg_priv);
	memset(key, 0, sizeof(key));
	CHECK_INT(read_text(key, text, strlen(text)), 0);
	CHECK_MEM(key, want, KEY_LEN);
	snprintf(text, sizeof(text), "%s \t\r\n\n", wg_priv);
	CHECK_INT(read_text(key, text, strlen(text)), 0);
	CHECK_MEM(key, want, KEY_LEN);

	CHECK_INT(read_text(key, "", 0), -EINVAL);
	CHECK_INT(read_text(key, "\n", 1), -EINVAL);
	CHECK_INT(read_text(key, "garbage\n", 8), -EINVAL);
	snprintf(text, sizeof(text), " %s\n", wg_priv);
	CHECK_INT(read_text(key, text, strlen(text)), -EINVAL);
	snprintf(text, sizeof(text), "%s\n%s\n", wg_priv, wg_priv);
	CHECK_INT(read_text(key, text, strlen(text)), -EINVAL);
	snprintf(text, sizeof(text), "%s", wg_priv);
	text[10] = '\0'; /* a NUL inside the key */
	CHECK_INT(read_text(key, text, KEY_B64_LEN), -EINVAL);
	memset(text, ' ', sizeof(text)); /* long, even if only whitespace after */
	memcpy(text, wg_priv, KEY_B64_LEN);
	CHECK_INT(read_text(key, text, sizeof(text)), -EINVAL);

	CHECK_INT(key_read_file(key, "/nonexistent/egress/key", NULL), -ENOENT);
	CHECK_INT(key_read_file(key, "/tmp", NULL), -EISDIR);
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_key: reading a key file hung (a FIFO opened blocking?)\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

/* The mode is that of the file read, and only a regular file is read: a FIFO
 * fails at once, with or without a writer, as do a directory and a device. */
static void test_read_file_kinds(void)
{
	char dir[] = "/tmp/test_key.XXXXXX", path[64], fifo[64], text[64];
	uint8_t key[KEY_LEN], want[KEY_LEN], zero[KEY_LEN] = {0};
	mode_t mode = 0;
	int w;

	CHECK_INT(key_from_base64(want, wg_priv), 0);
	snprintf(text, sizeof(text), "%s\n", wg_priv);
	CHECK_INT(write_temp(path, text, strlen(text)), 0);
	CHECK_INT(chmod(path, 0640), 0);
	CHECK_INT(key_read_file(key, path, &mode), 0);
	CHECK_MEM(key, want, KEY_LEN);
	CHECK_INT(mode, 0640);
	CHECK_INT(chmod(path, 0600), 0);
	CHECK_INT(key_read_file(key, path, &mode), 0);
	CHECK_INT(mode, 0600);
	CHECK_INT(chmod(path, 0644), 0);
	CHECK_INT(key_read_file(key, path, &mode), 0);
	CHECK_INT(mode, 0644);
	unlink(path);

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	/* A blocking open of a FIFO without a writer never returns. */
	signal(SIGALRM, on_alarm);
	alarm(5);
	memset(key, 0, sizeof(key));
	CHECK_INT(key_read_file(key, fifo, &mode), -ENODEV);
	CHECK_INT(mode, 0600);
	/* With a writer and a key in the pipe, still refused and not read. */
	w = open(fifo, O_RDWR | O_NONBLOCK);
	CHECK(w >= 0);
	CHECK_INT(write(w, text, strlen(text)), strlen(text));
	CHECK_INT(key_read_file(key, fifo, NULL), -ENODEV);
	CHECK_MEM(key, zero, KEY_LEN);
	close(w);
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	CHECK_INT(key_read_file(key, dir, &mode), -EISDIR);
	CHECK_INT(mode, 0700);
	CHECK_INT(key_read_file(key, "/dev/null", NULL), -ENODEV);
	unlink(fifo);
	rmdir(dir);
}

int main(void)
{
	test_base64();
	test_pubkey_matches_wg();
	test_cmd_pubkey();
	test_cmd_genkey();
	test_read_file();
	test_read_file_kinds();
	return check_done("test_key");
}
