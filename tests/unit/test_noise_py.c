/* tunnel/noise.c against tests/kat/wg_handshake.py, the handshake written
 * again from the whitepaper in Python over python3-cryptography and hashlib,
 * on inputs that are new each run: both static and both ephemeral keys, the
 * PSK (or none), the timestamp, both indexes and a cookie. Every message and
 * transport key must be the same bytes on both sides. test_noise.c pins one
 * such run so that it needs no Python; this test needs python3 and
 * python3-cryptography (scripts/deps.sh) and fails, saying so, without them. */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/unit/check.h"
#include "tunnel/noise.h"

#define SCRIPT TEST_DATA_DIR "/../kat/wg_handshake.py"
/* Debian's interpreter, where python3-cryptography installs: a python3 first
 * on PATH (a pyenv one, say) may not have the module. */
#define PYTHON "/usr/bin/python3"
#define ROUNDS 6

struct inputs {
	uint8_t a_static[32], b_static[32], a_ephemeral[32], b_ephemeral[32], psk[32];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN], cookie[NOISE_COOKIE_LEN];
	uint32_t a_index, b_index;
	bool has_psk;
};

struct outputs {
	struct noise_msg_init init, init_cookie;
	struct noise_msg_resp resp;
	uint8_t initiator_send[32], initiator_recv[32];
};

static const struct noise_remote *lookup(void *arg, const uint8_t pub[CRYPTO_KEY_LEN])
{
	const struct noise_remote *known = arg;

	return memcmp(known->pub, pub, CRYPTO_KEY_LEN) == 0 ? known : NULL;
}

/* Appends " --name HEX" to the command line cmd of size cap. */
static void add_arg(char *cmd, size_t cap, const char *name, const uint8_t *p, size_t len)
{
	size_t n = strlen(cmd);

	n += (size_t)snprintf(cmd + n, cap - n, " --%s ", name);
	for (size_t i = 0; i < len && n + 3 < cap; i++)
		n += (size_t)snprintf(cmd + n, cap - n, "%02x", p[i]);
}

static void random_inputs(struct inputs *in, bool has_psk)
{
	memset(in, 0, sizeof(*in));
	CHECK_INT(crypto_random(in->a_static, 32), 0);
	CHECK_INT(crypto_random(in->b_static, 32), 0);
	CHECK_INT(crypto_random(in->a_ephemeral, 32), 0);
	CHECK_INT(crypto_random(in->b_ephemeral, 32), 0);
	CHECK_INT(crypto_random(in->timestamp, sizeof(in->timestamp)), 0);
	CHECK_INT(crypto_random(in->cookie, sizeof(in->cookie)), 0);
	CHECK_INT(crypto_random(&in->a_index, sizeof(in->a_index)), 0);
	CHECK_INT(crypto_random(&in->b_index, sizeof(in->b_index)), 0);
	in->has_psk = has_psk;
	if (has_psk)
		CHECK_INT(crypto_random(in->psk, 32), 0);
}

/* What tunnel/noise.c makes of the inputs, A initiating to B. */
static void run_c(const struct inputs *in, struct outputs *out)
{
	struct noise_local la, lb;
	struct noise_remote a_b, b_a;
	struct noise_handshake hsa = {0}, hsb = {0};
	struct noise_keys ka, kb;
	const struct noise_remote *remote = NULL;
	const uint8_t *psk = in->has_psk ? in->psk : NULL;
	uint8_t ts[NOISE_TIMESTAMP_LEN];

	CHECK_INT(noise_local_init(&la, in->a_static), 0);
	CHECK_INT(noise_local_init(&lb, in->b_static), 0);
	CHECK_INT(noise_remote_init(&a_b, &la, lb.pub, psk), 0);
	CHECK_INT(noise_remote_init(&b_a, &lb, la.pub, psk), 0);
	CHECK_INT(noise_init_create_with(&out->init, &hsa, &la, &a_b, in->a_index, in->a_ephemeral,
	                                 in->timestamp),
	          0);
	noise_macs_add(&out->init, sizeof(out->init), a_b.mac1_key, NULL, NULL);
	out->init_cookie = out->init;
	noise_macs_add(&out->init_cookie, sizeof(out->init_cookie), a_b.mac1_key, in->cookie, NULL);
	CHECK_INT(noise_init_consume(&out->init, &lb, lookup, &b_a, &hsb, &remote, ts), 0);
	CHECK_MEM(ts, in->timestamp, sizeof(ts));
	CHECK_INT(noise_resp_create_with(&out->resp, &hsb, &b_a, in->b_index, in->b_ephemeral), 0);
	noise_macs_add(&out->resp, sizeof(out->resp), b_a.mac1_key, NULL, NULL);
	CHECK_INT(noise_resp_consume(&out->resp, &hsa, &la, &a_b), 0);
	CHECK_INT(noise_derive_keys(&ka, &hsa), 0);
	CHECK_INT(noise_derive_keys(&kb, &hsb), 0);
	CHECK_MEM(ka.send, kb.recv, 32);
	CHECK_MEM(ka.recv, kb.send, 32);
	memcpy(out->initiator_send, ka.send, 32);
	memcpy(out->initiator_recv, ka.recv, 32);
}

/* The script's command line for the inputs. */
static void command(char *cmd, size_t cap, const struct inputs *in)
{
	static const uint8_t no_psk[32];

	snprintf(cmd, cap, PYTHON " '%s' --init-index %u --resp-index %u", SCRIPT, in->a_index,
	         in->b_index);
	add_arg(cmd, cap, "init-static", in->a_static, 32);
	add_arg(cmd, cap, "resp-static", in->b_static, 32);
	add_arg(cmd, cap, "init-ephemeral", in->a_ephemeral, 32);
	add_arg(cmd, cap, "resp-ephemeral", in->b_ephemeral, 32);
	add_arg(cmd, cap, "psk", in->has_psk ? in->psk : no_psk, 32);
	add_arg(cmd, cap, "timestamp", in->timestamp, sizeof(in->timestamp));
	add_arg(cmd, cap, "cookie", in->cookie, sizeof(in->cookie));
}

/* What the script, run as cmd, makes of the inputs. False, having said why,
 * when it did not run or did not print every output. */
static bool run_python(const char *cmd, struct outputs *out)
{
	const struct {
		const char *name;
		void *p;
		size_t len;
	} fields[] = {
	        {"initiation", &out->init, sizeof(out->init)},
	        {"initiation_cookie", &out->init_cookie, sizeof(out->init_cookie)},
	        {"response", &out->resp, sizeof(out->resp)},
	        {"initiator_send", out->initiator_send, 32},
	        {"initiator_recv", out->initiator_recv, 32},
	};
	const size_t nfields = sizeof(fields) / sizeof(fields[0]);
	char line[1024];
	unsigned seen = 0;
	FILE *f;
	int status;

	f = popen(cmd, "r");
	if (!f) {
		perror("test_noise_py: popen");
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		size_t i;

		for (i = 0; sp && i < nfields; i++) {
			if ((size_t)(sp - line) == strlen(fields[i].name) &&
			    strncmp(line, fields[i].name, (size_t)(sp - line)) == 0)
				break;
		}
		if (!sp || i == nfields || strlen(sp + 1) != 2 * fields[i].len + 1 ||
		    check_unhex(fields[i].p, fields[i].len, sp + 1) != fields[i].len) {
			fprintf(stderr, "test_noise_py: the script printed: %s", line);
			continue;
		}
		seen |= 1u << i;
	}
	status = pclose(f);
	if (status != 0 || seen != (1u << nfields) - 1) {
		fprintf(stderr,
		        "test_noise_py: FAILED to run the reference (exit status %d, outputs 0x%x):"
		        " %s\ntest_noise_py: it needs python3 and python3-cryptography;"
		        " scripts/deps.sh installs them\n",
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1, seen, cmd);
		return false;
	}
	return true;
}

int main(void)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct inputs in;
		struct outputs c, py;
		char cmd[2048];
		bool ran;

		random_inputs(&in, round % 2);
		command(cmd, sizeof(cmd), &in);
		run_c(&in, &c);
		ran = run_python(cmd, &py);
		CHECK(ran);
		if (!ran)
			break;
		CHECK_MEM(&c.init, &py.init, sizeof(c.init));
		CHECK_MEM(&c.init_cookie, &py.init_cookie, sizeof(c.init_cookie));
		CHECK_MEM(&c.resp, &py.resp, sizeof(c.resp));
		CHECK_MEM(c.initiator_send, py.initiator_send, 32);
		CHECK_MEM(c.initiator_recv, py.initiator_recv, 32);
		/* The structs are all bytes, no padding. */
		if (memcmp(&c, &py, sizeof(c)) != 0)
			fprintf(stderr, "test_noise_py: to reproduce: %s\n", cmd);
	}
	return check_done("test_noise_py");
}
